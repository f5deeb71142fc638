import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import * as ort from 'onnxruntime-node';
import { onnx } from 'onnx-proto';
import { ModelBuilder } from '../test/builder';
import { checkSupported, inferShapes } from './compile';
import { importOnnx } from './import';

const INT64 = onnx.TensorProto.DataType.INT64;

/**
 * Shape arithmetic as exporters write it, every input a constant once the input shape is bound:
 * the compiler must fold each of these to the value ONNX Runtime computes, whatever the element
 * type (int64 here, which several of these operators' run-time kernels do not take).
 */
const CASES: { name: string; out?: number; build: (b: ModelBuilder, shape: string) => string }[] = [
  { name: 'Expand', build: (b, s) => b.op('Expand', [b.int64('v', [3, 4]), b.op('Concat', [b.int64('two', [2]), b.int64('one', [1])], { axis: 0 })]) },
  { name: 'Max and Min (int64)', build: (b, s) => b.op('Min', [b.op('Max', [s, b.int64('lo', [3])]), b.int64('hi', [3])]) },
  { name: 'Sum and Mean of shapes (float)', out: onnx.TensorProto.DataType.FLOAT, build: (b, s) => {
    const f = b.op('Cast', [s], { to: 1 });
    return b.op('Mean', [b.op('Sum', [f, f, b.weight('c', [1], [1])]), f]);
  } },
  { name: 'Tile', build: (b, s) => b.op('Tile', [s, b.int64('r', [3])]) },
  { name: 'ReduceProd (int64)', build: (b, s) => b.op('ReduceProd', [s], { keepdims: 1 }) },
  { name: 'ReduceSum (int64, axes input)', build: (b, s) => b.op('ReduceSum', [b.op('Reshape', [s, b.int64('r', [1, 3])]), b.int64('ax', [1])], { keepdims: 0 }) },
  { name: 'ReduceMax (int64)', build: (b, s) => b.op('ReduceMax', [s], { keepdims: 0 }) },
  { name: 'Transpose', build: (b, s) => b.op('Transpose', [b.op('Reshape', [b.op('Concat', [s, s], { axis: 0 }), b.int64('r', [2, 3])])], { perm: [1, 0] }) },
  { name: 'Neg, Abs, Sign', build: (b, s) => b.op('Sign', [b.op('Abs', [b.op('Neg', [s])])]) },
  { name: 'Not, And, Or, Xor into Where', build: (b, s) => {
    const eq = b.op('Equal', [s, b.int64('three', [3])]);
    const gt = b.op('Greater', [s, b.int64('two', [2])]);
    const cond = b.op('Xor', [b.op('Or', [b.op('Not', [eq]), gt]), b.op('And', [eq, gt])]);
    return b.op('Where', [cond, s, b.int64('z', [0])]);
  } },
  { name: 'Split', build: (b, s) => b.node('Split', [b.op('Concat', [s, s], { axis: 0 }), b.int64('sizes', [2, 4])], { axis: 0 }, 2)[1] },
  { name: 'Clip (int64)', build: (b, s) => b.op('Clip', [s, b.op('Squeeze', [b.int64('lo', [3])]), b.op('Squeeze', [b.int64('hi', [3])])]) },
  { name: 'Slice backwards over a 2-D constant (Swin\'s window padding)', build: (b, s) => b.op('Reshape', [b.op('Transpose', [b.op('Slice', [b.op('Reshape', [b.op('Concat', [s, s, b.int64('two', [0, 1])], { axis: 0 }), b.int64('r', [4, 2])]), b.int64('st', [-1]), b.int64('en', [-1000000]), b.int64('ax', [0]), b.int64('step', [-1])])], { perm: [1, 0] }), b.int64('flat', [-1])]) },
  { name: 'Cast of -inf to int64 (T5\'s log of a zero distance)', build: (b, s) => b.op('Cast', [b.op('Log', [b.op('Cast', [b.op('Sub', [s, s])], { to: 1 })])], { to: 7 }) },
  { name: 'ArgMax', build: (b, s) => b.op('ArgMax', [s], { axis: 0, keepdims: 1 }) },
  { name: 'Mod (int64, the divisor\'s sign)', build: (b, s) => b.op('Mod', [b.op('Neg', [s]), b.int64('m', [3])]) },
];

describe('folding shape arithmetic', () => {
  for (const c of CASES) {
    it(`folds ${c.name} to what ONNX Runtime computes`, async () => {
      const b = new ModelBuilder(17);
      const x = b.input('x', [2, 3, 4]);
      const out = c.build(b, b.op('Shape', [x]));
      b.output(out, c.out ?? INT64);
      const bytes = b.build();
      const graph = importOnnx(bytes);
      checkSupported(graph);
      inferShapes(graph);
      const folded = graph.tensors.get(out);
      assert.ok(folded?.data, `${c.name}: not folded`);
      const session = await ort.InferenceSession.create(bytes);
      const r = await session.run({ x: new ort.Tensor('float32', new Float32Array(24), [2, 3, 4]) });
      await session.release();
      const want = r[out];
      assert.deepEqual(folded.shape, want.dims.map(Number), `${c.name}: shape`);
      assert.deepEqual(Array.from(folded.data as ArrayLike<number | bigint>, Number), Array.from(want.data as ArrayLike<number | bigint>, Number), `${c.name}: values`);
    });
  }
});
