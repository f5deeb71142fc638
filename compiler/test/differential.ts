import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import fc from 'fast-check';
import * as ort from 'onnxruntime-node';
import { compareOutput } from '../../src/verification/compare';
import { prng } from '../../src/verification/inputs';
import { resolveTarget } from '../../src/targets/resolve';
import { targetFlags } from '../../workers/toolchains/clang';
import { WASI_LAUNCHER } from '../../workers/verify/runners';
import { compileModel } from '../src/compile';
import { modelHarness } from '../src/harness';
import { CompileError } from '../src/ir';
import { ModelBuilder, randomWeights } from './builder';

/**
 * Differential testing of the compiler's kernel paths: small random graphs of the operators real
 * networks are made of, with awkward sizes in every dimension a kernel blocks (1, 3, 5, 15, 17,
 * 31, 33, 63, 65), compiled by Kiln, built for a target and run, and compared with ONNX Runtime
 * on the same inputs. Each ISA level and architecture specialises the kernels differently, so
 * each is a target of its own.
 */

const run = promisify(execFile);

export const AWKWARD = [1, 3, 5, 15, 17, 31, 33, 63, 65];

export interface DiffTarget {
  name: string;
  /** A catalog target or preset: its clang flags are the product's. */
  preset: string;
  run: (exe: string, args: string[]) => string[];
  wasm?: boolean;
  /** Whether this machine can run it. */
  available: () => boolean;
}

const cpu = (() => {
  try {
    return readFileSync('/proc/cpuinfo', 'utf8');
  } catch {
    return '';
  }
})();

export const DIFF_TARGETS: DiffTarget[] = [
  { name: 'x86-64', preset: 'x86_64-linux-gnu', run: (e, a) => [e, ...a], available: () => process.arch === 'x64' },
  { name: 'x86-64-v3', preset: 'x86-64-v3', run: (e, a) => [e, ...a], available: () => process.arch === 'x64' && /\bavx2\b/.test(cpu) && /\bfma\b/.test(cpu) },
  { name: 'x86-64-v4', preset: 'x86-64-v4', run: (e, a) => [e, ...a], available: () => process.arch === 'x64' && /\bavx512f\b/.test(cpu) && /\bavx512bw\b/.test(cpu) && /\bavx512vl\b/.test(cpu) },
  { name: 'aarch64', preset: 'aarch64-linux-gnu', run: (e, a) => ['qemu-aarch64', '-cpu', 'max', e, ...a], available: () => true },
  { name: 'riscv64 (RVV)', preset: 'rv64gcv', run: (e, a) => ['qemu-riscv64', '-cpu', 'rv64,v=true,vext_spec=v1.0,vlen=128,elen=64,zba=true,zbb=true,zbs=true', e, ...a], available: () => true },
  { name: 'armv7 (NEON)', preset: 'armv7-neon', run: (e, a) => ['qemu-arm', '-cpu', 'max', e, ...a], available: () => true },
  { name: 'wasm32 (SIMD)', preset: 'wasm32-simd', wasm: true, run: (e, a) => [process.execPath, '--no-warnings', '--single-threaded', join(e, '..', 'launcher.cjs'), e, ...a], available: () => true },
];

/** One layer of a random network: what it does to the running tensor [1, C, H, W] (or [1, T, D] after a flatten). */
type Layer =
  | { kind: 'conv'; k: 1 | 3 | 5; stride: 1 | 2; cout: number; depthwise: boolean; act: 'none' | 'relu' | 'relu6' | 'silu' | 'hardswish'; bn: boolean }
  | { kind: 'residual'; k: 1 | 3 }
  | { kind: 'pool'; op: 'MaxPool' | 'AveragePool'; k: 2 | 3; stride: 1 | 2; ceil: boolean }
  | { kind: 'se'; reduce: number }
  | { kind: 'concat'; cout: number }
  | { kind: 'shuffle' }
  | { kind: 'tokens'; d: number; heads: 1 | 2; ln: boolean };

export interface RandomNet {
  c: number;
  h: number;
  w: number;
  layers: Layer[];
  seed: number;
}

