import { ApiKey } from './api-key.entity';
import { Artifact } from './artifact.entity';
import { BuildEvent } from './build-event.entity';
import { Build } from './build.entity';
import { Job } from './job.entity';
import { Tenant } from './tenant.entity';
import { Upload } from './upload.entity';
import { WebhookDelivery } from './webhook-delivery.entity';

export { ApiKey, Artifact, Build, BuildEvent, Job, Tenant, Upload, WebhookDelivery };
export const ENTITIES = [Tenant, ApiKey, Upload, Job, Build, BuildEvent, Artifact, WebhookDelivery];
