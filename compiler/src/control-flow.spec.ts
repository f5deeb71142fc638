import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import * as ort from 'onnxruntime-node';
import { onnx } from 'onnx-proto';
import { ModelBuilder } from '../test/builder';
import { floats, OrtHarness, TARGETS, X86 } from '../test/ort-harness';
import { compileModel } from './compile';
import { compileModelCuda } from './cuda/generate';
import { CompileError } from './ir';

/*
 * If, Loop and Scan: the subgraphs compiled into the generated C (a branch runs when the
 * condition read at run time says so, a body once per iteration), built with clang for x86_64
 * and aarch64 (under qemu), run and compared with ONNX Runtime; a constant condition folds to
 * the taken branch; what cannot have a static shape is refused, naming the node.
 */

const DT = onnx.TensorProto.DataType;
const TOL = { rtol: 1e-5, atol: 1e-6 };

function scalar(b: ModelBuilder, type: 'int64' | 'bool' | 'float', v: number | bigint): string {
  const data = type === 'int64' ? new Uint8Array(BigInt64Array.from([BigInt(v)]).buffer) : type === 'bool' ? Uint8Array.from([Number(v)]) : new Uint8Array(Float32Array.from([Number(v)]).buffer);
  const dataType = type === 'int64' ? DT.INT64 : type === 'bool' ? DT.BOOL : DT.FLOAT;
  return b.op('Constant', [], { value: { tensor: { dims: [], dataType, rawData: data } } });
}

const bool = (v: boolean) => new ort.Tensor('bool', Uint8Array.from([v ? 1 : 0]), []);
const int64 = (v: number) => new ort.Tensor('int64', BigInt64Array.from([BigInt(v)]), []);

/**
 * An If on an int64 scalar input, as Silero VAD's on the sample rate, whose branches are each
 * written for one length of the input x [1, length]: then_branch (n == 12) reshapes it to [3, 4],
 * else_branch to [3, 2] (6 samples), each reducing to [3]. `elseOp` adds an operator to else_branch;
 * `elseReads` makes it read a name nothing defines.
 */
function lengthIfModel(length: number, opts: { elseOp?: string; elseReads?: string } = {}): Uint8Array {
  const b = new ModelBuilder(17);
  const x = b.input('x', [1, length]);
  const n = b.input('n', [], DT.INT64);
  const is12 = b.op('Equal', [n, scalar(b, 'int64', 12)]);
  const then = new ModelBuilder(17, 'l12_');
  then.output(then.op('ReduceSum', [then.op('Reshape', [x, then.int64('l12_shape', [3, 4])]), then.int64('l12_axes', [1])], { keepdims: 0 }));
  const els = new ModelBuilder(17, 'l6_');
  let r = els.op('Reshape', [opts.elseReads ?? x, els.int64('l6_shape', [3, 2])]);
  if (opts.elseOp) r = els.op(opts.elseOp, [r]);
  els.output(els.op('ReduceMax', [r], { axes: [1], keepdims: 0 }));
  const [y] = b.node('If', [is12], { then_branch: { graph: then.graph('l12') }, else_branch: { graph: els.graph('l6') } });
  b.output(b.op('Relu', [y]));
  b.output(b.op('Neg', [x]));
  return b.build();
}

/** An If whose branches read the outer graph's x and weight w: two outputs, of the same shapes. */
function ifModel(opts: { thenShape?: number[] } = {}): Uint8Array {
  const b = new ModelBuilder(17);
  const f = floats(3);
  const x = b.input('x', [3, 17]);
  const cond = b.input('cond', [], DT.BOOL);
  const w = b.weight('w', [17, 5], f([17, 5]).data as Float32Array);
  const then = new ModelBuilder(17, 'then_');
  const t1 = then.op('Relu', [then.op('MatMul', [x, w])]);
  then.output(opts.thenShape ? then.op('Slice', [t1, then.int64('then_s', [0]), then.int64('then_e', [opts.thenShape[1]]), then.int64('then_a', [1])]) : t1);
  then.output(then.op('Add', [x, x]));
  const els = new ModelBuilder(17, 'else_');
  els.output(els.op('Sigmoid', [els.op('MatMul', [x, w])]));
  els.output(els.op('Mul', [x, els.weight('else_k', [1], [3])]));
  const [o1, o2] = b.node('If', [cond], { then_branch: { graph: then.graph('then') }, else_branch: { graph: els.graph('else') } }, 2);
  b.output(b.op('Add', [o1, b.weight('one', [1], [1])]));
  b.output(o2);
  return b.build();
}

