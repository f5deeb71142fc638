import type { ArtifactKind } from '../database/entities/job.entity';

export const ARTIFACT_KINDS: readonly ArtifactKind[] = ['object', 'executable', 'shared', 'static', 'assembly', 'llvm-ir', 'ptx', 'cubin', 'fatbin', 'code-object', 'header', 'c-source', 'metadata'];
/** What a client may ask for: header, C source and metadata come with every model build. */
export const REQUESTABLE_OUTPUTS: readonly ArtifactKind[] = ['object', 'executable', 'shared', 'static', 'assembly', 'llvm-ir', 'ptx', 'cubin', 'fatbin', 'code-object'];
export const MODEL_OUTPUTS: readonly ArtifactKind[] = ['object', 'shared', 'static', 'assembly', 'llvm-ir'];
export const DEFAULT_OUTPUTS: ArtifactKind[] = ['object'];
