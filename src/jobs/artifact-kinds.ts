import type { ArtifactKind } from '../database/entities/job.entity';

export const ARTIFACT_KINDS: readonly ArtifactKind[] = ['object', 'executable', 'shared', 'static', 'assembly', 'llvm-ir', 'ptx', 'cubin', 'fatbin', 'code-object', 'header', 'c-source', 'metadata', 'weights'];
/** What a client may ask for: header, C source and metadata come with every model build. */
export const REQUESTABLE_OUTPUTS: readonly ArtifactKind[] = ['object', 'executable', 'shared', 'static', 'assembly', 'llvm-ir', 'ptx', 'cubin', 'fatbin', 'code-object'];
export const MODEL_OUTPUTS: readonly ArtifactKind[] = ['object', 'shared', 'static', 'assembly', 'llvm-ir'];
/**
 * What a model build for an NVIDIA GPU gives: the kernels as PTX, cubin or a fat binary, and the
 * host code with the C entry point (an x86-64 object, static or shared library, CUDA runtime
 * linked statically into the shared one).
 */
export const GPU_MODEL_OUTPUTS: readonly ArtifactKind[] = ['ptx', 'cubin', 'fatbin', 'object', 'static', 'shared'];
/** What every model build gives besides the outputs asked for (weights: model.weights.bin, raw bytes the source reads, where the source does not embed them). */
export const MODEL_SIDE_FILES: readonly ArtifactKind[] = ['header', 'c-source', 'metadata', 'weights'];
export const DEFAULT_OUTPUTS: ArtifactKind[] = ['object'];
