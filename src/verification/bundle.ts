import type { Tolerance } from './compare';
import type { DType } from './dtype';

/**
 * What a verification runner needs, and nothing else: the program to run, its inputs, what the
 * reference produced, and how to compare. Everything is a file in one folder, so a bundle can be
 * downloaded and verified by hand on any machine with the runner (no database, no queue).
 */
export interface BundleManifest {
  version: 1;
  kind: 'kernel' | 'program';
  target: string;
  /** For GPU code: the architecture (sm_90) whose GPU must run it. */
  device?: string;
  /** The file to run, relative to the bundle folder. */
  program: string;
  timeoutMs: number;
  /** Kernel: inputs.bin in, outputs.bin out, compared with expected.bin. */
  outputs?: { name: string; dtype: DType; count: number; /** This output's own, when it differs from `tolerance` (half-precision outputs). */ tolerance?: Tolerance }[];
  tolerance?: Tolerance;
  seed?: number;
  entry?: string;
  /** Program: its arguments and standard input, and what it must print and return. */
  args?: string[];
  stdin?: string;
  expect?: { stdout: string | null; exitCode: number | null };
  /** Where the expectation came from: the client, or a reference build on the named host. */
  reference: string;
  /** What the job checks: a kernel or program check, or a compiled model against ONNX Runtime (run as a kernel check). */
  check?: 'kernel' | 'program' | 'model';
  /** A model build that is also profiled: its profiling program (run after the check, with no arguments) and what is known without running it. */
  profile?: ProfileManifest;
}

export interface ProfileManifest {
  program: string;
  timeoutMs: number;
  /** How the runner's times read: natively, under an emulator, or as WebAssembly. */
  clock: 'native' | 'emulated' | 'wasm';
  runs: number;
  warmup: number;
  kernels: { label: string; nodes: string[]; ops: string[]; flops: number }[];
  flops: number;
  weightsBytes: number;
  activationBytes: number;
  codeBytes: number;
}

export const BUNDLE_FILES = {
  manifest: 'manifest.json',
  inputs: 'inputs.bin',
  expected: 'expected.bin',
  outputs: 'outputs.bin',
  /** Written by a kernel or model harness after its outputs are closed: it got to its end. */
  done: 'outputs.bin.done',
  report: 'report.json',
  /** Written by the run: the program's peak memory in kB (whole-program checks). */
  peakMemory: 'peak-memory.txt',
};
