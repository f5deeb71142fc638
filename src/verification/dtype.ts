import { halfBits, halfValue } from '../../compiler/src/half';

/** Element types of kernel arguments, their sizes and how they are read from little-endian bytes. */
export const DTYPES = ['float32', 'float64', 'int8', 'uint8', 'int16', 'uint16', 'int32', 'uint32', 'int64', 'uint64'] as const;
/** What verification compares: the kernel argument types, and the half formats of model outputs. */
export type DType = (typeof DTYPES)[number] | 'float16' | 'bfloat16';

export const DTYPE_SIZE: Record<DType, number> = {
  float16: 2,
  bfloat16: 2,
  float32: 4,
  float64: 8,
  int8: 1,
  uint8: 1,
  int16: 2,
  uint16: 2,
  int32: 4,
  uint32: 4,
  int64: 8,
  uint64: 8,
};

/** The C type of each dtype, as the generated harness declares it. */
export const C_TYPE: Record<DType, string> = {
  float16: 'uint16_t' /* the format's bits; not a kernel argument type */,
  bfloat16: 'uint16_t',
  float32: 'float',
  float64: 'double',
  int8: 'int8_t',
  uint8: 'uint8_t',
  int16: 'int16_t',
  uint16: 'uint16_t',
  int32: 'int32_t',
  uint32: 'uint32_t',
  int64: 'int64_t',
  uint64: 'uint64_t',
};

export function isFloat(d: DType): boolean {
  return d === 'float32' || d === 'float64' || d === 'float16' || d === 'bfloat16';
}

/** Reads element i of a buffer of dtype d as a JS number (64-bit integers as bigint). */
export function readElement(buf: Buffer, d: DType, i: number): number | bigint {
  const o = i * DTYPE_SIZE[d];
  switch (d) {
    case 'float16':
    case 'bfloat16':
      return halfValue(d, buf.readUInt16LE(o));
    case 'float32':
      return buf.readFloatLE(o);
    case 'float64':
      return buf.readDoubleLE(o);
    case 'int8':
      return buf.readInt8(o);
    case 'uint8':
      return buf.readUInt8(o);
    case 'int16':
      return buf.readInt16LE(o);
    case 'uint16':
      return buf.readUInt16LE(o);
    case 'int32':
      return buf.readInt32LE(o);
    case 'uint32':
      return buf.readUInt32LE(o);
    case 'int64':
      return buf.readBigInt64LE(o);
    case 'uint64':
      return buf.readBigUInt64LE(o);
  }
}

export function writeElement(buf: Buffer, d: DType, i: number, v: number | bigint): void {
  const o = i * DTYPE_SIZE[d];
  switch (d) {
    case 'float16':
    case 'bfloat16':
      buf.writeUInt16LE(halfBits(d, Number(v)), o);
      break;
    case 'float32':
      buf.writeFloatLE(Number(v), o);
      break;
    case 'float64':
      buf.writeDoubleLE(Number(v), o);
      break;
    case 'int8':
      buf.writeInt8(Number(v), o);
      break;
    case 'uint8':
      buf.writeUInt8(Number(v), o);
      break;
    case 'int16':
      buf.writeInt16LE(Number(v), o);
      break;
    case 'uint16':
      buf.writeUInt16LE(Number(v), o);
      break;
    case 'int32':
      buf.writeInt32LE(Number(v), o);
      break;
    case 'uint32':
      buf.writeUInt32LE(Number(v), o);
      break;
    case 'int64':
      buf.writeBigInt64LE(BigInt(v), o);
      break;
    case 'uint64':
      buf.writeBigUInt64LE(BigInt(v), o);
      break;
  }
}
