import { C_TYPE, DType, isInteger } from '../ir';
import { isFloat, Value, wrapInt } from './arith';

/*
 * Conversions between element types, as Cast and CastLike make them, in C and, for folding
 * constants, in JavaScript that gives the same values.
 *
 * - To bool: zero is false, anything else (NaN included) true.
 * - To float32 or float64: the nearest value, rounded once (an int64 is not taken through double
 *   on its way to float32).
 * - Integer to integer: the low bits, two's complement, as ONNX says ("discard higher bits and
 *   reinterpret").
 * - Float to integer: truncated toward zero. ONNX leaves a value out of the target's range
 *   undefined (and C's conversion is undefined behaviour there); here NaN gives 0 and any other
 *   value is first taken to int64, saturating (to uint64 for uint64, whose range reaches higher),
 *   then to the target's low bits. Within int64's range that is what numpy and ONNX Runtime give
 *   on x86-64 for the narrower types (-1.0 to uint8 is 255, 300.0 to uint8 is 44).
 */

const TWO_63 = 2 ** 63;
const TWO_64 = 2 ** 64;
const INT64_MAX = (1n << 63n) - 1n;
const INT64_MIN = -(1n << 63n);
const UINT64_MAX = (1n << 64n) - 1n;

/** A bigint as the nearest float32 (ties to even), rounded once. */
export function bigToFloat32(b: bigint): number {
  const a = b < 0n ? -b : b;
  if (a <= 1n << 53n) return Math.fround(Number(b));
  const shift = BigInt(a.toString(2).length - 24);
  let q = a >> shift;
  const r = a - (q << shift);
  const half = 1n << (shift - 1n);
  if (r > half || (r === half && (q & 1n) === 1n)) q++;
  const v = Number(q) * 2 ** Number(shift);
  return b < 0n ? -v : v;
}

/** A float as an integer type, as cCast's C does (see above). */
function floatToInt(v: number, to: DType): Value {
  if (Number.isNaN(v)) return wrapInt(to, 0);
  const t = Math.trunc(v);
  if (to === 'uint64' && t >= TWO_63) return t < TWO_64 ? BigInt(t) : UINT64_MAX;
  return wrapInt(to, t >= TWO_63 ? INT64_MAX : t < -TWO_63 ? INT64_MIN : BigInt(t));
}

/** One element converted from one type to another (a float16 or bfloat16 is its float32 value here; the caller rounds). */
export function castValue(v: Value, from: DType, to: DType): Value {
  if (to === 'bool') return (typeof v === 'bigint' ? v !== 0n : v !== 0) ? 1 : 0;
  if (isFloat(to)) {
    if (typeof v !== 'bigint') return v;
    return to === 'float32' ? bigToFloat32(v) : Number(v);
  }
  if (!isInteger(to)) throw new Error(`no conversion to ${to}`);
  if (isFloat(from)) return floatToInt(v as number, to);
  return wrapInt(to, v);
}

/** The float-to-int64 conversion of cCast, on a double `d` (which it reads several times). */
function cFloatToInt64(d: string): string {
  return `(${d} != ${d} ? 0 : ${d} >= 9223372036854775808.0 ? INT64_MAX : ${d} < -9223372036854775808.0 ? INT64_MIN : (int64_t)${d})`;
}

/** C for one element `x` (a variable of type `from`, read several times) converted to type `to`. */
export function cCast(from: DType, to: DType, x: string): string {
  if (from === to) return x;
  if (to === 'bool') return `(${x} != 0)`;
  if (to === 'float32' && (from === 'int64' || from === 'uint64')) {
    // Rounded once: clang vectorizes a 64-bit integer to float conversion for AArch64 through double, which
    // rounds twice. Through double is exact up to 2^53; above, the bits that double drops are kept as one sticky bit.
    const small = from === 'int64' ? `${x} >= -9007199254740992ll && ${x} <= 9007199254740992ll` : `${x} <= 9007199254740992ull`;
    return `(${small} ? (float)(double)${x} : (float)((double)((${x} >> 11) | ((${x} & 2047) != 0)) * 2048.0))`;
  }
  if (isFloat(to) || !isFloat(from)) return `(${C_TYPE[to]})${x}`;
  const d = from === 'float64' ? x : `(double)${x}`;
  if (to === 'uint64') return `(${d} >= 9223372036854775808.0 ? (${d} < 18446744073709551616.0 ? (uint64_t)${d} : UINT64_MAX) : (uint64_t)${cFloatToInt64(d)})`;
  return `(${C_TYPE[to]})${cFloatToInt64(d)}`;
}
