/**
 * Element types narrower than the IR's, taken at a graph's edges and by Cast and CastLike only:
 * the four float8 formats and float4e2m1, held as float32 inside (every value one the format
 * has), and int4, uint4, int2 and uint2, held as int8 and uint8. At the entry point and in files a
 * float8 element is its byte; the 4-bit types are two to a byte and the 2-bit ones four, the first
 * in the low bits (the rest of a last, partial byte zero), as ONNX stores them.
 */
export type Float8 = 'float8e4m3fn' | 'float8e4m3fnuz' | 'float8e5m2' | 'float8e5m2fnuz';
export type PackedFloat = Float8 | 'float4e2m1';
export type PackedInt = 'int4' | 'uint4' | 'int2' | 'uint2';
export type Packed = PackedFloat | PackedInt;

export const PACKED: readonly Packed[] = ['float8e4m3fn', 'float8e4m3fnuz', 'float8e5m2', 'float8e5m2fnuz', 'float4e2m1', 'int4', 'uint4', 'int2', 'uint2'];

export function isPackedFloat(p: Packed): p is PackedFloat {
  return p.startsWith('float');
}

/** Bits per element. */
export function packedBits(p: Packed): number {
  return p.startsWith('float8') ? 8 : p.endsWith('2') && !p.startsWith('float') ? 2 : 4;
}

/** The bytes `count` elements take at the edges. */
export function packedBytes(p: Packed, count: number): number {
  return Math.ceil((count * packedBits(p)) / 8);
}

/** The IR type a packed type is held in. */
export function packedHeldType(p: Packed): 'float32' | 'int8' | 'uint8' {
  return isPackedFloat(p) ? 'float32' : p.startsWith('u') ? 'uint8' : 'int8';
}

/**
 * A small float format: exponent and mantissa widths, bias, its largest finite value; `uz`
 * formats have no negative zero (their one NaN is 0x80), `inf` ones infinities; `nan` is the code
 * a NaN becomes (or'd with the sign where the format has signed NaNs). float4e2m1 has no NaN: a
 * NaN becomes 0x8, its -0, and it always saturates.
 */
interface Format {
  e: number;
  m: number;
  bias: number;
  max: number;
  uz: boolean;
  inf: boolean;
  nan: number;
  /** Saturates whatever Cast's saturate says (the attribute is float8's). */
  saturates?: boolean;
}

export const MINIFLOAT: Record<PackedFloat, Format> = {
  float8e4m3fn: { e: 4, m: 3, bias: 7, max: 448, uz: false, inf: false, nan: 0x7f },
  float8e4m3fnuz: { e: 4, m: 3, bias: 8, max: 240, uz: true, inf: false, nan: 0x80 },
  float8e5m2: { e: 5, m: 2, bias: 15, max: 57344, uz: false, inf: true, nan: 0x7e },
  float8e5m2fnuz: { e: 5, m: 2, bias: 16, max: 57344, uz: true, inf: false, nan: 0x80 },
  float4e2m1: { e: 2, m: 1, bias: 1, max: 6, uz: false, inf: false, nan: 0x8, saturates: true },
};

/** floor(log2(a)) for a finite a > 0, exactly. */
function ilog2(a: number): number {
  let e = Math.floor(Math.log2(a));
  if (2 ** e > a) e--;
  else if (2 ** (e + 1) <= a) e++;
  return e;
}

/**
 * A float rounded to a small float format (to nearest, ties to even), as ONNX's Cast defines it:
 * with saturate, what is beyond the largest finite value (infinities included) becomes it;
 * without, infinity (float8e5m2) or NaN. NaN stays NaN (float4e2m1: -0); -0 is +0 in the uz formats.
 */
export function roundMinifloat(kind: PackedFloat, v: number, saturate: boolean): number {
  const f = MINIFLOAT[kind];
  if (Number.isNaN(v)) return kind === 'float4e2m1' ? -0 : NaN;
  const sign = v < 0 || Object.is(v, -0) ? -1 : 1;
  const a = Math.abs(v);
  const over = () => (saturate || f.saturates ? sign * f.max : f.inf ? sign * Infinity : NaN);
  if (a === Infinity) return over();
  if (a === 0) return f.uz ? 0 : sign * 0;
  const q = 2 ** (Math.max(ilog2(a), 1 - f.bias) - f.m);
  const n = a / q;
  let r = Math.round(n);
  if (r - n === 0.5 && r % 2 === 1) r--; // ties to even (Math.round takes halves up)
  const x = r * q;
  if (x > f.max) return over();
  return x === 0 && f.uz ? 0 : sign * x;
}

