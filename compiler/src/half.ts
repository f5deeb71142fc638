/**
 * Half-precision tensors (float16 and bfloat16). The compiler keeps their values in float32 and
 * rounds every value a half tensor receives to its format (round to nearest, ties to even), so a
 * graph computes what the model's types say: each operator in float32 on half inputs, its result
 * stored as half, which is also what ONNX Runtime's CPU provider does for operators it runs by
 * casting. Graph inputs and outputs of these types are raw 16-bit elements (uint16_t in C).
 */
export type Half = 'float16' | 'bfloat16';

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** The IEEE binary16 bits nearest to v (ties to even; overflow to infinity; NaN stays NaN). */
export function f16Bits(v: number): number {
  f32[0] = v;
  const x = u32[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 | (mant >>> 13) : 0);
  const e = exp - 112; // binary16's biased exponent
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let h = mant >>> shift;
    const rest = mant & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    if (rest > halfway || (rest === halfway && h & 1)) h++;
    return sign | h;
  }
  let h = (e << 10) | (mant >>> 13);
  const rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && h & 1)) h++; // a carry into the exponent is right, up to infinity
  return sign | h;
}

export function f16Value(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >>> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

/** The bfloat16 bits nearest to v (ties to even). */
export function bf16Bits(v: number): number {
  f32[0] = v;
  const x = u32[0];
  if ((x & 0x7f800000) === 0x7f800000 && x & 0x7fffff) return ((x >>> 16) | 0x40) & 0xffff;
  return ((x + 0x7fff + ((x >>> 16) & 1)) >>> 16) & 0xffff;
}

export function bf16Value(h: number): number {
  u32[0] = (h & 0xffff) << 16;
  return f32[0];
}

export function halfBits(kind: Half, v: number): number {
  return kind === 'float16' ? f16Bits(v) : bf16Bits(v);
}

export function halfValue(kind: Half, h: number): number {
  return kind === 'float16' ? f16Value(h) : bf16Value(h);
}

/** Rounds float32 values to a half format in place. */
export function roundToHalf(kind: Half, data: Float32Array): void {
  for (let i = 0; i < data.length; i++) data[i] = halfValue(kind, halfBits(kind, data[i]));
}

/** 16-bit elements (as stored in a model or a file) to float32 values. */
export function halfToFloat32(kind: Half, bits: Uint16Array): Float32Array {
  const out = new Float32Array(bits.length);
  for (let i = 0; i < bits.length; i++) out[i] = halfValue(kind, bits[i]);
  return out;
}

/**
 * The C conversions, portable to every target (no _Float16 or hardware instructions needed):
 * kiln_f16_to_f32 / kiln_f32_to_f16 and the bfloat16 pair, and kiln_round_<kind> (to the format
 * and back; float16's on the hardware's instructions where the target has them, which the
 * rounding tests run on both ways). `qualifier` prefixes each function (`static inline`, or with
 * __host__ __device__).
 */
export function halfConversionsC(qualifier: string): string {
  return `/* float16 / bfloat16 <-> float32, round to nearest even. */
${qualifier} float kiln_bits_f32(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }
${qualifier} uint32_t kiln_f32_bits(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }
#if !defined(__CUDACC__) && (!defined(__cplusplus) || defined(__clang__)) && (defined(__F16C__) || defined(__aarch64__))
/* The hardware's conversions (x86 F16C, AArch64 FCVT): the same rounding, in vectors. */
${qualifier} float kiln_f16_to_f32(uint16_t h) { _Float16 v; memcpy(&v, &h, 2); return (float)v; }
${qualifier} uint16_t kiln_f32_to_f16(float f) { const _Float16 v = (_Float16)f; uint16_t h; memcpy(&h, &v, 2); return h; }
${qualifier} float kiln_round_float16(float f) { return (float)(_Float16)f; }
#else
${qualifier} float kiln_f16_to_f32(uint16_t h) {
  const uint32_t sign = (uint32_t)(h & 0x8000u) << 16, e = (h >> 10) & 0x1fu, m = h & 0x3ffu;
  if (e == 0x1fu) return kiln_bits_f32(sign | 0x7f800000u | (m << 13));
  if (e == 0) { const float v = (float)m * 5.9604644775390625e-8f; return sign ? -v : v; }
  return kiln_bits_f32(sign | ((e + 112u) << 23) | (m << 13));
}
${qualifier} uint16_t kiln_f32_to_f16(float f) {
  const uint32_t x = kiln_f32_bits(f), sign = (x >> 16) & 0x8000u, exp = (x >> 23) & 0xffu;
  uint32_t mant = x & 0x7fffffu;
  if (exp == 0xffu) return (uint16_t)(sign | 0x7c00u | (mant ? 0x200u | (mant >> 13) : 0u));
  const int e = (int)exp - 112;
  if (e >= 31) return (uint16_t)(sign | 0x7c00u);
  if (e <= 0) {
    if (e < -10) return (uint16_t)sign;
    mant |= 0x800000u;
    const int shift = 14 - e;
    uint32_t h = mant >> shift;
    const uint32_t rest = mant & ((1u << shift) - 1u), halfway = 1u << (shift - 1);
    if (rest > halfway || (rest == halfway && (h & 1u))) h++;
    return (uint16_t)(sign | h);
  }
  uint32_t h = ((uint32_t)e << 10) | (mant >> 13);
  const uint32_t rest = mant & 0x1fffu;
  if (rest > 0x1000u || (rest == 0x1000u && (h & 1u))) h++;
  return (uint16_t)(sign | h);
}
${qualifier} float kiln_round_float16(float f) { return kiln_f16_to_f32(kiln_f32_to_f16(f)); }
#endif
${qualifier} float kiln_bf16_to_f32(uint16_t h) { return kiln_bits_f32((uint32_t)h << 16); }
${qualifier} uint16_t kiln_f32_to_bf16(float f) {
  const uint32_t x = kiln_f32_bits(f);
  if ((x & 0x7f800000u) == 0x7f800000u && (x & 0x7fffffu)) return (uint16_t)((x >> 16) | 0x40u);
  return (uint16_t)((x + 0x7fffu + ((x >> 16) & 1u)) >> 16);
}

${qualifier} float kiln_round_bfloat16(float f) { return kiln_bf16_to_f32(kiln_f32_to_bf16(f)); }
`;
}

/** The C names of a format's conversions. */
export const HALF_C: Record<Half, { toFloat: string; fromFloat: string; round: string }> = {
  float16: { toFloat: 'kiln_f16_to_f32', fromFloat: 'kiln_f32_to_f16', round: 'kiln_round_float16' },
  bfloat16: { toFloat: 'kiln_bf16_to_f32', fromFloat: 'kiln_f32_to_bf16', round: 'kiln_round_bfloat16' },
};

/**
 * Operators whose outputs hold only values of their inputs (moved, selected, compared or
 * negated): their results need no rounding when the inputs are already half.
 */
export const VALUE_PRESERVING: ReadonlySet<string> = new Set([
  'Reshape', 'Flatten', 'Squeeze', 'Unsqueeze', 'Transpose', 'Identity', 'Dropout', 'Gather', 'GatherElements', 'GatherND', 'Slice', 'Concat', 'Split',
  'Tile', 'Expand', 'DepthToSpace', 'SpaceToDepth', 'Relu', 'Neg', 'Abs', 'Max', 'Min', 'MaxPool', 'GlobalMaxPool', 'ReduceMax', 'ReduceMin',
  'Where', 'Compress', 'Floor', 'Ceil', 'Round', 'Sign', 'ReverseSequence', 'Trilu', 'TopK',
]);
