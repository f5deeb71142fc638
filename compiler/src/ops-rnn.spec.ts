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
 * LSTM, GRU and RNN: compiled, built with clang for x86_64 and aarch64 (under qemu), run on
 * seeded inputs and compared with ONNX Runtime, on awkward sizes (batch 1 and 3, hidden 1, 5 and
 * 17, input 3 and 33, sequences of 1 and 7), in every direction, with and without initial states
 * and sequence lengths read at run time, in both layouts, and with any subset of the outputs.
 */

const DT = onnx.TensorProto.DataType;
/** ONNX Runtime takes sigmoid and tanh from rational approximations, and sums in another order. */
const TOL = { rtol: 1e-4, atol: 2e-5 };
const GATES = { LSTM: 4, GRU: 3, RNN: 1 } as const;

interface Case {
  op: keyof typeof GATES;
  direction?: 'forward' | 'reverse' | 'bidirectional';
  S: number;
  B: number;
  I: number;
  H: number;
  layout?: 0 | 1;
  /** initial_h (and initial_c) given as run-time inputs. */
  init?: boolean;
  /** sequence_lens, given at run time. */
  lens?: number[];
  bias?: boolean;
  peepholes?: boolean;
  /** Which of Y, Y_h, Y_c are asked for (default all the op has). */
  outputs?: boolean[];
  /** W, R and B given at run time rather than as weights. */
  runtimeWeights?: boolean;
  attrs?: Record<string, number | string | { floats: number[] } | { strings: string[] }>;
}

/**
 * Adds one recurrent node with its inputs and weights to the model, and its inputs' values to feeds
 * (in the graph's input order). For the reference (`reference`), layout 1 is layout 0 between
 * transposes, as ONNX defines it: ONNX Runtime takes only layout 0.
 */
function addCase(b: ModelBuilder, feeds: Record<string, ort.Tensor>, seed: number, c: Case, reference: boolean): void {
  const f = floats(seed);
  const D = c.direction === 'bidirectional' ? 2 : 1;
  const G = GATES[c.op];
  const { S, B, I, H } = c;
  const k = `${c.op.toLowerCase()}${seed}`;
  const viaLayout0 = reference && c.layout === 1;
  const param = (name: string, shape: number[], scale: number) => {
    const v = f(shape, -scale, scale);
    if (!c.runtimeWeights) return b.weight(`${k}_${name}`, shape, v.data as Float32Array);
    feeds[`${k}_${name}`] = v;
    return b.input(`${k}_${name}`, shape);
  };
  const swap = (x: string) => (viaLayout0 ? b.op('Transpose', [x], { perm: [1, 0, 2] }) : x);
  const xShape = c.layout === 1 ? [B, S, I] : [S, B, I];
  feeds[`${k}_x`] = f(xShape, -2, 2);
  const inputs = [swap(b.input(`${k}_x`, xShape))];
  const scale = 1 / Math.sqrt(H);
  inputs.push(param('w', [D, G * H, I], scale), param('r', [D, G * H, H], scale));
  inputs.push(c.bias === false ? '' : param('b', [D, 2 * G * H], scale));
  if (c.lens) {
    feeds[`${k}_lens`] = new ort.Tensor('int32', Int32Array.from(c.lens), [B]);
    inputs.push(b.input(`${k}_lens`, [B], DT.INT32));
  } else inputs.push('');
  const stateShape = c.layout === 1 ? [B, D, H] : [D, B, H];
  if (c.init) {
    feeds[`${k}_h0`] = f(stateShape);
    inputs.push(swap(b.input(`${k}_h0`, stateShape)));
    if (c.op === 'LSTM') {
      feeds[`${k}_c0`] = f(stateShape);
      inputs.push(swap(b.input(`${k}_c0`, stateShape)));
    }
  } else if (c.op === 'LSTM' && c.peepholes) inputs.push('', '');
  if (c.peepholes) inputs.push(b.weight(`${k}_p`, [D, 3 * H], f([D, 3 * H], -0.5, 0.5).data as Float32Array));
  while (inputs[inputs.length - 1] === '') inputs.pop();
  const count = c.op === 'LSTM' ? 3 : 2;
  const layout = viaLayout0 ? 0 : c.layout;
  const outs = b.node(c.op, inputs, { hidden_size: H, ...(c.direction ? { direction: c.direction } : {}), ...(layout !== undefined ? { layout } : {}), ...c.attrs }, count);
  // Outputs not asked for are left out of the node (empty names).
  const wanted = c.outputs ?? [true, true, true];
  const node = (b as unknown as { nodes: onnx.INodeProto[] }).nodes.at(-1)!;
  node.output = outs.map((o, i) => (wanted[i] ? o : ''));
  while (node.output.length && node.output[node.output.length - 1] === '') node.output.pop();
  node.output.forEach((o, i) => o && b.output(viaLayout0 ? b.op('Transpose', [o], { perm: i === 0 ? [2, 0, 1, 3] : [1, 0, 2] }) : o));
}

