import { DEFAULT_TOLERANCE, Tolerance } from './compare';
import { DType, DTYPE_SIZE, DTYPES, isFloat } from './dtype';

/** A kernel argument as stored: a scalar passed by value, or a buffer passed by pointer. */
export type KernelArg =
  | { name: string; kind: 'scalar'; dtype: DType; value: number | string }
  | {
      name: string;
      kind: 'buffer';
      dtype: DType;
      shape: number[];
      dir: 'in' | 'out' | 'inout';
      range: [number, number];
      /** An uploaded tensor (raw little-endian bytes) used as this in/inout buffer instead of seeded random numbers. */
      input?: UploadRef;
      /** An uploaded tensor that this out/inout buffer must equal (within the tolerance) after the call. */
      expected?: UploadRef;
    };

export interface UploadRef {
  uploadId: string;
}

/**
 * A separate reference source: built for the worker's host, with the same language, entry and
 * harness, instead of the job's own sources. Options are the job's unless given.
 */
export interface ReferenceSource {
  files: { path: string; content?: string; uploadId?: string }[];
  options: string[];
  /** The reference's language when it is not the job's: C or C++ for a CUDA kernel (a host function with the same signature). */
  language?: 'c' | 'c++';
}

/** How a CUDA kernel is launched: grid and block dimensions, and dynamic shared memory in bytes. */
export interface KernelLaunch {
  grid: [number, number, number];
  block: [number, number, number];
  sharedBytes: number;
}

/** What every kind of check may set. */
interface WaitSpec {
  /**
   * How long a compiled build may wait, seconds, while no live runner serves its pool (a GPU of
   * its architecture, say); then it ends with its artifacts and verification not-run. Absent:
   * the service's default (KILN_VERIFY_DEVICE_WAIT_SECONDS).
   */
  deviceWaitSeconds?: number;
}

export interface KernelVerifySpec extends WaitSpec {
  kind: 'kernel';
  entry: string;
  /** How the entry point is declared: C linkage, or C++ linkage (name mangling). */
  linkage?: 'c' | 'c++';
  args: KernelArg[];
  tolerance: Tolerance;
  seed: number;
  timeoutMs: number;
  reference?: ReferenceSource;
  /** A CUDA kernel's launch configuration (CUDA sources only). */
  launch?: KernelLaunch;
}

export interface ProgramVerifySpec extends WaitSpec {
  kind: 'program';
  args: string[];
  stdin: string;
  /** What the program must print and return; when absent, the reference build's output is expected. */
  expect: { stdout: string | null; exitCode: number | null } | null;
  timeoutMs: number;
  reference?: ReferenceSource;
}

/** A model's outputs against ONNX Runtime on the same seeded inputs. */
export interface ModelVerifySpec extends WaitSpec {
  kind: 'model';
  tolerance: Tolerance;
  seed: number;
  /** Absent: the limit follows the work (the model's FLOPs and the runner's speed, see modelVerifyTimeoutMs). */
  timeoutMs?: number;
  /**
   * Set when the job gave no atol: each float output's atol is then this fraction of the largest
   * magnitude in its reference (MODEL_ATOL_SCALE), so that the check means the same for outputs
   * near 1e-9 and near 10 (a fixed atol would pass anything in the first case).
   */
  atolScale?: number;
  /** Also profile the build on its runner: per kernel times (see compiler/src/profile.ts); `runs` timed runs, by default as many as the runner's speed allows. */
  profile?: { runs?: number };
}

/** Timed runs of a profile at most (and the default natively; fewer under an emulator or as WebAssembly). */
export const MAX_PROFILE_RUNS = 100;

export type VerifySpec = KernelVerifySpec | ProgramVerifySpec | ModelVerifySpec;

/** ONNX Runtime's own test tolerances: a compiled model is compared with it at these. */
export const MODEL_TOLERANCE: Tolerance = { rtol: 1e-3, atol: 1e-5, maxUlp: null };

/** A model output's atol, when the job sets none: this fraction of the largest magnitude in its reference. */
export const MODEL_ATOL_SCALE = 1e-4;