describe('If, Loop and Scan against ONNX Runtime', () => {
  const h = new OrtHarness();
  before(() => h.open());
  after(() => h.close());

  it('If: both branches compiled, the condition read at run time, outer tensors visible in the branches', async () => {
    const bytes = ifModel();
    const x = floats(7)([3, 17]);
    for (const c of [true, false]) await h.assertSameAsOrt(bytes, { x, cond: bool(c) }, TARGETS, TOL);
  });

  it('If on the sample rate, as Silero VAD branches: at run time, or folded to the taken branch when the rate is constant', async () => {
    const b = new ModelBuilder(17);
    const audio = b.input('audio', [1, 64]);
    const sr = b.input('sr', [], DT.INT64);
    const is16k = b.op('Equal', [sr, scalar(b, 'int64', 16000)]);
    const then = new ModelBuilder(17, 'k16_');
    then.output(then.op('Mul', [audio, then.weight('k16_g', [1], [0.5])]));
    const els = new ModelBuilder(17, 'k8_');
    // The 8 kHz branch has a different op, reading the outer audio.
    els.output(els.op('Tanh', [audio]));
    const [y] = b.node('If', [is16k], { then_branch: { graph: then.graph('k16') }, else_branch: { graph: els.graph('k8') } });
    b.output(b.op('Relu', [y]));
    const bytes = b.build();
    const audioIn = floats(9)([1, 64], -3, 3);
    for (const rate of [16000, 8000]) await h.assertSameAsOrt(bytes, { audio: audioIn, sr: int64(rate) }, TARGETS, TOL);
    // With the rate frozen, the If is gone: only the 8 kHz branch's Tanh is compiled.
    const frozen = compileModel(bytes, { constantInputs: { sr: { name: 'sr', dtype: 'int64', shape: [], data: BigInt64Array.from([8000n]) } } });
    assert.deepEqual(Object.keys(frozen.metadata.ops).sort(), ['Relu', 'Tanh']);
    assert.deepEqual(
      frozen.metadata.inputs.map((t) => t.name),
      ['audio'],
    );
  });

  it('If: a branch written for other input shapes than those bound compiles to a return of 3 when taken; the other runs', async () => {
    const bytes = lengthIfModel(12);
    const x = floats(13)([1, 12]);
    const r = await h.assertSameAsOrt(bytes, { x, n: int64(12) }, TARGETS, TOL);
    // Only then_branch is compiled; the If's output has its shape.
    assert.equal(r.metadata.ops.ReduceMax, undefined);
    assert.deepEqual(r.metadata.outputs.map((t) => t.shape), [[3], [1, 12]]);
    const meaning = 'the model took a branch of an If that does not fit the input shapes it was compiled for: the else_branch of If If_3';
    assert.deepEqual(r.metadata.errors, { '3': meaning });
    assert.match(r.header, /or 3 when the model takes a branch of an If that does not fit the input shapes it was compiled for:\n \*   the else_branch of If If_3 \(Reshape If_3\/else\/l6_Reshape_\d+: .*\)/);
    for (const target of TARGETS) {
      const taken = await h.runRaw(bytes, [x.data as Float32Array, BigInt64Array.from([6n])], target);
      assert.equal(taken.status, 107, `${target.triple}: ${taken.stderr}`);
      assert.equal(taken.stderr.trim(), `kiln harness: the model's entry point returned 3: ${meaning}`);
    }
    // Bound to 6 samples, it is then_branch that does not fit.
    const six = lengthIfModel(6);
    const r6 = await h.assertSameAsOrt(six, { x: floats(14)([1, 6]), n: int64(6) }, [X86], TOL);
    assert.deepEqual(r6.metadata.errors, { '3': meaning.replace('else_branch', 'then_branch') });
    assert.equal((await h.runRaw(six, [new Float32Array(6), BigInt64Array.from([12n])], X86)).status, 107);
  });

  it('If nested in a branch of another, and in a Loop body', async () => {
    const b = new ModelBuilder(17);
    const x = b.input('x', [4]);
    const c1 = b.input('c1', [], DT.BOOL);
    const c2 = b.input('c2', [], DT.BOOL);
    const inner = (p: string, op: string) => {
      const g = new ModelBuilder(17, p);
      g.output(g.op(op, [x]));
      return g.graph(p);
    };
    const outerThen = new ModelBuilder(17, 'ot_');
    const [n] = outerThen.node('If', [c2], { then_branch: { graph: inner('itt_', 'Neg') }, else_branch: { graph: inner('ite_', 'Exp') } });
    outerThen.output(outerThen.op('Add', [n, x]));
    const outerElse = new ModelBuilder(17, 'oe_');
    outerElse.output(outerElse.op('Abs', [x]));
    const [y] = b.node('If', [c1], { then_branch: { graph: outerThen.graph('ot') }, else_branch: { graph: outerElse.graph('oe') } });
    b.output(y);
    // A Loop of 5 whose body adds x on even iterations and halves the state on odd ones.
    const body = new ModelBuilder(17, 'lb_');
    const i = body.input('lb_i', [], DT.INT64);
    const cond = body.input('lb_c', [], DT.BOOL);
    const s = body.input('lb_s', [4]);
    const even = body.op('Equal', [body.op('Mod', [i, scalar(body, 'int64', 2)]), scalar(body, 'int64', 0)]);
    const evenB = new ModelBuilder(17, 'ev_');
    evenB.output(evenB.op('Add', [s, x]));
    const oddB = new ModelBuilder(17, 'od_');
    oddB.output(oddB.op('Mul', [s, oddB.weight('od_h', [1], [0.5])]));
    const [s2] = body.node('If', [even], { then_branch: { graph: evenB.graph('ev') }, else_branch: { graph: oddB.graph('od') } });
    body.output(cond, DT.BOOL);
    body.output(s2);
    body.output(body.op('Identity', [s2]));
    const [final, trace] = b.node('Loop', [scalar(b, 'int64', 5), scalar(b, 'bool', 1), b.weight('s0', [4], [1, 2, 3, 4])], { body: { graph: body.graph('lb') } }, 2);
    b.output(final);
    b.output(trace);
    const bytes = b.build();
    const xIn = floats(4)([4]);
    for (const [a, c] of [
      [true, true],
      [true, false],
      [false, true],
    ]) {
      await h.assertSameAsOrt(bytes, { x: xIn, c1: bool(a), c2: bool(c) }, [X86], TOL);
    }
    await h.assertSameAsOrt(bytes, { x: xIn, c1: bool(true), c2: bool(false) }, TARGETS, TOL);
  });

  it('Loop: a constant trip count, loop-carried state, scan outputs, the iteration number, outer tensors in the body', async () => {
    const b = new ModelBuilder(17);
    const f = floats(5);
    const x = b.input('x', [2, 3]);
    const w = b.weight('w', [2, 3], f([2, 3]).data as Float32Array);
    const body = new ModelBuilder(17, 'b_');
    const i = body.input('b_i', [], DT.INT64);
    const cond = body.input('b_c', [], DT.BOOL);
    const s = body.input('b_s', [2, 3]);
    const n = body.input('b_n', [1]);
    const fi = body.op('Cast', [i], { to: DT.FLOAT });
    // A product with a bias and Relu (fused into one kernel in the body), and the Relu of a product of the outer graph's (fused there).
    const w33 = b.weight('w33', [3, 3], f([3, 3]).data as Float32Array);
    const p = body.op('Relu', [body.op('Add', [body.op('MatMul', [s, w33]), b.weight('bias3', [3], [0.1, -0.2, 0.3])])]);
    const q = body.op('Relu', [b.op('MatMul', [x, w33])]);
    const s2 = body.op('Add', [body.op('Add', [body.op('Add', [body.op('Add', [body.op('Mul', [s, w]), x]), fi]), p]), q]);
    body.output(body.op('Identity', [cond]), DT.BOOL);
    body.output(s2);
    body.output(body.op('Add', [n, body.weight('b_one', [1], [1])]));
    body.output(body.op('Relu', [s2]));
    body.output(body.op('ReduceSum', [s2], { keepdims: 0 }));
    const [final, count, trace, sums] = b.node('Loop', [scalar(b, 'int64', 4), scalar(b, 'bool', 1), b.op('Neg', [x]), b.weight('n0', [1], [0])], { body: { graph: body.graph('b') } }, 4);
    [final, count, trace, sums].forEach((o) => b.output(o));
    const bytes = b.build();
    const feeds = { x: floats(6)([2, 3]) };
    const r = await h.assertSameAsOrt(bytes, feeds, TARGETS, TOL);
    assert.match(r.source, /MatMul .*b_MatMul_\d+ \+ Add .* \+ Relu/);
    await h.assertSameAsOrt(bytes, feeds, [X86], TOL, { threads: 2 });
    await h.assertSameAsOrt(bytes, feeds, [X86], TOL, { kernels: false });
  });

  it("counts a loop body's work once per iteration in the model's FLOPs", () => {
    const flops = (trips: number) => {
      const b = new ModelBuilder(17);
      const body = new ModelBuilder(17, 'b_');
      body.input('b_i', [], DT.INT64);
      const c = body.input('b_c', [], DT.BOOL);
      const s = body.input('b_s', [64, 64]);
      body.output(c, DT.BOOL);
      body.output(body.op('MatMul', [s, s]));
      b.output(b.node('Loop', [scalar(b, 'int64', trips), '', b.input('x', [64, 64])], { body: { graph: body.graph('b') } })[0]);
      return compileModel(b.build()).metadata.flops;
    };
    assert.ok(flops(100) > 90 * flops(1), `${flops(100)} for 100 iterations, ${flops(1)} for 1`);
  });

  it("If: branches that reuse each other's names", async () => {
    const b = new ModelBuilder(17);
    const x = b.input('x', [6]);
    const branch = (op: string) => {
      const g = new ModelBuilder(17, 'br_');
      g.output(g.op('Add', [g.op(op, [x]), x]));
      return g.graph(op);
    };
    b.output(b.node('If', [b.input('c', [], DT.BOOL)], { then_branch: { graph: branch('Neg') }, else_branch: { graph: branch('Exp') } })[0]);
    const bytes = b.build();
    for (const c of [true, false]) await h.assertSameAsOrt(bytes, { x: floats(2)([6]), c: bool(c) }, [X86], TOL);
  });

  it('Loop: a trip count read at run time and a condition that ends it early, with loop-carried state only', async () => {
    const b = new ModelBuilder(17);
    const x = b.input('x', [5]);
    const m = b.input('m', [], DT.INT64);
    const body = new ModelBuilder(17, 'b_');
    const i = body.input('b_i', [], DT.INT64);
    body.input('b_c', [], DT.BOOL);
    const s = body.input('b_s', [5]);
    const t = body.input('b_t', [5]);
    body.output(body.op('Less', [i, scalar(body, 'int64', 3)]), DT.BOOL);
    // Each new value is made from the other's last one: the second is the first, passed through.
    body.output(body.op('Add', [body.op('Mul', [t, body.weight('b_k', [1], [0.9])]), x]));
    body.output(s);
    const outs = b.node('Loop', [m, '', x, b.weight('t0', [5], [5, 4, 3, 2, 1])], { body: { graph: body.graph('b') } }, 2);
    outs.forEach((o) => b.output(o));
    const bytes = b.build();
    const xIn = floats(8)([5]);
    for (const trips of [0, 2, 10]) await h.assertSameAsOrt(bytes, { x: xIn, m: int64(trips) }, trips === 10 ? TARGETS : [X86], TOL);
  });

  it("Loop: a while loop as PyTorch exports one (the largest trip count, a condition computed in the body)", async () => {
    const b = new ModelBuilder(17);
    const x = b.input('x', [3]);
    const body = new ModelBuilder(17, 'b_');
    body.input('b_i', [], DT.INT64);
    body.input('b_c', [], DT.BOOL);
    const s = body.input('b_s', [3]);
    const s2 = body.op('Add', [body.op('Mul', [s, body.weight('b_k', [1], [1.5])]), body.weight('b_one', [1], [1])]);
    body.output(body.op('Less', [body.op('ReduceSum', [s2], { keepdims: 0 }), scalar(body, 'float', 40)]), DT.BOOL);
    body.output(s2);
    const [y] = b.node('Loop', [scalar(b, 'int64', 2n ** 63n - 1n), scalar(b, 'bool', 1), x], { body: { graph: body.graph('b') } });
    b.output(y);
    await h.assertSameAsOrt(b.build(), { x: floats(3)([3]) }, TARGETS, TOL);
  });

  it('Scan: two scan inputs along different axes, one reversed; scan outputs along other axes, one reversed; state carried', async () => {
    const b = new ModelBuilder(11);
    const x = b.input('x', [3, 5, 2]);
    const y = b.input('y', [5, 4]);
    const body = new ModelBuilder(11, 'b_');
    const s = body.input('b_s', [2]);
    const xs = body.input('b_xs', [3, 2]);
    const ys = body.input('b_ys', [4]);
    const s2 = body.op('Add', [s, body.op('ReduceSum', [xs], { axes: [0], keepdims: 0 })]);
    body.output(s2);
    body.output(body.op('Mul', [xs, s2]));
    body.output(body.op('Concat', [ys, s2], { axis: 0 }));
    const outs = b.node('Scan', [b.weight('s0', [2], [0.5, -1]), x, y], {
      body: { graph: body.graph('b') },
      num_scan_inputs: 2,
      scan_input_axes: [1, 0],
      scan_input_directions: [0, 1],
      scan_output_axes: [2, 0],
      scan_output_directions: [1, 0],
    }, 3);
    outs.forEach((o) => b.output(o));
    const bytes = b.build();
    const f = floats(12);
    await h.assertSameAsOrt(bytes, { x: f([3, 5, 2]), y: f([5, 4]) }, TARGETS, TOL);
  });

  it('refuses what cannot have a static shape, naming the node, and operators it does not know inside subgraphs', () => {
    assert.throws(
      () => compileModel(ifModel({ thenShape: [3, 4] })),
      (e: unknown) => e instanceof CompileError && e.code === 'unsupported' && /If If_\d+: the branches' output shapes differ/.test(e.message),
    );
    // Scan outputs of a Loop whose trip count is read at run time.
    const b = new ModelBuilder(17);
    const body = new ModelBuilder(17, 'b_');
    body.input('b_i', [], DT.INT64);
    const c = body.input('b_c', [], DT.BOOL);
    const s = body.input('b_s', [2]);
    body.output(c, DT.BOOL);
    body.output(s);
    body.output(body.op('Neg', [s]));
    const outs = b.node('Loop', [b.input('m', [], DT.INT64), '', b.input('s0', [2])], { body: { graph: body.graph('b') } }, 2);
    outs.forEach((o) => b.output(o));
    assert.throws(
      () => compileModel(b.build()),
      (e: unknown) => e instanceof CompileError && e.code === 'unsupported' && /Loop Loop_\d+: .*trip count .*run time/.test(e.message),
    );
    const u = new ModelBuilder(17);
    const x = u.input('x', [2]);
    const then = new ModelBuilder(17, 't_');
    then.output(then.op('FancyOp', [x]));
    const els = new ModelBuilder(17, 'e_');
    els.output(els.op('Neg', [x]));
    u.output(u.node('If', [u.input('c', [], DT.BOOL)], { then_branch: { graph: then.graph('t') }, else_branch: { graph: els.graph('e') } })[0]);
    assert.throws(
      () => compileModel(u.build()),
      (e: unknown) => e instanceof CompileError && e.code === 'unsupported' && /unsupported operators: FancyOp/.test(e.message),
    );
  });

  it('refuses an If whose branches both do not fit the bound shapes, or one that does not fit for a reason other shapes would not change', () => {
    // Neither branch takes 5 samples: then_branch's error.
    assert.throws(
      () => compileModel(lengthIfModel(5)),
      (e: unknown) => e instanceof CompileError && e.code === 'invalid' && /Reshape If_\d+\/then\/l12_Reshape_\d+: cannot reshape \[1,5\]/.test(e.message),
    );
    // An operator the compiler lacks, in the branch that does not fit.
    assert.throws(
      () => compileModel(lengthIfModel(12, { elseOp: 'FancyOp' })),
      (e: unknown) => e instanceof CompileError && e.code === 'unsupported' && /unsupported operators: FancyOp/.test(e.message),
    );
    // A form the compiler lacks, in a branch that otherwise fits: an RNN with an activation it does not have.
    const rnn = new ModelBuilder(17);
    const x = rnn.input('x', [1, 12]);
    const then = new ModelBuilder(17, 't_');
    then.output(then.op('ReduceSum', [x]));
    const els = new ModelBuilder(17, 'e_');
    const w = els.weight('e_w', [1, 1, 1], [0.5]);
    const [, yh] = els.node('RNN', [els.op('Reshape', [x, els.int64('e_shape', [12, 1, 1])]), w, w], { hidden_size: 1, activations: { strings: ['NoSuchActivation'] } }, 2);
    els.output(els.op('Reshape', [yh, els.int64('e_back', [1, 1])]));
    rnn.output(rnn.node('If', [rnn.input('c', [], DT.BOOL)], { then_branch: { graph: then.graph('t') }, else_branch: { graph: els.graph('e') } })[0]);
    assert.throws(
      () => compileModel(rnn.build()),
      (e: unknown) => e instanceof CompileError && e.code === 'unsupported' && /RNN If_\d+\/else\/.*NoSuchActivation/.test(e.message),
    );
    // A branch that reads a name nothing defines.
    assert.throws(
      () => compileModel(lengthIfModel(12, { elseReads: 'nowhere' })),
      (e: unknown) => e instanceof CompileError && e.code === 'invalid' && /nowhere is not produced/.test(e.message),
    );
  });

  it('the CUDA backend refuses If by name', () => {
    assert.throws(
      () => compileModelCuda(ifModel()),
      (e: unknown) => e instanceof CompileError && e.code === 'unsupported' && /\bIf\b/.test(e.message),
    );
  });
});
