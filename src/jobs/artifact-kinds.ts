import type { ArtifactKind } from '../database/entities/job.entity';

export const ARTIFACT_KINDS: readonly ArtifactKind[] = ['object', 'executable', 'shared', 'assembly', 'llvm-ir'];
export const DEFAULT_OUTPUTS: ArtifactKind[] = ['object'];
