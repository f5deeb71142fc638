import { strict as assert } from 'node:assert';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { onnx } from 'onnx-proto';
import { compareOutput } from '../../src/verification/compare';
import { prng } from '../../src/verification/inputs';
import { compileModel } from '../src/compile';
import { VERIFY_DTYPE } from '../src/conformance';
import { modelHarness } from '../src/harness';
import { ioBytes } from '../src/ir';

/*
 * Compiles a model, builds it with clang for a target (x86_64 natively, aarch64 under qemu), runs
 * it on raw inputs through the generated harness, and compares every output with ONNX Runtime's
 * or with expected values the test computes itself.
 */

export type Target = { triple: string; run: (exe: string, args: string[]) => string[] };
export const X86: Target = { triple: 'x86_64-linux-gnu', run: (exe, args) => [exe, ...args] };
export const ARM64: Target = { triple: 'aarch64-linux-gnu', run: (exe, args) => ['qemu-aarch64', '-cpu', 'max', exe, ...args] };
export const TARGETS = [X86, ARM64];
/** The compiler's options a test varies: the kernel library or the plain loops, and threads. */
export type Options = { kernels?: boolean; threads?: number };
export type Tolerance = { rtol: number; atol: number };

/** Seeded float32 inputs in [lo, hi) (default [-1, 1)). */
export function floats(seed: number) {
  const rand = prng(seed);
  return (shape: number[], lo = -1, hi = 1) => new ort.Tensor('float32', Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => lo + rand() * (hi - lo)), shape);
}

export interface RunResult {
  status: number | null;
  stderr: string;
  outputs: Buffer[];
  metadata: ReturnType<typeof compileModel>['metadata'];
  source: string;
  header: string;
}

/** A scratch directory for builds, made before the suite's tests and removed after. */
export class OrtHarness {
  private dir = '';

  async open(): Promise<void> {
    this.dir = await mkdtemp(join(tmpdir(), 'kiln-ops-'));
  }

  async close(): Promise<void> {
    if (this.dir) await rm(this.dir, { recursive: true, force: true });
  }

  /** Builds a model with the harness for a target and runs it on raw inputs: the exit status, stderr, and the outputs' bytes. */
  async runRaw(bytes: Uint8Array, inputs: ArrayBufferView[], target: Target, opts: Options = {}): Promise<RunResult> {
    const dir = this.dir;
    const { files, metadata } = compileModel(bytes, { name: 'net', ...opts });
    for (const [name, content] of Object.entries(files)) await writeFile(join(dir, name), content);
    await writeFile(join(dir, 'harness.c'), modelHarness(metadata));
    const exe = join(dir, `net-${target.triple}`);
    execFileSync('clang-19', [`--target=${target.triple}`, '-std=c23', '-O2', '-fuse-ld=lld', '-static', '-ffp-contract=off', '-Wall', '-Werror', '-Wno-unused-function', '-I', dir, join(dir, 'net.c'), join(dir, 'harness.c'), '-o', exe, '-lm', ...(opts.threads ? ['-lpthread'] : [])], { cwd: dir });
    await writeFile(join(dir, 'inputs.bin'), Buffer.concat(inputs.map((a) => Buffer.from(a.buffer, a.byteOffset, a.byteLength))));
    await rm(join(dir, 'outputs.bin'), { force: true });
    const [cmd, ...args] = target.run(exe, [join(dir, 'inputs.bin'), join(dir, 'outputs.bin')]);
    const r = spawnSync(cmd, args, { cwd: dir, encoding: 'utf8', timeout: 120_000 });
    const out = r.status === 0 ? await readFile(join(dir, 'outputs.bin')) : Buffer.alloc(0);
    let o = 0;
    const outputs = metadata.outputs.map((t) => {
      const n = ioBytes(t.dtype, t.shape.reduce((a, b) => a * b, 1));
      o += n;
      return Buffer.from(out.subarray(o - n, o));
    });
    return { status: r.status, stderr: r.stderr, outputs, metadata, source: files['net.c'] as string, header: files['net.h'] as string };
  }

  /** The name of a model's output i. */
  outputName(bytes: Uint8Array, i = 0): string {
    return onnx.ModelProto.decode(bytes).graph!.output![i].name!;
  }

  /** ONNX Runtime's outputs for a model, by name. */
  async ortRun(bytes: Uint8Array, feeds: Record<string, ort.Tensor>): Promise<Record<string, ort.Tensor>> {
    const session = await ort.InferenceSession.create(bytes);
    const r = await session.run(feeds);
    await session.release();
    return r as Record<string, ort.Tensor>;
  }

  /**
   * Runs the model on every target and checks each output against `expected` (by output name: ONNX
   * Runtime's outputs unless given): the same shape, floats within the tolerance (numpy's isclose),
   * other types exactly.
   */
  async assertSame(bytes: Uint8Array, feeds: Record<string, ort.Tensor>, expected: Record<string, { dims: readonly number[]; data: unknown }>, targets = TARGETS, tol: Tolerance = { rtol: 1e-5, atol: 1e-6 }, opts: Options = {}): Promise<RunResult> {
    let last: RunResult | undefined;
    for (const target of targets) {
      const r = await this.runRaw(bytes, Object.values(feeds).map((t) => t.data as ArrayBufferView), target, opts);
      assert.equal(r.status, 0, r.stderr);
      r.metadata.outputs.forEach((t, i) => {
        const e = expected[t.name];
        assert.ok(e, `no expected values for ${t.name}`);
        assert.deepEqual(t.shape, [...e.dims], t.name);
        const data = e.data as ArrayBufferView;
        const float = t.dtype === 'float32' || t.dtype === 'float64';
        const c = compareOutput(t.name, VERIFY_DTYPE[t.dtype as 'float32'], Buffer.from(data.buffer, data.byteOffset, data.byteLength), r.outputs[i], float ? { ...tol, maxUlp: null } : { rtol: 0, atol: 0, maxUlp: null });
        assert.ok(c.passed, `output ${i} (${t.name}) on ${target.triple}: ${c.mismatches} of ${c.count} differ, worst ${JSON.stringify(c.worst)}`);
      });
      last = r;
    }
    return last!;
  }

  /** As assertSame, against ONNX Runtime's outputs on the same inputs. */
  async assertSameAsOrt(bytes: Uint8Array, feeds: Record<string, ort.Tensor>, targets = TARGETS, tol: Tolerance = { rtol: 1e-5, atol: 1e-6 }, opts: Options = {}): Promise<RunResult> {
    return this.assertSame(bytes, feeds, await this.ortRun(bytes, feeds), targets, tol, opts);
  }
}