/** The model of these cases, the model ONNX Runtime runs for reference (the same outputs, by name) and the inputs. */
function model(cases: Case[], opset = 14): { bytes: Uint8Array; reference: Uint8Array; feeds: Record<string, ort.Tensor> } {
  const build = (reference: boolean) => {
    const b = new ModelBuilder(opset, reference ? 'ref_' : '');
    const feeds: Record<string, ort.Tensor> = {};
    cases.forEach((c, i) => addCase(b, feeds, 100 + i, c, reference));
    return { bytes: b.build(), feeds };
  };
  const { bytes, feeds } = build(false);
  const ref = onnx.ModelProto.decode(build(true).bytes);
  const names = onnx.ModelProto.decode(bytes).graph!.output!.map((o) => o.name!);
  ref.graph!.output!.forEach((o, i) => {
    for (const n of ref.graph!.node!) n.output = n.output!.map((x) => (x === o.name ? names[i] : x));
    o.name = names[i];
  });
  return { bytes, reference: onnx.ModelProto.encode(ref).finish(), feeds };
}

/** Compiles the cases and compares every output with ONNX Runtime's. */
async function check(h: OrtHarness, cases: Case[], targets = TARGETS, opset = 14): Promise<void> {
  const { bytes, reference, feeds } = model(cases, opset);
  await h.assertSame(bytes, feeds, await h.ortRun(reference, feeds), targets, TOL);
}

