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

/**
 * The bytes of every in and inout buffer, in argument order, each filled from its own stream
 * (seed + argument index) within its range. Out buffers start as zeros in the harness.
 */
export function generateInputs(spec: KernelVerifySpec): Buffer {
  const parts: Buffer[] = [];
  spec.args.forEach((a, index) => {
    if (a.kind !== 'buffer' || a.dir === 'out') return;
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
