import type { OutputComparison } from './compare';

/** What a runner found: stored on the build, shown by GET /v1/jobs/{id}, and kept as report.json. */
export interface VerificationReport {
  status: 'passed' | 'failed';
  /** How the code was run: native, qemu-aarch64, wasm (node WASI), ... */
  runner: string;
  worker: string;
  kind: 'kernel' | 'program';
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
}
