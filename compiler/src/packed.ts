/**
 * Element types narrower than a byte's worth of C type, taken at a graph's edges and by Cast and
 * CastLike only: the four float8 formats, held as float32 inside (every value one the format has),
 * and int4 and uint4, held as int8 and uint8. At the entry point and in files a float8 element is
 * its byte; int4 and uint4 are two elements per byte, the first in the low four bits (an odd count
 * leaves the last high half zero), as ONNX stores them.
 */
export type Packed = 'float8e4m3fn' | 'float8e4m3fnuz' | 'float8e5m2' | 'float8e5m2fnuz' | 'int4' | 'uint4';
export type Float8 = Exclude<Packed, 'int4' | 'uint4'>;

export const PACKED: readonly Packed[] = ['float8e4m3fn', 'float8e4m3fnuz', 'float8e5m2', 'float8e5m2fnuz', 'int4', 'uint4'];

export function isFloat8(p: Packed): p is Float8 {
  return p !== 'int4' && p !== 'uint4';
}

/** The bytes `count` elements take at the edges. */
export function packedBytes(p: Packed, count: number): number {
  return isFloat8(p) ? count : Math.ceil(count / 2);
}

/**
 * A float8 format: exponent and mantissa widths, bias, its largest finite value; `fn` formats have
 * no infinities, `uz` ones no negative zero (their one NaN is 0x80).
 */
interface Format {
  e: number;
  m: number;
  bias: number;
  max: number;
  uz: boolean;
  inf: boolean;
  /** The NaN it gives (or'd with the sign where it has signed NaNs). */
  nan: number;
}

export const FLOAT8: Record<Float8, Format> = {
  float8e4m3fn: { e: 4, m: 3, bias: 7, max: 448, uz: false, inf: false, nan: 0x7f },
  float8e4m3fnuz: { e: 4, m: 3, bias: 8, max: 240, uz: true, inf: false, nan: 0x80 },
  float8e5m2: { e: 5, m: 2, bias: 15, max: 57344, uz: false, inf: true, nan: 0x7e },
  float8e5m2fnuz: { e: 5, m: 2, bias: 16, max: 57344, uz: true, inf: false, nan: 0x80 },
};

/** floor(log2(a)) for a finite a > 0, exactly. */
function ilog2(a: number): number {
  let e = Math.floor(Math.log2(a));
  if (2 ** e > a) e--;
  else if (2 ** (e + 1) <= a) e++;
  return e;
}

/**
 * A float rounded to a float8 format (to nearest, ties to even), as ONNX's Cast defines it: with
 * saturate, what is beyond the largest finite value (infinities included) becomes it; without,
 * infinity (float8e5m2) or NaN. NaN stays NaN; -0 is +0 in the uz formats.
 */