const size = fc.constantFrom(...AWKWARD);
const small = fc.constantFrom(1, 3, 5, 15, 17);

const layer: fc.Arbitrary<Layer> = fc.oneof(
  fc.record({ kind: fc.constant('conv' as const), k: fc.constantFrom(1 as const, 3 as const, 5 as const), stride: fc.constantFrom(1 as const, 2 as const), cout: size, depthwise: fc.boolean(), act: fc.constantFrom('none' as const, 'relu' as const, 'relu6' as const, 'silu' as const, 'hardswish' as const), bn: fc.boolean() }),
  fc.record({ kind: fc.constant('residual' as const), k: fc.constantFrom(1 as const, 3 as const) }),
  fc.record({ kind: fc.constant('pool' as const), op: fc.constantFrom('MaxPool' as const, 'AveragePool' as const), k: fc.constantFrom(2 as const, 3 as const), stride: fc.constantFrom(1 as const, 2 as const), ceil: fc.boolean() }),
  fc.record({ kind: fc.constant('se' as const), reduce: fc.constantFrom(2, 4) }),
  fc.record({ kind: fc.constant('concat' as const), cout: small }),
  fc.record({ kind: fc.constant('shuffle' as const) }),
  fc.record({ kind: fc.constant('tokens' as const), d: size, heads: fc.constantFrom(1 as const, 2 as const), ln: fc.boolean() }),
);

export const randomNet: fc.Arbitrary<RandomNet> = fc.record({
  c: size,
  h: fc.constantFrom(1, 3, 5, 15, 17, 31, 33),
  w: fc.constantFrom(1, 3, 5, 15, 17, 31, 33),
  layers: fc.array(layer, { minLength: 1, maxLength: 4 }),
  seed: fc.integer({ min: 1, max: 1 << 30 }),
});