/** A float output's tolerance when the job set no atol: atol scaled to the reference's largest finite magnitude (unchanged where that is 0). */
export function scaledTolerance(t: Tolerance, scale: number | undefined, reference: ArrayLike<number>): Tolerance {
  if (scale === undefined) return t;
  let max = 0;
  for (let i = 0; i < reference.length; i++) {
    const v = Math.abs(reference[i]);
    if (Number.isFinite(v) && v > max) max = v;
  }
  return max > 0 ? { ...t, atol: scale * max } : t;
}

/** The "verify" of a model job: true, or { tolerance, seed, timeoutMs }. */
export function normalizeModelVerify(raw: unknown): ModelVerifySpec | null {
  if (raw === undefined || raw === null || raw === false) return null;
  if (raw === true) return { kind: 'model', tolerance: { ...MODEL_TOLERANCE }, seed: 1, atolScale: MODEL_ATOL_SCALE };
  if (typeof raw !== 'object' || Array.isArray(raw)) fail('for a model, verify is true or { "tolerance": ..., "seed": ..., "timeoutMs": ..., "deviceWaitSeconds": ..., "profile": ... }');
  const v = raw as Record<string, unknown>;
  for (const k of Object.keys(v)) if (!['tolerance', 'seed', 'timeoutMs', 'deviceWaitSeconds', 'profile'].includes(k)) fail(`"${k}" does not apply to a model (use tolerance, seed, timeoutMs, deviceWaitSeconds, profile)`);
  const profile = modelProfile(v.profile);
  const seed = v.seed ?? 1;
  if (!Number.isInteger(seed) || (seed as number) < 0 || (seed as number) > 2 ** 32 - 1) fail('"seed" must be a whole number from 0 to 4294967295');
  const t = v.tolerance === undefined ? { ...MODEL_TOLERANCE } : toleranceFor(v.tolerance, ['float32']);
  if (v.tolerance !== undefined && (v.tolerance as Record<string, unknown>).rtol === undefined) t.rtol = MODEL_TOLERANCE.rtol;
  if (v.tolerance !== undefined && (v.tolerance as Record<string, unknown>).atol === undefined) t.atol = MODEL_TOLERANCE.atol;
  const atolGiven = v.tolerance !== undefined && (v.tolerance as Record<string, unknown>).atol !== undefined;
  return { kind: 'model', tolerance: t, seed: seed as number, ...(atolGiven ? {} : { atolScale: MODEL_ATOL_SCALE }), ...(v.timeoutMs === undefined || v.timeoutMs === null ? {} : { timeoutMs: timeout(v.timeoutMs, MAX_MODEL_VERIFY_TIMEOUT_MS) }), ...deviceWait(v.deviceWaitSeconds), ...(profile ? { profile } : {}) };
}

/** verify.profile of a model job: true, false, or { "runs": N }. */
function modelProfile(raw: unknown): { runs?: number } | null {
  if (raw === undefined || raw === null || raw === false) return null;
  if (raw === true) return {};
  if (typeof raw !== 'object' || Array.isArray(raw)) fail('"profile" is true, false or { "runs": N }');
  const p = raw as Record<string, unknown>;
  for (const k of Object.keys(p)) if (k !== 'runs') fail(`"profile.${k}" is not known (use runs)`);
  if (p.runs === undefined) return {};
  if (!Number.isInteger(p.runs) || (p.runs as number) < 1 || (p.runs as number) > MAX_PROFILE_RUNS) fail(`"profile.runs" must be a whole number from 1 to ${MAX_PROFILE_RUNS}`);
  return { runs: p.runs as number };
}

export class VerifySpecError extends Error {}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const IDENT = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;
const C_KEYWORDS = new Set(['int', 'float', 'double', 'char', 'void', 'return', 'if', 'else', 'for', 'while', 'main', 'struct', 'const', 'static', 'unsigned', 'signed', 'long', 'short', 'auto', 'register', 'extern', 'sizeof', 'typedef', 'union', 'enum', 'goto', 'break', 'continue', 'switch', 'case', 'default', 'do', 'volatile', 'inline', 'restrict']);
/** Inputs and outputs together; a kernel check is about numbers, not about moving gigabytes. */
export const MAX_BUFFER_BYTES = 64 * 1024 * 1024;
export const MAX_VERIFY_TIMEOUT_MS = 120_000;
export const DEFAULT_VERIFY_TIMEOUT_MS = 20_000;
/** A large model under an emulator runs for many minutes (the Whisper-tiny encoder under qemu-riscv64: about 26). */
export const MAX_MODEL_VERIFY_TIMEOUT_MS = 3_600_000;