export function roundFloat8(kind: Float8, v: number, saturate: boolean): number {
  const f = FLOAT8[kind];
  if (Number.isNaN(v)) return NaN;
  const sign = v < 0 || Object.is(v, -0) ? -1 : 1;
  const a = Math.abs(v);
  const over = () => (saturate ? sign * f.max : f.inf ? sign * Infinity : NaN);
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

/** The byte of a value a float8 format holds exactly (NaN's sign kept where the format has one). */
export function float8Bits(kind: Float8, v: number, negativeNaN = false): number {
  const f = FLOAT8[kind];
  if (Number.isNaN(v)) return f.uz ? 0x80 : f.nan | (negativeNaN ? 0x80 : 0);
  const s = v < 0 || Object.is(v, -0) ? 0x80 : 0;
  const a = Math.abs(v);
  if (a === Infinity) return s | 0x7c;
  if (a === 0) return f.uz ? 0 : s;
  const e = ilog2(a);
  if (e < 1 - f.bias) return s | Math.round(a / 2 ** (1 - f.bias - f.m));
  return s | ((e + f.bias) << f.m) | Math.round(a / 2 ** (e - f.m) - 2 ** f.m);
}

/** A float8 byte's value. */
export function float8Value(kind: Float8, b: number): number {
  const f = FLOAT8[kind];
  if (f.uz && b === 0x80) return NaN;
  const s = b & 0x80 ? -1 : 1;
  const e = (b >> f.m) & ((1 << f.e) - 1);
  const m = b & ((1 << f.m) - 1);
  if (!f.uz && f.inf && e === (1 << f.e) - 1) return m ? NaN : s * Infinity;
  if (!f.uz && !f.inf && (b & 0x7f) === 0x7f) return NaN;
  if (e === 0) return s * m * 2 ** (1 - f.bias - f.m);
  return s * (1 + m / 2 ** f.m) * 2 ** (e - f.bias);
}

/** A 4-bit element's value from its nibble. */
export function int4Value(p: 'int4' | 'uint4', nibble: number): number {
  return p === 'uint4' ? nibble & 15 : ((nibble & 15) ^ 8) - 8;
}

/** Elements of a packed type, as their held values, from the bytes at the edges. */
export function unpack(p: Packed, bytes: Uint8Array, count: number): Float32Array | Int8Array | Uint8Array {
  if (isFloat8(p)) return Float32Array.from(bytes.subarray(0, count), (b) => float8Value(p, b));
  const out = p === 'int4' ? new Int8Array(count) : new Uint8Array(count);
  for (let i = 0; i < count; i++) out[i] = int4Value(p, bytes[i >> 1] >> ((i & 1) * 4));
  return out;
}

/** Held values as the bytes at the edges (each value one the type has). */
export function pack(p: Packed, values: ArrayLike<number>): Uint8Array {
  if (isFloat8(p)) return Uint8Array.from(values, (v) => float8Bits(p, v));
  const out = new Uint8Array(packedBytes(p, values.length));
  for (let i = 0; i < values.length; i++) out[i >> 1] |= (values[i] & 15) << ((i & 1) * 4);
  return out;
}

/** C names of a float8 format's conversions (see packedConversionsC). */
export function float8C(kind: Float8): { round: string; toFloat: string; fromFloat: string } {
  return { round: `kiln_round_${kind}`, toFloat: `kiln_${kind}_to_f32`, fromFloat: `kiln_f32_to_${kind}` };
}

/**
 * The C conversions of the float8 formats a model uses (the same rules as roundFloat8,
 * float8Bits and float8Value, in double): kiln_round_<kind>(x, saturate) gives the float32 value,
 * kiln_<kind>_to_f32 a byte's value, kiln_f32_to_<kind> the byte of a value the format holds.
 */
export function packedConversionsC(kinds: Iterable<Float8>): string {
  const parts: string[] = [];
  for (const kind of new Set(kinds)) {
    const f = FLOAT8[kind];
    const c = float8C(kind);
    const emin = 1 - f.bias;
    // Beyond the range without saturation: infinity where the format has it, else NaN (positive, as ONNX's reference gives it).
    const over = (sign: string) => (f.inf ? `saturate ? ${sign}${f.max}.0f : ${sign}INFINITY` : `saturate ? ${sign}${f.max}.0f : NAN`);
    parts.push(`__attribute__((unused)) static float ${c.round}(float x, int saturate) {
  if (x != x) return x;
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
${f.uz ? '  if (b == 0x80) return NAN;\n' : ''}  const double s = (b & 0x80) ? -1.0 : 1.0;
  const int e = (b >> ${f.m}) & ${(1 << f.e) - 1}, m = b & ${(1 << f.m) - 1};
${f.inf ? `  if (e == ${(1 << f.e) - 1}) return m ? (s < 0 ? -NAN : NAN) : (float)(s * INFINITY);\n` : f.uz ? '' : `  if ((b & 0x7f) == 0x7f) return s < 0 ? -NAN : NAN;\n`}  if (e == 0) return (float)(s * ldexp((double)m, ${emin - f.m}));
  return (float)(s * ldexp(1.0 + m / ${2 ** f.m}.0, e - ${f.bias}));
}
__attribute__((unused)) static uint8_t ${c.fromFloat}(float x) {
  const uint8_t s = signbit(x) ? 0x80 : 0;
  if (x != x) return ${f.uz ? '0x80' : `(uint8_t)(${f.nan} | s)`};
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
  return isFloat8(p) ? 'float' : p === 'int4' ? 'int8_t' : 'uint8_t';
}

/** C that reads `n` elements from the bytes at `src` into the held values at `dst`. */
export function packedLoadC(p: Packed, src: string, dst: string, n: number): string {
  if (isFloat8(p)) return `{ const uint8_t *b = ${src}; for (long i = 0; i < ${n}; i++) ${dst}[i] = ${float8C(p).toFloat}(b[i]); }`;
  const value = p === 'int4' ? '(int8_t)((v ^ 8) - 8)' : '(uint8_t)v';
  return `{ const uint8_t *b = ${src}; for (long i = 0; i < ${n}; i++) { const int v = (b[i >> 1] >> ((i & 1) * 4)) & 15; ${dst}[i] = ${value}; } }`;
}

/** C that writes `n` held values at `src` as the bytes at `dst`. */
export function packedStoreC(p: Packed, src: string, dst: string, n: number): string {
  if (isFloat8(p)) return `{ uint8_t *b = ${dst}; for (long i = 0; i < ${n}; i++) b[i] = ${float8C(p).fromFloat}(${src}[i]); }`;
  return `{ uint8_t *b = ${dst}; memset(b, 0, ${packedBytes(p, n)}); for (long i = 0; i < ${n}; i++) b[i >> 1] |= (uint8_t)((${src}[i] & 15) << ((i & 1) * 4)); }`;
}
