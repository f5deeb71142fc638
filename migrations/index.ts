import { Initial1764374400000 } from './1764374400000-Initial';
import { Verification1764460800000 } from './1764460800000-Verification';
import { ModelJobs1764547200000 } from './1764547200000-ModelJobs';
import { BuildCache1764633600000 } from './1764633600000-BuildCache';
import { WebhooksScopesQuotas1764720000000 } from './1764720000000-WebhooksScopesQuotas';

import { IdempotencyFingerprint1764806400000 } from './1764806400000-IdempotencyFingerprint';
import { ObjectReferences1764892800000 } from './1764892800000-ObjectReferences';
import { BuildEventNotify1764979200000 } from './1764979200000-BuildEventNotify';
import { ApiKeyNotify1765065600000 } from './1765065600000-ApiKeyNotify';
import { BuildEventOrder1765152000000 } from './1765152000000-BuildEventOrder';

/** Every migration, in order. Listed explicitly so the build never depends on file globs. */
export const MIGRATIONS = [Initial1764374400000, Verification1764460800000, ModelJobs1764547200000, BuildCache1764633600000, WebhooksScopesQuotas1764720000000, IdempotencyFingerprint1764806400000, ObjectReferences1764892800000, BuildEventNotify1764979200000, ApiKeyNotify1765065600000, BuildEventOrder1765152000000];