/**
 * How fast each runner computes a compiled model, in FLOP/s, taken well below what was measured
 * (ResNet-18, 3.6 GFLOP, on a 2-core x86_64 host: 0.1 to 0.35 s natively, 0.8 s as wasm32 with
 * SIMD under Node, 11 s under qemu-aarch64, 35 s under qemu-arm with NEON, 150 s under
 * qemu-riscv64 with RVV, each alone; with the public model zoo's 70 builds queued at once on the
 * same two cores, ResNet-18 under qemu-aarch64 took over 65 s), so that a run is stopped when
 * something is wrong, not because the machine was busy.
 */
export const RUNNER_FLOPS_PER_SECOND = { native: 0.5e9, wasm: 0.1e9, 'qemu-x86_64': 0.02e9, 'qemu-aarch64': 0.02e9, 'qemu-arm': 0.01e9, 'qemu-riscv64': 0.005e9 } as const;

export type RunnerSpeed = keyof typeof RUNNER_FLOPS_PER_SECOND;

/**
 * A model run's time limit when the job sets none: the default, plus the time its FLOPs take on
 * the runner at RUNNER_FLOPS_PER_SECOND, up to MAX_MODEL_VERIFY_TIMEOUT_MS.
 */
export function modelVerifyTimeoutMs(flops: number, runner: RunnerSpeed): number {
  const ms = DEFAULT_VERIFY_TIMEOUT_MS + Math.ceil((flops / RUNNER_FLOPS_PER_SECOND[runner]) * 1000);
  return Math.min(MAX_MODEL_VERIFY_TIMEOUT_MS, Math.max(DEFAULT_VERIFY_TIMEOUT_MS, ms));
}

function fail(msg: string): never {
  throw new VerifySpecError(`verify: ${msg}`);
}

function toleranceFor(raw: unknown, dtypes: DType[]): Tolerance {
  const floats = dtypes.filter(isFloat);
  const base = floats.includes('float32') || floats.length === 0 ? DEFAULT_TOLERANCE.float32 : DEFAULT_TOLERANCE.float64;
  if (raw === undefined || raw === null) return { ...base };
  if (typeof raw !== 'object') fail('"tolerance" must be an object such as {"rtol": 1e-5, "atol": 1e-6}');
  const t = raw as Record<string, unknown>;
  for (const k of Object.keys(t)) if (!['rtol', 'atol', 'maxUlp'].includes(k)) fail(`tolerance has no field "${k}" (use rtol, atol, maxUlp)`);
  const num = (k: string, d: number | null) => {
    const v = t[k];
    if (v === undefined || v === null) return d;
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) fail(`tolerance.${k} must be a number >= 0`);
    return v;
  };
  return { rtol: num('rtol', base.rtol)!, atol: num('atol', base.atol)!, maxUlp: num('maxUlp', null) };
}

/** The longest device wait a job may ask for: a week. */
export const MAX_DEVICE_WAIT_SECONDS = 7 * 24 * 3600;

function deviceWait(raw: unknown): { deviceWaitSeconds?: number } {
  if (raw === undefined || raw === null) return {};
  if (typeof raw !== 'number' || !Number.isInteger(raw) || raw < 0 || raw > MAX_DEVICE_WAIT_SECONDS) fail(`deviceWaitSeconds must be a whole number of seconds from 0 to ${MAX_DEVICE_WAIT_SECONDS}`);
  return { deviceWaitSeconds: raw };
}

function timeout(raw: unknown, max = MAX_VERIFY_TIMEOUT_MS): number {
  if (raw === undefined || raw === null) return DEFAULT_VERIFY_TIMEOUT_MS;
  if (typeof raw !== 'number' || !Number.isInteger(raw) || raw < 100 || raw > max) fail(`timeoutMs must be a whole number from 100 to ${max}`);
  return raw;
}