/** The ONNX model of a random network, as exporters write each layer. */
export function buildNet(net: RandomNet): Uint8Array {
  const b = new ModelBuilder(17);
  let seed = net.seed;
  let x = b.input('x', [1, net.c, net.h, net.w]);
  let [c, h, w] = [net.c, net.h, net.w];
  let tokens: { t: number; d: number } | null = null;
  const weight = (shape: number[], fanIn: number) => b.weight(`w${seed}`, shape, randomWeights(seed++, shape.reduce((a, v) => a * v, 1), Math.sqrt(2 / fanIn)));
  const vec = (n: number, lo: number, hi: number) => b.weight(`v${seed}`, [n], Array.from(randomWeights(seed++, n, 1), (v) => lo + ((v + 1) / 2) * (hi - lo)));
  const conv = (input: string, cin: number, cout: number, k: number, stride: number, group: number) => {
    const p = k >> 1;
    const y = b.op('Conv', [input, weight([cout, cin / group, k, k], (cin / group) * k * k), vec(cout, -0.1, 0.1)], { kernel_shape: [k, k], strides: [stride, stride], pads: [p, p, p, p], group });
    return { y, h: Math.floor((h + 2 * p - k) / stride) + 1, w: Math.floor((w + 2 * p - k) / stride) + 1 };
  };
  const act = (v: string, a: string) => {
    if (a === 'relu') return b.op('Relu', [v]);
    if (a === 'relu6') return b.op('Clip', [v, b.weight(`lo${seed}`, [], [0]), b.weight(`hi${seed++}`, [], [6])]);
    if (a === 'silu') return b.op('Mul', [v, b.op('Sigmoid', [v])]);
    if (a === 'hardswish') return b.op('Div', [b.op('Mul', [v, b.op('Clip', [b.op('Add', [v, b.weight(`three${seed}`, [], [3])]), b.weight(`zero${seed}`, [], [0]), b.weight(`six${seed++}`, [], [6])])]), b.weight(`d6${seed++}`, [], [6])]);
    return v;
  };
  for (const l of net.layers) {
    if (tokens) {
      // After a flatten only token layers apply; the others are skipped.
      if (l.kind !== 'tokens') continue;
    }
    switch (l.kind) {
      case 'conv': {
        const group = l.depthwise ? c : 1;
        const cout = l.depthwise ? c : l.cout;
        const r = conv(x, c, cout, l.k, l.stride, group);
        let y = r.y;
        if (l.bn) y = b.op('BatchNormalization', [y, vec(cout, 0.5, 1.5), vec(cout, -0.2, 0.2), vec(cout, -0.2, 0.2), vec(cout, 0.5, 1.5)], { epsilon: 1e-5 });
        x = act(y, l.act);
        [c, h, w] = [cout, r.h, r.w];
        break;
      }
      case 'residual': {
        const r = conv(b.op('Relu', [conv(x, c, c, l.k, 1, 1).y]), c, c, l.k, 1, 1);
        x = b.op('Relu', [b.op('Add', [r.y, x])]);
        break;
      }
      case 'pool': {
        if (h < l.k || w < l.k) break;
        x = b.op(l.op, [x], { kernel_shape: [l.k, l.k], strides: [l.stride, l.stride], ceil_mode: l.ceil ? 1 : 0 });
        const out = (d: number) => (l.ceil ? Math.ceil : Math.floor)((d - l.k) / l.stride) + 1;
        // In ceil mode a last window that starts past the input is dropped (ONNX, PyTorch).
        const fix = (d: number) => (l.ceil && (out(d) - 1) * l.stride >= d ? out(d) - 1 : out(d));
        [h, w] = [fix(h), fix(w)];
        break;
      }
      case 'se': {
        const mid = Math.max(1, Math.floor(c / l.reduce));
        const s = b.op('GlobalAveragePool', [x]);
        const z = b.op('Relu', [b.op('Conv', [s, weight([mid, c, 1, 1], c), vec(mid, -0.1, 0.1)])]);
        const g = b.op('Sigmoid', [b.op('Conv', [z, weight([c, mid, 1, 1], mid), vec(c, -0.1, 0.1)])]);
        x = b.op('Mul', [x, g]);
        break;
      }
      case 'concat': {
        const a = conv(x, c, l.cout, 1, 1, 1);
        const d = conv(x, c, l.cout, 3, 1, 1);
        x = b.op('Concat', [b.op('Relu', [a.y]), d.y], { axis: 1 });
        c = 2 * l.cout;
        break;
      }
      case 'shuffle': {
        if (c % 2) break;
        // ShuffleNet's channel shuffle; the shape back comes from Shape(x), as exporters write it.
        const r1 = b.op('Reshape', [x, b.int64(`s${seed++}`, [0, 2, c / 2, -1])]);
        const t = b.op('Transpose', [r1], { perm: [0, 2, 1, 3] });
        x = b.op('Reshape', [t, b.op('Shape', [x])]);
        break;
      }
      case 'tokens': {
        if (!tokens) {
          // [1, C, H, W] -> [1, H*W, C]: the patch tokens of a vision transformer.
          x = b.op('Transpose', [b.op('Reshape', [x, b.int64(`s${seed++}`, [0, c, -1])])], { perm: [0, 2, 1] });
          tokens = { t: h * w, d: c };
        }
        const { d } = tokens;
        const dh = Math.max(1, Math.floor(l.d / l.heads));
        const inner = dh * l.heads;
        let n = x;
        if (l.ln) n = b.op('LayerNormalization', [x, vec(d, 0.5, 1.5), vec(d, -0.1, 0.1)], { axis: -1, epsilon: 1e-5 });
        const proj = (v: string) => b.op('Transpose', [b.op('Reshape', [b.op('MatMul', [v, weight([d, inner], d)]), b.int64(`s${seed++}`, [0, -1, l.heads, dh])])], { perm: [0, 2, 1, 3] });
        const [q, k, v] = [proj(n), proj(n), proj(n)];
        const scores = b.op('Div', [b.op('MatMul', [q, b.op('Transpose', [k], { perm: [0, 1, 3, 2] })]), b.weight(`sc${seed++}`, [], [Math.sqrt(dh)])]);
        const attn = b.op('MatMul', [b.op('Softmax', [scores], { axis: -1 }), v]);
        const merged = b.op('Reshape', [b.op('Transpose', [attn], { perm: [0, 2, 1, 3] }), b.int64(`s${seed++}`, [0, 0, inner])]);
        x = b.op('Add', [x, b.op('Add', [b.op('MatMul', [merged, weight([inner, d], inner)]), vec(d, -0.1, 0.1)])]);
        break;
      }
    }
  }
  b.output(x);
  return b.build('random_net');
}