/** The code of a value a small float format holds exactly (NaN's sign kept where the format has one). */
export function minifloatBits(kind: PackedFloat, v: number, negativeNaN = false): number {
  const f = MINIFLOAT[kind];
  const top = 1 << (f.e + f.m);
  if (Number.isNaN(v)) return f.uz ? 0x80 : f.nan | (negativeNaN && kind !== 'float4e2m1' ? 0x80 : 0);
  const s = v < 0 || Object.is(v, -0) ? top : 0;
  const a = Math.abs(v);
  if (a === Infinity) return s | 0x7c;
  if (a === 0) return f.uz ? 0 : s;
  const e = ilog2(a);
  if (e < 1 - f.bias) return s | Math.round(a / 2 ** (1 - f.bias - f.m));
  return s | ((e + f.bias) << f.m) | Math.round(a / 2 ** (e - f.m) - 2 ** f.m);
}

/** A small float code's value. */
export function minifloatValue(kind: PackedFloat, b: number): number {
  const f = MINIFLOAT[kind];
  const top = 1 << (f.e + f.m);
  if (f.uz && b === 0x80) return NaN;
  const s = b & top ? -1 : 1;
  const e = (b >> f.m) & ((1 << f.e) - 1);
  const m = b & ((1 << f.m) - 1);
  if (f.inf && e === (1 << f.e) - 1) return m ? NaN : s * Infinity;
  if (!f.uz && !f.inf && kind !== 'float4e2m1' && (b & 0x7f) === 0x7f) return NaN;
  if (e === 0) return s * m * 2 ** (1 - f.bias - f.m);
  return s * (1 + m / 2 ** f.m) * 2 ** (e - f.bias);
}

/** An integer element's value from its bits. */
export function packedIntValue(p: PackedInt, bits: number): number {
  const w = packedBits(p);
  const mask = (1 << w) - 1;
  const sign = 1 << (w - 1);
  return p.startsWith('u') ? bits & mask : ((bits & mask) ^ sign) - sign;
}

/** Elements of a packed type, as their held values, from the bytes at the edges. */
export function unpack(p: Packed, bytes: Uint8Array, count: number): Float32Array | Int8Array | Uint8Array {
  const w = packedBits(p);
  const per = 8 / w;
  const field = (i: number) => (bytes[Math.floor(i / per)] >> ((i % per) * w)) & ((1 << w) - 1);
  if (isPackedFloat(p)) return Float32Array.from({ length: count }, (_, i) => minifloatValue(p, field(i)));
  const out = packedHeldType(p) === 'int8' ? new Int8Array(count) : new Uint8Array(count);
  for (let i = 0; i < count; i++) out[i] = packedIntValue(p, field(i));
  return out;
}

/** Held values as the bytes at the edges (each value one the type has). */
export function pack(p: Packed, values: ArrayLike<number>): Uint8Array {
  const w = packedBits(p);
  const per = 8 / w;
  const out = new Uint8Array(packedBytes(p, values.length));
  for (let i = 0; i < values.length; i++) {
    const code = isPackedFloat(p) ? minifloatBits(p, values[i]) : values[i] & ((1 << w) - 1);
    out[Math.floor(i / per)] |= code << ((i % per) * w);
  }
  return out;
}

/** C names of a small float format's conversions (see packedConversionsC). */
export function minifloatC(kind: PackedFloat): { round: string; toFloat: string; fromFloat: string } {
  return { round: `kiln_round_${kind}`, toFloat: `kiln_${kind}_to_f32`, fromFloat: `kiln_f32_to_${kind}` };
}

/**
 * The C conversions of the small float formats a model uses (the same rules as roundMinifloat,
 * minifloatBits and minifloatValue, in double): kiln_round_<kind>(x, saturate) gives the float32
 * value, kiln_<kind>_to_f32 a code's value, kiln_f32_to_<kind> the code of a value the format holds.
 */