function scalarValue(name: string, dtype: DType, v: unknown): number | string {
  if (isFloat(dtype)) {
    if (typeof v !== 'number' || !Number.isFinite(v)) fail(`argument "${name}" (${dtype}) needs a finite "value"`);
    return v;
  }
  const big = typeof v === 'string' && /^-?\d+$/.test(v) ? BigInt(v) : typeof v === 'number' && Number.isInteger(v) ? BigInt(v) : null;
  if (big === null) fail(`argument "${name}" (${dtype}) needs a whole-number "value"`);
  const bits = BigInt(DTYPE_SIZE[dtype] * 8);
  const signed = dtype.startsWith('int');
  const min = signed ? -(1n << (bits - 1n)) : 0n;
  const max = signed ? (1n << (bits - 1n)) - 1n : (1n << bits) - 1n;
  if (big < min || big > max) fail(`argument "${name}": ${big} does not fit in ${dtype}`);
  return bits === 64n ? big.toString() : Number(big);
}

/**
 * Checks a client's "verify" object and turns it into what is stored. Throws VerifySpecError.
 * `jobOptions` are the job's compiler options: a reference source without options gets them.
 * `language` is the job's: a CUDA kernel also needs its launch, and, having no host build, a
 * reference source in C or C++ or expected outputs; a CUDA program needs program.expect.
 */
