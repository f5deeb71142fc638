import type { Verification } from './types';

export type Profile = NonNullable<Verification['profile']>;
export type KernelRow = Profile['kernels'][number];

export interface ProfileBar {
  label: string;
  /** The operators fused into the kernel, once each: Conv+Relu. */
  ops: string;
  ms: number;
  share: number;
  gflops: number;
  /** Bar length, 0 to 1, against the slowest kernel. */
  width: number;
  /** The row that stands for the kernels past the top ones. */
  rest?: number;
}

/** The slowest `top` kernels as bars (slowest first), and one bar for all the others together. */
export function profileBars(p: Profile, top = 12): ProfileBar[] {
  const sorted = [...p.kernels].sort((a, b) => b.ms - a.ms);
  const max = Math.max(sorted[0]?.ms ?? 0, Number.MIN_VALUE);
  const bars: ProfileBar[] = sorted.slice(0, top).map((k) => ({ label: k.label, ops: opsOf(k), ms: k.ms, share: k.share, gflops: k.gflops, width: k.ms / max }));
  const others = sorted.slice(top);
  if (others.length) {
    const ms = others.reduce((a, k) => a + k.ms, 0);
    const flops = others.reduce((a, k) => a + k.flops, 0);
    bars.push({ label: `${others.length} other kernels`, ops: '', ms, share: others.reduce((a, k) => a + k.share, 0), gflops: ms > 0 ? flops / (ms * 1e6) : 0, width: Math.min(1, ms / max), rest: others.length });
  }
  return bars;
}

export function opsOf(k: KernelRow): string {
  return [...new Set(k.ops)].join('+');
}

/** Time per operator type (a kernel's time goes to its first operator: the one the others were fused into), largest first. */
export function timeByOperator(p: Profile): { op: string; ms: number; share: number; kernels: number }[] {
  const by = new Map<string, { ms: number; share: number; kernels: number }>();
  for (const k of p.kernels) {
    const op = k.ops[0] ?? '?';
    const e = by.get(op) ?? { ms: 0, share: 0, kernels: 0 };
    e.ms += k.ms;
    e.share += k.share;
    e.kernels++;
    by.set(op, e);
  }
  return [...by.entries()].map(([op, e]) => ({ op, ...e })).sort((a, b) => b.ms - a.ms);
}

/** What the clock means, in a sentence, where it is not the device's own. */
export function clockNote(p: Profile): string | null {
  if (p.clock === 'emulated') return 'Timed under an emulator: the shares show where the work is; the times are not the device\'s.';
  if (p.clock === 'wasm') return 'Timed as WebAssembly in the runner\'s engine: the shares show where the work is; the times depend on the engine.';
  return null;
}