describe('LSTM, GRU and RNN against ONNX Runtime', () => {
  const h = new OrtHarness();
  before(() => h.open());
  after(() => h.close());

  it('LSTM: every direction, initial states and sequence lengths at run time, awkward sizes, any subset of outputs', async () => {
    await check(h, [
      { op: 'LSTM', S: 7, B: 3, I: 33, H: 17, init: true, lens: [7, 3, 5] },
      { op: 'LSTM', direction: 'reverse', S: 7, B: 3, I: 3, H: 5, lens: [2, 7, 4] },
      { op: 'LSTM', direction: 'bidirectional', S: 1, B: 1, I: 3, H: 1 },
      { op: 'LSTM', direction: 'bidirectional', S: 7, B: 3, I: 33, H: 5, init: true, lens: [7, 1, 6] },
      { op: 'LSTM', direction: 'reverse', S: 7, B: 1, I: 3, H: 17, init: true, outputs: [false, true] },
      { op: 'LSTM', direction: 'bidirectional', S: 7, B: 3, I: 3, H: 5, outputs: [true, false, true], bias: false },
      { op: 'LSTM', S: 1, B: 3, I: 33, H: 1, init: true, outputs: [true] },
    ]);
  });

  it('LSTM: peepholes, input_forget, clip, layout 1, activations with alpha and beta', async () => {
    await check(h, [
      { op: 'LSTM', direction: 'bidirectional', S: 7, B: 3, I: 3, H: 5, init: true, lens: [4, 7, 1], peepholes: true },
      { op: 'LSTM', S: 7, B: 3, I: 33, H: 17, peepholes: true, attrs: { input_forget: 1, clip: 0.75 } },
      { op: 'LSTM', direction: 'bidirectional', S: 7, B: 3, I: 3, H: 5, layout: 1, init: true, lens: [7, 2, 5] },
      { op: 'LSTM', direction: 'reverse', S: 1, B: 1, I: 33, H: 17, layout: 1, init: true },
      {
        op: 'LSTM',
        direction: 'bidirectional',
        S: 7,
        B: 1,
        I: 3,
        H: 5,
        attrs: { activations: { strings: ['HardSigmoid', 'LeakyRelu', 'Relu', 'Sigmoid', 'ScaledTanh', 'Tanh'] }, activation_alpha: { floats: [0.3, 0.1, 0.9] }, activation_beta: { floats: [0.4, 1.1] } },
      },
    ]);
  });

  it('GRU: linear_before_reset 0 and 1, every direction, initial state and sequence lengths at run time, layout 1, clip', async () => {
    await check(h, [
      { op: 'GRU', S: 7, B: 3, I: 33, H: 17, init: true, lens: [7, 3, 5] },
      { op: 'GRU', S: 7, B: 3, I: 33, H: 17, init: true, lens: [7, 3, 5], attrs: { linear_before_reset: 1 } },
      { op: 'GRU', direction: 'reverse', S: 7, B: 3, I: 3, H: 5, lens: [2, 7, 4], attrs: { linear_before_reset: 1 } },
      { op: 'GRU', direction: 'bidirectional', S: 1, B: 1, I: 3, H: 1 },
      { op: 'GRU', direction: 'bidirectional', S: 7, B: 3, I: 3, H: 5, init: true, lens: [6, 1, 7], layout: 1 },
      { op: 'GRU', direction: 'bidirectional', S: 7, B: 1, I: 33, H: 5, layout: 1, outputs: [false, true], attrs: { linear_before_reset: 1, clip: 0.5 } },
      { op: 'GRU', direction: 'reverse', S: 7, B: 3, I: 3, H: 17, bias: false, outputs: [true] },
      { op: 'GRU', S: 7, B: 3, I: 3, H: 5, attrs: { activations: { strings: ['HardSigmoid', 'Relu'] }, activation_alpha: { floats: [0.25] } } },
    ]);
  });

  it('RNN: Tanh and Relu, every direction, initial state and sequence lengths at run time, layout 1, clip', async () => {
    await check(h, [
      { op: 'RNN', S: 7, B: 3, I: 33, H: 17, init: true, lens: [7, 3, 5] },
      { op: 'RNN', direction: 'reverse', S: 7, B: 3, I: 3, H: 5, lens: [2, 7, 4], attrs: { activations: { strings: ['Relu'] } } },
      { op: 'RNN', direction: 'bidirectional', S: 1, B: 1, I: 3, H: 1, attrs: { activations: { strings: ['Relu', 'Tanh'] } } },
      { op: 'RNN', direction: 'bidirectional', S: 7, B: 3, I: 3, H: 5, init: true, layout: 1, lens: [1, 7, 3], attrs: { clip: 0.5 } },
      { op: 'RNN', S: 7, B: 1, I: 33, H: 5, outputs: [false, true], bias: false },
    ]);
  });

  it('weights given at run time, the plain loops and two threads give the same results', async () => {
    const cases: Case[] = [
      { op: 'LSTM', direction: 'bidirectional', S: 7, B: 3, I: 33, H: 17, init: true, lens: [7, 3, 5], runtimeWeights: true },
      { op: 'GRU', direction: 'bidirectional', S: 7, B: 3, I: 3, H: 5, init: true, runtimeWeights: true },
      { op: 'GRU', S: 7, B: 3, I: 33, H: 17, lens: [5, 7, 1], layout: 1, attrs: { linear_before_reset: 1 } },
      { op: 'RNN', direction: 'bidirectional', S: 7, B: 3, I: 3, H: 5, runtimeWeights: true },
    ];
    const { bytes, reference, feeds } = model(cases);
    const expected = await h.ortRun(reference, feeds);
    await h.assertSame(bytes, feeds, expected, TARGETS, TOL);
    await h.assertSame(bytes, feeds, expected, [X86], TOL, { kernels: false });
    await h.assertSame(bytes, feeds, expected, [X86], TOL, { threads: 2 });
  });

  it('opset 7 (no layout attribute) and opset 22', async () => {
    for (const opset of [7, 22]) {
      const { bytes, feeds } = model(
        [
          { op: 'LSTM', direction: 'bidirectional', S: 7, B: 3, I: 3, H: 5, init: true, lens: [7, 3, 5] },
          { op: 'GRU', S: 7, B: 1, I: 3, H: 5 },
          { op: 'RNN', direction: 'reverse', S: 7, B: 3, I: 3, H: 5 },
        ],
        opset,
      );
      await h.assertSameAsOrt(bytes, feeds, [X86], TOL);
    }
  });

  it('refuses an activation it does not know, naming it, and the CUDA backend refuses the recurrent operators by name', () => {
    const bad = model([{ op: 'GRU', S: 7, B: 1, I: 3, H: 5, attrs: { activations: { strings: ['Sigmoid', 'Gelu'] } } }]);
    assert.throws(
      () => compileModel(bad.bytes),
      (e: unknown) => e instanceof CompileError && e.code === 'unsupported' && /GRU .*activation Gelu/.test(e.message),
    );
    const lstm = model([{ op: 'LSTM', S: 7, B: 1, I: 3, H: 5 }]);
    // The model's FLOPs count the products of every step.
    assert.ok(compileModel(lstm.bytes).metadata.flops >= 2 * 7 * 4 * 5 * (3 + 5));
    assert.throws(
      () => compileModelCuda(lstm.bytes),
      (e: unknown) => e instanceof CompileError && e.code === 'unsupported' && /LSTM/.test(e.message),
    );
  });
});
