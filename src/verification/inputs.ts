import { DTYPE_SIZE, isFloat, writeElement } from './dtype';
import type { KernelArg, KernelVerifySpec } from './spec';

/** mulberry32: small, fast and the same on every machine, so a seed reproduces its inputs. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export type BufferArg = Extract<KernelArg, { kind: 'buffer' }>;

export function elementCount(a: BufferArg): number {
  return a.shape.reduce((x, y) => x * y, 1);
}

/** The size of a buffer in bytes: what an uploaded input or expected output must hold exactly. */
export function bufferBytes(a: BufferArg): number {
  return elementCount(a) * DTYPE_SIZE[a.dtype];
}

/** Where a worker puts a check's uploaded tensors, relative to the build folder. */
export const VERIFY_DATA_DIR = 'verify-data';
export function verifyDataFile(role: 'input' | 'expected', arg: string): string {
  return `${VERIFY_DATA_DIR}/${role}-${arg}.bin`;
}

/**
 * The bytes of every in and inout buffer, in argument order: an uploaded tensor where the
 * argument names one (`uploaded`, by argument name), else filled from its own stream (seed +
 * argument index) within its range, so uploading one input leaves the others as they were.
 * Out buffers start as zeros in the harness.
 */
export function generateInputs(spec: KernelVerifySpec, uploaded: ReadonlyMap<string, Buffer> = new Map()): Buffer {
  const parts: Buffer[] = [];
  spec.args.forEach((a, index) => {
    if (a.kind !== 'buffer' || a.dir === 'out') return;
    const given = uploaded.get(a.name);
    if (given) {
      if (given.length !== bufferBytes(a)) throw new RangeError(`the uploaded input of "${a.name}" holds ${given.length} bytes; ${a.dtype} ${JSON.stringify(a.shape)} needs ${bufferBytes(a)}`);
      parts.push(given);
      return;
    }
    const n = elementCount(a);
    const buf = Buffer.alloc(n * DTYPE_SIZE[a.dtype]);
    const rand = prng((spec.seed + Math.imul(index + 1, 0x9e3779b1)) >>> 0);
    const [lo, hi] = a.range;
    for (let i = 0; i < n; i++) {
      const u = rand();
      writeElement(buf, a.dtype, i, isFloat(a.dtype) ? lo + u * (hi - lo) : Math.floor(lo + u * (Math.floor(hi) - Math.ceil(lo) + 1)));
    }
    parts.push(buf);
  });
  return Buffer.concat(parts);
}

/** The outputs, in the order the harness writes them: every out and inout buffer. */
export function outputArgs(spec: KernelVerifySpec): BufferArg[] {
  return spec.args.filter((a): a is BufferArg => a.kind === 'buffer' && a.dir !== 'in');
}
