import type { ArtifactKind, ModelInput, SourceInput } from '../../src/database/entities/job.entity';
import type { Diagnostic } from '../../src/jobs/diagnostic';
import type { TargetSpec } from '../../src/targets/catalog';
import type { CanonicalTarget } from '../../src/targets/target';
import type { VerifySpec } from '../../src/verification/spec';
import type { SandboxExecutor } from '../sandbox/executor';

export interface TargetProbe {
  target: string;
  available: boolean;
  /** Why not, in words a person can act on. */
  reason?: string;
  cpus: string[];
  /** Target features the toolchain knows (LLVM names), when it can say. */
  features?: string[];
}

export interface ToolchainProbe {
  key: string;
  version: string;
  targets: TargetProbe[];
}

export interface CompileRequest {
  source: SourceInput;
  /** Set for a model build: the compiler turns the model into C first. */
  model?: ModelInput | null;
  /** For a model build: the most nodes a model may hold (KILN_MODEL_MAX_NODES), checked again before it is decoded. */
  modelMaxNodes?: number;
  target: CanonicalTarget;
  spec: TargetSpec;
  outputs: ArtifactKind[];
  /** Host folder holding src/ (the sources, as the client named them) and out/: the sandbox's /work. */
  workdir: string;
  /**
   * Host folder of the worker's own that no sandboxed step can write: the verification bundle is
   * put together here, and reference runs get fresh folders below it.
   */
  stage: string;
  timeoutMs: number;
  signal?: AbortSignal;
  /** When set, the build also produces a verification bundle. */
  verify: VerifySpec | null;
}

/** The files of a verification bundle, in a folder of the stage (never in the work folder). */
export interface CompiledBundle {
  dir: string;
  files: { name: string; hostPath: string }[];
}

export interface ProducedArtifact {
  kind: ArtifactKind;
  name: string;
  hostPath: string;
  contentType: string;
}

export interface CompileResult {
  ok: boolean;
  diagnostics: Diagnostic[];
  log: string;
  /** Wall time spent in toolchain processes. */
  toolchainMs: number;
  artifacts: ProducedArtifact[];
  /** Why it failed, in one line. */
  failureReason?: string;
  canceled?: boolean;
  bundle?: CompiledBundle;
}

/**
 * One toolchain (a compiler family and its version). Each has a static key, unique in the
 * registry; the worker probes it at start-up and only offers what the probe proved works.
 */
export interface Toolchain {
  readonly key: string;
  readonly languages: readonly string[];
  /** `scratch` is a folder under the worker's work root, where the probe may write. */
  probe(exec: SandboxExecutor, scratch: string): Promise<ToolchainProbe | null>;
  compile(req: CompileRequest, exec: SandboxExecutor): Promise<CompileResult>;
}