export function packedConversionsC(kinds: Iterable<PackedFloat>): string {
  const parts: string[] = [];
  for (const kind of new Set(kinds)) {
    const f = MINIFLOAT[kind];
    const c = minifloatC(kind);
    const emin = 1 - f.bias;
    const top = 1 << (f.e + f.m);
    const sat = f.saturates ? '1' : 'saturate';
    // Beyond the range without saturation: infinity where the format has it, else NaN (positive, as ONNX's reference gives it).
    const over = (sign: string) => `${sat} ? ${sign}${f.max}.0f : ${f.inf ? `${sign}INFINITY` : 'NAN'}`;
    parts.push(`__attribute__((unused)) static float ${c.round}(float x, int saturate) {
  (void)saturate;
  if (x != x) return ${kind === 'float4e2m1' ? '-0.0f' : 'x'};
  const int neg = signbit(x) != 0;
  const double a = fabs((double)x);
  if (a == INFINITY) return neg ? (${over('-')}) : (${over('')});
  if (a == 0.0) return ${f.uz ? '0.0f' : 'x'};
  int e = ilogb(a);
  if (e < ${emin}) e = ${emin};
  const double q = ldexp(1.0, e - ${f.m}), r = rint(a / q) * q;
  if (r > ${f.max}.0) return neg ? (${over('-')}) : (${over('')});
  return r == 0.0 ? ${f.uz ? '0.0f' : '(neg ? -0.0f : 0.0f)'} : (float)(neg ? -r : r);
}
__attribute__((unused)) static float ${c.toFloat}(uint8_t b) {
${f.uz ? '  if (b == 0x80) return NAN;\n' : ''}  const double s = (b & ${top}) ? -1.0 : 1.0;
  const int e = (b >> ${f.m}) & ${(1 << f.e) - 1}, m = b & ${(1 << f.m) - 1};
${f.inf ? `  if (e == ${(1 << f.e) - 1}) return m ? (s < 0 ? -NAN : NAN) : (float)(s * INFINITY);\n` : f.uz || kind === 'float4e2m1' ? '' : `  if ((b & 0x7f) == 0x7f) return s < 0 ? -NAN : NAN;\n`}  if (e == 0) return (float)(s * ldexp((double)m, ${emin - f.m}));
  return (float)(s * ldexp(1.0 + m / ${2 ** f.m}.0, e - ${f.bias}));
}
__attribute__((unused)) static uint8_t ${c.fromFloat}(float x) {
  const uint8_t s = signbit(x) ? ${top} : 0;
  if (x != x) return ${f.uz ? '0x80' : kind === 'float4e2m1' ? `${f.nan}` : `(uint8_t)(${f.nan} | s)`};
  const double a = fabs((double)x);
  if (a == INFINITY) return (uint8_t)(s | 0x7c);
  if (a == 0.0) return ${f.uz ? '0' : 's'};
  const int e = ilogb(a);
  if (e < ${emin}) return (uint8_t)(s | (int)(a / ldexp(1.0, ${emin - f.m})));
  return (uint8_t)(s | ((e + ${f.bias}) << ${f.m}) | (int)(a / ldexp(1.0, e - ${f.m}) - ${2 ** f.m}));
}`);
  }
  return parts.join('\n');
}

/** The C type a packed type is held in. */
export function packedHeld(p: Packed): string {
  return { float32: 'float', int8: 'int8_t', uint8: 'uint8_t' }[packedHeldType(p)];
}

/** C that takes a value of the held type to one the packed type has (a small float rounded, saturating or not; an integer its low bits). */
export function packedCastC(p: Packed, v: string, saturate: boolean): string {
  if (isPackedFloat(p)) return `${minifloatC(p).round}(${v}, ${saturate ? 1 : 0})`;
  const w = packedBits(p);
  return p.startsWith('u') ? `(uint8_t)((${v}) & ${(1 << w) - 1})` : `(int8_t)((((${v}) & ${(1 << w) - 1}) ^ ${1 << (w - 1)}) - ${1 << (w - 1)})`;
}

/** The same in JavaScript, for folding. */
export function packedCast(p: Packed, v: number, saturate: boolean): number {
  return isPackedFloat(p) ? roundMinifloat(p, v, saturate) : packedIntValue(p, v);
}

/** C that reads `n` elements from the bytes at `src` into the held values at `dst`. */
export function packedLoadC(p: Packed, src: string, dst: string, n: number): string {
  const w = packedBits(p);
  const per = 8 / w;
  const field = w === 8 ? 'b[i]' : `(b[i / ${per}] >> ((i % ${per}) * ${w})) & ${(1 << w) - 1}`;
  const value = isPackedFloat(p) ? `${minifloatC(p).toFloat}((uint8_t)v)` : packedCastC(p, 'v', true);
  return `{ const uint8_t *b = ${src}; for (long i = 0; i < ${n}; i++) { const int v = ${field}; ${dst}[i] = ${value}; } }`;
}

/** C that writes `n` held values at `src` as the bytes at `dst`. */
export function packedStoreC(p: Packed, src: string, dst: string, n: number): string {
  const w = packedBits(p);
  const code = isPackedFloat(p) ? `${minifloatC(p).fromFloat}(${src}[i])` : `(${src}[i] & ${(1 << w) - 1})`;
  if (w === 8) return `{ uint8_t *b = ${dst}; for (long i = 0; i < ${n}; i++) b[i] = ${code}; }`;
  const per = 8 / w;
  return `{ uint8_t *b = ${dst}; memset(b, 0, ${packedBytes(p, n)}); for (long i = 0; i < ${n}; i++) b[i / ${per}] |= (uint8_t)(${code} << ((i % ${per}) * ${w})); }`;
}
