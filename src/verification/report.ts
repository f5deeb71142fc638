import type { ModelProfile } from '../../compiler/src/profile';
import type { OutputComparison } from './compare';

/** What a runner found: stored on the build, shown by GET /v1/jobs/{id}, and kept as report.json. */
/**
 * passed and failed are verdicts on the outputs. unfinished: the run went past its time limit,
 * so nothing was compared. not-run: no runner that can run the code served its pool within the
 * job's device wait; the build keeps its artifacts, unproven.
 */
export const VERIFICATION_STATUSES = ['passed', 'failed', 'unfinished', 'not-run'] as const;
export type VerificationStatus = (typeof VERIFICATION_STATUSES)[number];

export interface VerificationReport {
  status: VerificationStatus;
  /** How the code was run: native, qemu-aarch64, wasm (node WASI), ... */
  runner: string;
  worker: string;
  /** What was checked: a kernel, a whole program, or a compiled model against ONNX Runtime. */
  kind: 'kernel' | 'program' | 'model';
  /** One line that says why it failed, naming the output and the worst element. */
  summary: string;
  reference: string;
  seed: number | null;
  runMs: number;
  outputs: OutputComparison[];
  program?: {
    exitCode: number | null;
    signal: string | null;
    timedOut: boolean;
    stdout: string;
    stderr: string;
    expectedStdout: string | null;
    expectedExitCode: number | null;
    wallMs: number;
    peakMemoryKb: number | null;
  };
  /**
   * What ran: the file's name in the bundle, its sha256, and the artifact of the build with the
   * same bytes (the delivered executable a program check ran, else the bundle's own program).
   */
  ran?: { file: string; sha256: string; artifact: string | null };
  /** A model job that asked for a profile: the build's per-kernel times on this runner, or why there are none. */
  profile?: ModelProfile;
  profileError?: string;
}