export function normalizeVerify(raw: unknown, jobOptions: string[] = [], language = 'c'): VerifySpec | null {
  const cuda = language === 'cuda';
  if (raw === undefined || raw === null || raw === false) return null;
  if (typeof raw !== 'object' || Array.isArray(raw)) fail('must be an object with "entry" and "args" (a kernel) or "program"');
  const v = raw as Record<string, unknown>;
  // A misspelt field (say "tolerence") must not silently fall back to defaults.
  const known = v.program !== undefined ? ['program', 'reference', 'timeoutMs', 'deviceWaitSeconds'] : ['entry', 'linkage', 'args', 'tolerance', 'seed', 'timeoutMs', 'deviceWaitSeconds', 'reference', ...(cuda ? ['launch'] : [])];
  const unknownKeys = Object.keys(v).filter((k) => !known.includes(k));
  if (unknownKeys.length) fail(`unknown field${unknownKeys.length > 1 ? 's' : ''} ${unknownKeys.map((k) => `"${k}"`).join(', ')} (a ${v.program !== undefined ? 'program' : 'kernel'} check takes ${known.join(', ')})`);

  if (v.program !== undefined) {
    const p = v.program as Record<string, unknown>;
    if (!p || typeof p !== 'object') fail('"program" must be an object');
    const unknownProgram = Object.keys(p).filter((k) => !['args', 'stdin', 'expect', 'timeoutMs'].includes(k));
    if (unknownProgram.length) fail(`program has no field ${unknownProgram.map((k) => `"${k}"`).join(', ')} (use args, stdin, expect, timeoutMs)`);
    const args = p.args ?? [];
    if (!Array.isArray(args) || args.length > 64 || args.some((a) => typeof a !== 'string' || a.length > 4096 || a.includes('\0'))) {
      fail('program.args must be a list of at most 64 strings');
    }
    const stdin = p.stdin ?? '';
    if (typeof stdin !== 'string' || stdin.length > 1024 * 1024) fail('program.stdin must be a string of at most 1 MiB');
    let expect: ProgramVerifySpec['expect'] = null;
    if (p.expect !== undefined && p.expect !== null) {
      const e = p.expect as Record<string, unknown>;
      if (typeof e !== 'object') fail('program.expect must be an object such as {"stdout": "42\\n", "exitCode": 0}');
      if (e.stdout !== undefined && typeof e.stdout !== 'string') fail('program.expect.stdout must be a string');
      if (e.exitCode !== undefined && (!Number.isInteger(e.exitCode) || (e.exitCode as number) < 0 || (e.exitCode as number) > 255)) fail('program.expect.exitCode must be 0 to 255');
      expect = { stdout: (e.stdout as string | undefined) ?? null, exitCode: (e.exitCode as number | undefined) ?? null };
      if (expect.stdout === null && expect.exitCode === null) fail('program.expect needs "stdout", "exitCode" or both');
    }
    if (cuda && !expect) fail('a CUDA program runs only on a GPU, so there is no reference build to compare with: give program.expect (stdout, exitCode or both)');
    if (cuda && v.reference !== undefined) fail('a CUDA program is checked against program.expect, not a reference source');
    const reference = referenceSource(v.reference, jobOptions, false);
    if (reference && expect) fail('"reference" and program.expect both say what the program must print; give one');
    return { kind: 'program', args: args as string[], stdin, expect, timeoutMs: timeout(p.timeoutMs ?? v.timeoutMs), ...deviceWait(v.deviceWaitSeconds), ...(reference ? { reference } : {}) };
  }

  const entry = v.entry;
  if (typeof entry !== 'string' || !IDENT.test(entry) || C_KEYWORDS.has(entry)) fail('"entry" must name the C function to call (a C identifier other than main)');
  if (!Array.isArray(v.args) || v.args.length === 0 || v.args.length > 32) fail('"args" must list the entry\'s 1 to 32 arguments in order');
  const names = new Set<string>();
  let bytes = 0;
  const args: KernelArg[] = v.args.map((a: unknown, i: number) => {
    if (!a || typeof a !== 'object') fail(`args[${i}] must be an object such as {"name": "n", "type": "int32", "value": 1000}`);
    const o = a as Record<string, unknown>;
    const name = o.name;
    if (typeof name !== 'string' || !IDENT.test(name) || C_KEYWORDS.has(name)) fail(`args[${i}].name must be a C identifier`);
    if (names.has(name)) fail(`argument "${name}" is listed twice`);
    names.add(name);
    const type = o.type;
    const pointer = typeof type === 'string' && type.endsWith('*');
    const dtype = (pointer ? (type as string).slice(0, -1) : type) as DType;
    if (!(DTYPES as readonly string[]).includes(dtype)) fail(`argument "${name}": type must be one of ${DTYPES.join(', ')}, or a pointer such as "float32*"`);
    if (!pointer) {
      if (o.shape !== undefined || o.dir !== undefined) fail(`argument "${name}" is a scalar: give "value", not "shape" or "dir"`);
      return { name, kind: 'scalar', dtype, value: scalarValue(name, dtype, o.value) } as KernelArg;
    }
    const shape = o.shape;
    if (!Array.isArray(shape) || shape.length === 0 || shape.length > 8 || shape.some((d) => !Number.isInteger(d) || d < 1)) {
      fail(`argument "${name}" is a pointer: "shape" must list 1 to 8 positive whole numbers`);
    }
    const count = (shape as number[]).reduce((a, b) => a * b, 1);
    bytes += count * DTYPE_SIZE[dtype];
    if (bytes > MAX_BUFFER_BYTES) fail(`buffers add up to more than ${MAX_BUFFER_BYTES} bytes`);
    const dir = o.dir ?? 'in';
    if (dir !== 'in' && dir !== 'out' && dir !== 'inout') fail(`argument "${name}": "dir" must be in, out or inout`);
    let range: [number, number] = isFloat(dtype) ? [-1, 1] : dtype.startsWith('u') ? [0, 100] : [-100, 100];
    if (o.range !== undefined) {
      const r = o.range;
      if (!Array.isArray(r) || r.length !== 2 || r.some((x) => typeof x !== 'number' || !Number.isFinite(x)) || r[0] > r[1]) {
        fail(`argument "${name}": "range" must be [min, max]`);
      }
      range = [r[0], r[1]];
    }
    const input = uploadRef(name, 'input', o.input);
    if (input && dir === 'out') fail(`argument "${name}" is "out": it has no input to upload (make it "inout")`);
    if (input && o.range !== undefined) fail(`argument "${name}": give "range" (seeded random inputs) or "input" (an uploaded tensor), not both`);
    const expected = uploadRef(name, 'expected', o.expected);
    if (expected && dir === 'in') fail(`argument "${name}" is "in": only "out" and "inout" arguments are compared, so only they take "expected"`);
    return { name, kind: 'buffer', dtype, shape: shape as number[], dir, range, ...(input ? { input } : {}), ...(expected ? { expected } : {}) } as KernelArg;
  });
  if (!args.some((a) => a.kind === 'buffer' && a.dir !== 'in')) fail('at least one pointer argument must be "out" or "inout": that is what is compared');
  const outputs = args.filter((a): a is Extract<KernelArg, { kind: 'buffer' }> => a.kind === 'buffer' && a.dir !== 'in');
  const withExpected = outputs.filter((a) => a.expected);
  if (withExpected.length > 0 && withExpected.length < outputs.length) {
    const without = outputs.filter((a) => !a.expected).map((a) => `"${a.name}"`);
    fail(`give "expected" for every out/inout argument or for none: ${without.join(', ')} ha${without.length > 1 ? 've' : 's'} none (without uploaded expected outputs, a reference build says what is right)`);
  }
  const reference = referenceSource(v.reference, jobOptions, cuda);
  if (reference && withExpected.length > 0) fail('"reference" and uploaded "expected" outputs both say what is right; give one');
  if (cuda && !reference && withExpected.length === 0) {
    fail('a CUDA kernel runs only on a GPU, so there is no host build of it to compare with: give "reference" (C or C++ source of a host function with the same signature, {"language": "c++", "files": [...]}) or "expected" outputs for every out/inout argument');
  }
  const seed = v.seed ?? 1;
  if (!Number.isInteger(seed) || (seed as number) < 0 || (seed as number) > 2 ** 32 - 1) fail('"seed" must be a whole number from 0 to 4294967295');
  const dtypes = args.filter((a) => a.kind === 'buffer' && a.dir !== 'in').map((a) => a.dtype);
  const linkage = v.linkage ?? undefined;
  if (linkage !== undefined && linkage !== 'c' && linkage !== 'c++') fail('"linkage" must be "c" or "c++"');
  const launch = cuda ? kernelLaunch(v.launch) : undefined;
  return { kind: 'kernel', entry, ...(linkage ? { linkage } : {}), args, tolerance: toleranceFor(v.tolerance, dtypes), seed: seed as number, timeoutMs: timeout(v.timeoutMs), ...deviceWait(v.deviceWaitSeconds), ...(reference ? { reference } : {}), ...(launch ? { launch } : {}) };
}

