import { DEFAULT_TOLERANCE, Tolerance } from './compare';
import { DType, DTYPE_SIZE, DTYPES, isFloat } from './dtype';

/** A kernel argument as stored: a scalar passed by value, or a buffer passed by pointer. */
export type KernelArg =
  | { name: string; kind: 'scalar'; dtype: DType; value: number | string }
  | { name: string; kind: 'buffer'; dtype: DType; shape: number[]; dir: 'in' | 'out' | 'inout'; range: [number, number] };

export interface KernelVerifySpec {
  kind: 'kernel';
  entry: string;
  /** How the entry point is declared: C linkage, or C++ linkage (name mangling). */
  linkage?: 'c' | 'c++';
  args: KernelArg[];
  tolerance: Tolerance;
  seed: number;
  timeoutMs: number;
}

export interface ProgramVerifySpec {
  kind: 'program';
  args: string[];
  stdin: string;
  /** What the program must print and return; when absent, the reference build's output is expected. */
  expect: { stdout: string | null; exitCode: number | null } | null;
  timeoutMs: number;
}

/** A model's outputs against ONNX Runtime on the same seeded inputs. */
export interface ModelVerifySpec {
  kind: 'model';
  tolerance: Tolerance;
  seed: number;
  timeoutMs: number;
}

export type VerifySpec = KernelVerifySpec | ProgramVerifySpec | ModelVerifySpec;

/** ONNX Runtime's own test tolerances: a compiled model is compared with it at these. */
export const MODEL_TOLERANCE: Tolerance = { rtol: 1e-3, atol: 1e-5, maxUlp: null };

/** The "verify" of a model job: true, or { tolerance, seed, timeoutMs }. */
export function normalizeModelVerify(raw: unknown): ModelVerifySpec | null {
  if (raw === undefined || raw === null || raw === false) return null;
  if (raw === true) return { kind: 'model', tolerance: { ...MODEL_TOLERANCE }, seed: 1, timeoutMs: DEFAULT_VERIFY_TIMEOUT_MS };
  if (typeof raw !== 'object' || Array.isArray(raw)) fail('for a model, verify is true or { "tolerance": ..., "seed": ..., "timeoutMs": ... }');
  const v = raw as Record<string, unknown>;
  for (const k of Object.keys(v)) if (!['tolerance', 'seed', 'timeoutMs'].includes(k)) fail(`"${k}" does not apply to a model (use tolerance, seed, timeoutMs)`);
  const seed = v.seed ?? 1;
  if (!Number.isInteger(seed) || (seed as number) < 0 || (seed as number) > 2 ** 32 - 1) fail('"seed" must be a whole number from 0 to 4294967295');
  const t = v.tolerance === undefined ? { ...MODEL_TOLERANCE } : toleranceFor(v.tolerance, ['float32']);
  if (v.tolerance !== undefined && (v.tolerance as Record<string, unknown>).rtol === undefined) t.rtol = MODEL_TOLERANCE.rtol;
  if (v.tolerance !== undefined && (v.tolerance as Record<string, unknown>).atol === undefined) t.atol = MODEL_TOLERANCE.atol;
  return { kind: 'model', tolerance: t, seed: seed as number, timeoutMs: timeout(v.timeoutMs) };
}

export class VerifySpecError extends Error {}

const IDENT = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;
const C_KEYWORDS = new Set(['int', 'float', 'double', 'char', 'void', 'return', 'if', 'else', 'for', 'while', 'main', 'struct', 'const', 'static', 'unsigned', 'signed', 'long', 'short', 'auto', 'register', 'extern', 'sizeof', 'typedef', 'union', 'enum', 'goto', 'break', 'continue', 'switch', 'case', 'default', 'do', 'volatile', 'inline', 'restrict']);
/** Inputs and outputs together; a kernel check is about numbers, not about moving gigabytes. */
export const MAX_BUFFER_BYTES = 64 * 1024 * 1024;
export const MAX_VERIFY_TIMEOUT_MS = 120_000;
export const DEFAULT_VERIFY_TIMEOUT_MS = 20_000;

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

function timeout(raw: unknown): number {
  if (raw === undefined || raw === null) return DEFAULT_VERIFY_TIMEOUT_MS;
  if (typeof raw !== 'number' || !Number.isInteger(raw) || raw < 100 || raw > MAX_VERIFY_TIMEOUT_MS) fail(`timeoutMs must be a whole number from 100 to ${MAX_VERIFY_TIMEOUT_MS}`);
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

/** Checks a client's "verify" object and turns it into what is stored. Throws VerifySpecError. */
export function normalizeVerify(raw: unknown): VerifySpec | null {
  if (raw === undefined || raw === null || raw === false) return null;
  if (typeof raw !== 'object' || Array.isArray(raw)) fail('must be an object with "entry" and "args" (a kernel) or "program"');
  const v = raw as Record<string, unknown>;
  // A misspelt field (say "tolerence") must not silently fall back to defaults.
  const known = v.program !== undefined ? ['program', 'timeoutMs'] : ['entry', 'linkage', 'args', 'tolerance', 'seed', 'timeoutMs'];
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
    return { kind: 'program', args: args as string[], stdin, expect, timeoutMs: timeout(p.timeoutMs ?? v.timeoutMs) };
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
    if (!DTYPES.includes(dtype)) fail(`argument "${name}": type must be one of ${DTYPES.join(', ')}, or a pointer such as "float32*"`);
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
    return { name, kind: 'buffer', dtype, shape: shape as number[], dir, range } as KernelArg;
  });
  if (!args.some((a) => a.kind === 'buffer' && a.dir !== 'in')) fail('at least one pointer argument must be "out" or "inout": that is what is compared');
  const seed = v.seed ?? 1;
  if (!Number.isInteger(seed) || (seed as number) < 0 || (seed as number) > 2 ** 32 - 1) fail('"seed" must be a whole number from 0 to 4294967295');
  const dtypes = args.filter((a) => a.kind === 'buffer' && a.dir !== 'in').map((a) => a.dtype);
  const linkage = v.linkage ?? undefined;
  if (linkage !== undefined && linkage !== 'c' && linkage !== 'c++') fail('"linkage" must be "c" or "c++"');
  return { kind: 'kernel', entry, ...(linkage ? { linkage } : {}), args, tolerance: toleranceFor(v.tolerance, dtypes), seed: seed as number, timeoutMs: timeout(v.timeoutMs) };
}