export type DiffOutcome = { status: 'pass' } | { status: 'refused'; detail: string } | { status: 'fail'; detail: string };

/** Compiles a random network, runs it on a target and compares it with ONNX Runtime. */
export async function checkNet(net: RandomNet, target: DiffTarget, opts: { threads?: number } = {}): Promise<DiffOutcome> {
  const bytes = buildNet(net);
  let compiled;
  try {
    compiled = compileModel(bytes, { name: 'net', threads: opts.threads ?? 1 });
  } catch (e) {
    if (e instanceof CompileError) return { status: 'refused', detail: e.message };
    throw e;
  }
  const meta = compiled.metadata;
  const dir = await mkdtemp(join(tmpdir(), 'kiln-diff-'));
  try {
    for (const [name, content] of Object.entries(compiled.files)) await writeFile(join(dir, name), content);
    await writeFile(join(dir, 'harness.c'), modelHarness(meta));
    const rand = prng(net.seed);
    const input = Float32Array.from({ length: meta.inputs[0].shape.reduce((a, v) => a * v, 1) }, () => rand() * 2 - 1);
    await writeFile(join(dir, 'in.bin'), Buffer.from(input.buffer));
    const session = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1 });
    const want = (await session.run({ x: new ort.Tensor('float32', input, meta.inputs[0].shape) }))[meta.outputs[0].name].data as Float32Array;
    await session.release();
    const { target: t, spec } = resolveTarget(target.preset);
    const exe = join(dir, target.wasm ? 'net.wasm' : 'net');
    const threads = (opts.threads ?? 1) > 1 && !target.wasm ? ['-lpthread'] : [];
    await run('clang-19', [...targetFlags(t, spec), '-std=c23', '-O2', '-fuse-ld=lld', ...(target.wasm ? [] : ['-static']), '-I', dir, join(dir, 'net.c'), join(dir, 'harness.c'), '-o', exe, '-lm', ...threads], { cwd: dir });
    if (target.wasm) await writeFile(join(dir, 'launcher.cjs'), WASI_LAUNCHER.replace("'/in': '/in'", `'${dir}': '${dir}'`));
    const [cmd, ...args] = target.run(exe, [join(dir, 'in.bin'), join(dir, 'out.bin')]);
    try {
      await run(cmd, args, { cwd: dir, timeout: 120_000 });
    } catch (e) {
      const err = e as { signal?: string; code?: number; stderr?: string };
      return { status: 'fail', detail: `the program failed (${err.signal ?? `exit ${err.code}`}): ${(err.stderr ?? '').trim().split('\n').pop()}` };
    }
    const got = await readFile(join(dir, 'out.bin'));
    if (got.length !== want.byteLength) return { status: 'fail', detail: `${got.length} bytes of output, expected ${want.byteLength}` };
    const c = compareOutput('y', 'float32', Buffer.from(want.buffer, want.byteOffset, want.byteLength), got, { rtol: 1e-3, atol: 1e-4, maxUlp: null });
    return c.passed ? { status: 'pass' } : { status: 'fail', detail: `${c.mismatches} of ${c.count} outputs differ, max abs error ${c.maxAbsError.toExponential(2)}, worst ${JSON.stringify(c.worst)}` };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** A network in words, for a failure's message. */
export function describeNet(net: RandomNet): string {
  return `[1, ${net.c}, ${net.h}, ${net.w}] -> ${net.layers.map((l) => JSON.stringify(l)).join(' -> ')} (seed ${net.seed})`;
}