/** verify.launch of a CUDA kernel: {"grid": [x, y?, z?], "block": [x, y?, z?], "sharedBytes"?: n}, within CUDA's limits. */
function kernelLaunch(raw: unknown): KernelLaunch {
  const example = '{"grid": [256], "block": [256]}';
  if (raw === undefined || raw === null) fail(`a CUDA kernel needs "launch", its grid and block dimensions, such as ${example}`);
  const r = raw as Record<string, unknown>;
  if (typeof raw !== 'object' || Array.isArray(raw)) fail(`"launch" must be an object such as ${example}`);
  const extra = Object.keys(r).filter((k) => !['grid', 'block', 'sharedBytes'].includes(k));
  if (extra.length) fail(`launch has no field ${extra.map((k) => `"${k}"`).join(', ')} (use grid, block, sharedBytes)`);
  const dims = (name: 'grid' | 'block', max: number[]): [number, number, number] => {
    const d = r[name];
    if (!Array.isArray(d) || d.length < 1 || d.length > 3 || d.some((x, i) => !Number.isInteger(x) || x < 1 || x > max[i])) {
      fail(`launch.${name} must list 1 to 3 whole numbers from 1 to ${max.join(', ')} (x, y, z)`);
    }
    const v = d as number[];
    return [v[0], v[1] ?? 1, v[2] ?? 1];
  };
  const grid = dims('grid', [2 ** 31 - 1, 65535, 65535]);
  const block = dims('block', [1024, 1024, 64]);
  if (block[0] * block[1] * block[2] > 1024) fail(`launch.block has ${block[0] * block[1] * block[2]} threads; a block holds at most 1024`);
  const shared = r.sharedBytes ?? 0;
  if (!Number.isInteger(shared) || (shared as number) < 0 || (shared as number) > 228 * 1024) fail('launch.sharedBytes must be a whole number of bytes from 0 to 233472');
  return { grid, block, sharedBytes: shared as number };
}

function uploadRef(arg: string, field: 'input' | 'expected', raw: unknown): UploadRef | undefined {
  if (raw === undefined || raw === null) return undefined;
  const r = raw as Record<string, unknown>;
  if (typeof raw !== 'object' || Array.isArray(raw) || Object.keys(r).some((k) => k !== 'uploadId') || typeof r.uploadId !== 'string' || !UUID.test(r.uploadId)) {
    fail(`argument "${arg}": "${field}" must be {"uploadId": "<the id of an upload>"}`);
  }
  return { uploadId: (r.uploadId as string).toLowerCase() };
}

/**
 * The shape of verify.reference. Its paths and options get the very checks of a job's source
 * where the API knows the language (normalizeSource); here only its form is checked.
 */
function referenceSource(raw: unknown, jobOptions: string[], otherLanguage: boolean): ReferenceSource | undefined {
  if (raw === undefined || raw === null) return undefined;
  const r = raw as Record<string, unknown>;
  if (typeof raw !== 'object' || Array.isArray(raw)) fail('"reference" must be an object such as {"files": [{"path": "ref.c", "content": "..."}], "options": ["-O2"]}');
  const fields = otherLanguage ? ['files', 'options', 'language'] : ['files', 'options'];
  const unknownKeys = Object.keys(r).filter((k) => !fields.includes(k));
  if (unknownKeys.length) fail(`reference has no field ${unknownKeys.map((k) => `"${k}"`).join(', ')} (use ${fields.join(', ')})`);
  const language = otherLanguage ? (r.language ?? 'c++') : undefined;
  if (language !== undefined && language !== 'c' && language !== 'c++') fail('reference.language must be "c" or "c++" (the host function the kernel is compared with)');
  if (!Array.isArray(r.files) || r.files.length === 0) fail('reference.files must list at least one file, each {"path": ..., "content": ...} or {"path": ..., "uploadId": ...}');
  const files = (r.files as unknown[]).map((f, i) => {
    const o = f as Record<string, unknown>;
    if (!f || typeof f !== 'object' || Array.isArray(f)) fail(`reference.files[${i}] must be an object with "path" and "content" or "uploadId"`);
    const extra = Object.keys(o).filter((k) => !['path', 'content', 'uploadId'].includes(k));
    if (extra.length) fail(`reference.files[${i}] has no field ${extra.map((k) => `"${k}"`).join(', ')} (use path, content, uploadId)`);
    if (typeof o.path !== 'string' || o.path.length > 255) fail(`reference.files[${i}].path must be a relative path of at most 255 characters`);
    const hasContent = o.content !== undefined && o.content !== null;
    const hasUpload = o.uploadId !== undefined && o.uploadId !== null;
    if (hasContent === hasUpload) fail(`reference.files[${i}] ("${o.path}"): give exactly one of "content" or "uploadId"`);
    if (hasContent && typeof o.content !== 'string') fail(`reference.files[${i}].content must be text`);
    if (hasUpload && (typeof o.uploadId !== 'string' || !UUID.test(o.uploadId))) fail(`reference.files[${i}].uploadId must be the id of an upload`);
    return hasContent ? { path: o.path as string, content: o.content as string } : { path: o.path as string, uploadId: (o.uploadId as string).toLowerCase() };
  });
  if (r.options !== undefined && r.options !== null && (!Array.isArray(r.options) || r.options.length > 64 || r.options.some((x) => typeof x !== 'string'))) {
    fail('reference.options must be a list of at most 64 compiler options');
  }
  // A reference in another language does not take the job's options (nvcc's are not clang's).
  return { files, options: (r.options as string[] | undefined | null) ?? (language ? [] : [...jobOptions]), ...(language ? { language: language as 'c' | 'c++' } : {}) };
}

/** Every upload a verification spec names (inputs, expected outputs, reference files). */
export function verifyUploadIds(spec: VerifySpec | null): string[] {
  if (!spec || spec.kind === 'model') return [];
  const ids: string[] = [];
  if (spec.kind === 'kernel') {
    for (const a of spec.args) {
      if (a.kind !== 'buffer') continue;
      if (a.input) ids.push(a.input.uploadId);
      if (a.expected) ids.push(a.expected.uploadId);
    }
  }
  for (const f of spec.reference?.files ?? []) if (f.uploadId) ids.push(f.uploadId);
  return [...new Set(ids)];
}
