import { ModelBuilder, toHalfModel, randomWeights } from './builder';

let seed = 1;
const w = (b: ModelBuilder, name: string, shape: number[], fanIn: number) => b.weight(name, shape, randomWeights(seed++, shape.reduce((x, y) => x * y, 1), 1 / Math.sqrt(fanIn)));
const bn = (b: ModelBuilder, x: string, c: number, name: string) =>
  b.op('BatchNormalization', [
    x,
    b.weight(`${name}_scale`, [c], randomWeights(seed++, c, 0.5).map((v) => 1 + v)),
    b.weight(`${name}_bias`, [c], randomWeights(seed++, c, 0.1)),
    b.weight(`${name}_mean`, [c], randomWeights(seed++, c, 0.1)),
    b.weight(`${name}_var`, [c], randomWeights(seed++, c, 0.3).map((v) => 1 + v)),
  ], { epsilon: 1e-5 });

/** A two-layer perceptron with a batch dimension the request binds. */
export function mlp(): Uint8Array {
  const b = new ModelBuilder();
  const x = b.input('x', ['batch', 16]);
  let h = b.op('Gemm', [x, w(b, 'w1', [32, 16], 16), w(b, 'b1', [32], 16)], { transB: 1 });
  h = b.op('Relu', [h]);
  h = b.op('Gemm', [h, w(b, 'w2', [10, 32], 32), w(b, 'b2', [10], 32)], { transB: 1 });
  b.output(b.op('Softmax', [h], { axis: 1 }));
  return b.build('mlp');
}

/** A LeNet-style CNN: conv, pool, conv, pool, fully connected. */
export function lenet(): Uint8Array {
  const b = new ModelBuilder();
  const x = b.input('image', [1, 1, 28, 28]);
  let h = b.op('Conv', [x, w(b, 'c1', [6, 1, 5, 5], 25), w(b, 'c1b', [6], 25)], { pads: [2, 2, 2, 2] });
  h = b.op('MaxPool', [b.op('Relu', [h])], { kernel_shape: [2, 2], strides: [2, 2] });
  h = b.op('Conv', [h, w(b, 'c2', [16, 6, 5, 5], 150), w(b, 'c2b', [16], 150)]);
  h = b.op('AveragePool', [b.op('Relu', [h])], { kernel_shape: [2, 2], strides: [2, 2] });
  h = b.op('Flatten', [h], { axis: 1 });
  h = b.op('Relu', [b.op('Gemm', [h, w(b, 'f1', [120, 400], 400), w(b, 'f1b', [120], 400)], { transB: 1 })]);
  h = b.op('Gemm', [h, w(b, 'f2', [10, 120], 120), w(b, 'f2b', [10], 120)], { transB: 1 });
  b.output(b.op('LogSoftmax', [h], { axis: 1 }));
  return b.build('lenet');
}

/** A MobileNet-style inverted residual: 1x1 expand, depthwise 3x3, 1x1 project, residual. */
export function mobilenetBlock(): Uint8Array {
  const b = new ModelBuilder();
  const x = b.input('x', [1, 16, 14, 14]);
  let h = b.op('Conv', [x, w(b, 'e', [64, 16, 1, 1], 16)]);
  h = b.op('Clip', [bn(b, h, 64, 'bn1'), b.weight('zero', [], [0]), b.weight('six', [], [6])]);
  h = b.op('Conv', [h, w(b, 'dw', [64, 1, 3, 3], 9)], { group: 64, pads: [1, 1, 1, 1], strides: [2, 2] });
  h = b.op('HardSwish', [bn(b, h, 64, 'bn2')]);
  h = bn(b, b.op('Conv', [h, w(b, 'p', [16, 64, 1, 1], 64)]), 16, 'bn3');
  const skip = b.op('MaxPool', [x], { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] });
  h = b.op('Add', [h, skip]);
  b.output(b.op('GlobalAveragePool', [h]));
  return b.build('mobilenet_block');
}

/** A ResNet basic block: two 3x3 convolutions with batch norm and a residual connection. */
export function resnetBlock(): Uint8Array {
  const b = new ModelBuilder();
  const x = b.input('x', [1, 8, 16, 16]);
  let h = b.op('Relu', [bn(b, b.op('Conv', [x, w(b, 'k1', [8, 8, 3, 3], 72)], { pads: [1, 1, 1, 1] }), 8, 'n1')]);
  h = bn(b, b.op('Conv', [h, w(b, 'k2', [8, 8, 3, 3], 72)], { auto_pad: 'SAME_UPPER' }), 8, 'n2');
  b.output(b.op('Relu', [b.op('Add', [h, x])]));
  return b.build('resnet_block');
}

/**
 * A transformer encoder layer (one head): layer norm, attention, residual, layer norm, a GELU
 * feed-forward, residual, with the Shape/Gather/Concat/Reshape plumbing that exporters emit.
 */
export function transformerLayer(): Uint8Array {
  const b = new ModelBuilder();
  const T = 8;
  const D = 32;
  const x = b.input('tokens', [1, T, D]);
  const ln = (v: string, name: string) => b.op('LayerNormalization', [v, b.weight(`${name}_g`, [D], randomWeights(seed++, D, 0.2).map((g) => 1 + g)), w(b, `${name}_b`, [D], 10)], { axis: -1, epsilon: 1e-5 });
  const h = ln(x, 'ln1');
  const q = b.op('MatMul', [h, w(b, 'wq', [D, D], D)]);
  const k = b.op('MatMul', [h, w(b, 'wk', [D, D], D)]);
  const v = b.op('MatMul', [h, w(b, 'wv', [D, D], D)]);
  const scores = b.op('Div', [b.op('MatMul', [q, b.op('Transpose', [k], { perm: [0, 2, 1] })]), b.weight('scale', [], [Math.sqrt(D)])]);
  const attn = b.op('MatMul', [b.op('Softmax', [scores], { axis: -1 }), v]);
  const r1 = b.op('Add', [x, b.op('MatMul', [attn, w(b, 'wo', [D, D], D)])]);
  // Flatten [1, T, D] to [T, D] the way exporters do: Shape -> Gather -> Concat -> Reshape.
  const shape = b.op('Shape', [r1]);
  const dim1 = b.op('Gather', [shape, b.int64('i1', [1])], { axis: 0 });
  const dim2 = b.op('Gather', [shape, b.int64('i2', [2])], { axis: 0 });
  const flat = b.op('Reshape', [r1, b.op('Concat', [dim1, dim2], { axis: 0 })]);
  const h2 = ln(flat, 'ln2');
  const f1 = b.op('Add', [b.op('MatMul', [h2, w(b, 'w1', [D, 64], D)]), w(b, 'b1', [64], D)]);
  const gelu = b.op('Mul', [b.op('Mul', [f1, b.weight('half', [], [0.5])]), b.op('Add', [b.op('Erf', [b.op('Div', [f1, b.weight('sqrt2', [], [Math.SQRT2])])]), b.weight('one', [], [1])])]);
  const f2 = b.op('Add', [b.op('MatMul', [gelu, w(b, 'w2', [64, D], 64)]), w(b, 'b2', [D], 64)]);
  b.output(b.op('Add', [flat, f2]));
  return b.build('transformer_layer');
}

/** An MNIST-sized perceptron: 784 -> 256 -> 256 -> 10, Relu, Softmax. */
export function mlpMnist(): Uint8Array {
  const b = new ModelBuilder();
  const x = b.input('x', ['batch', 784]);
  let h = b.op('Relu', [b.op('Gemm', [x, w(b, 'w1', [256, 784], 784), w(b, 'b1', [256], 784)], { transB: 1 })]);
  h = b.op('Relu', [b.op('Gemm', [h, w(b, 'w2', [256, 256], 256), w(b, 'b2', [256], 256)], { transB: 1 })]);
  h = b.op('Gemm', [h, w(b, 'w3', [10, 256], 256), w(b, 'b3', [10], 256)], { transB: 1 });
  b.output(b.op('Softmax', [h], { axis: 1 }));
  return b.build('mlp_mnist');
}

/**
 * A MobileNetV2 inverted residual block at full size: 1x1 expand + BN + ReLU6, depthwise 3x3 +
 * BN + ReLU6, 1x1 project + BN, residual add; [1, c, hw, hw] in and out.
 */
export function mobilenetV2Block(c = 32, hw = 112, expand = 4): Uint8Array {
  const b = new ModelBuilder();
  const e = c * expand;
  const relu6 = (v: string) => b.op('Clip', [v, b.weight(`zero${seed}`, [], [0]), b.weight(`six${seed++}`, [], [6])]);
  const x = b.input('x', [1, c, hw, hw]);
  let h = relu6(bn(b, b.op('Conv', [x, w(b, 'expand', [e, c, 1, 1], c)]), e, 'bn1'));
  h = relu6(bn(b, b.op('Conv', [h, w(b, 'dw', [e, 1, 3, 3], 9)], { group: e, pads: [1, 1, 1, 1] }), e, 'bn2'));
  h = bn(b, b.op('Conv', [h, w(b, 'project', [c, e, 1, 1], e)]), c, 'bn3');
  b.output(b.op('Add', [h, x]));
  return b.build('mobilenet_v2_block');
}

/** A ResNet-18/34 basic block at its first stage's size: [1, c, hw, hw], two 3x3 conv + BN, residual, Relu. */
export function resnetBasicBlock(c = 64, hw = 56): Uint8Array {
  const b = new ModelBuilder();
  const x = b.input('x', [1, c, hw, hw]);
  let h = b.op('Relu', [bn(b, b.op('Conv', [x, w(b, 'k1', [c, c, 3, 3], 9 * c)], { pads: [1, 1, 1, 1] }), c, 'n1')]);
  h = bn(b, b.op('Conv', [h, w(b, 'k2', [c, c, 3, 3], 9 * c)], { pads: [1, 1, 1, 1] }), c, 'n2');
  b.output(b.op('Relu', [b.op('Add', [h, x])]));
  return b.build('resnet_basic_block');
}

/**
 * A BERT-style encoder layer (post-norm): multi-head self-attention (QKV projections with bias,
 * scaled dot products, Softmax), residual + LayerNormalization, a GELU (Erf) feed-forward of 4d,
 * residual + LayerNormalization. [1, T, D] in and out.
 */
export function encoderLayer(T = 128, D = 256, heads = 4): Uint8Array {
  const b = new ModelBuilder();
  const dh = D / heads;
  const x = b.input('tokens', [1, T, D]);
  const lin = (v: string, name: string, din: number, dout: number) => b.op('Add', [b.op('MatMul', [v, w(b, `${name}_w`, [din, dout], din)]), w(b, `${name}_b`, [dout], din)]);
  const ln = (v: string, name: string) => b.op('LayerNormalization', [v, b.weight(`${name}_g`, [D], randomWeights(seed++, D, 0.2).map((g) => 1 + g)), w(b, `${name}_b`, [D], 10)], { axis: -1, epsilon: 1e-5 });
  const split = (v: string) => b.op('Transpose', [b.op('Reshape', [v, b.int64(`split${seed++}`, [1, T, heads, dh])])], { perm: [0, 2, 1, 3] });
  const q = split(lin(x, 'q', D, D));
  const k = b.op('Transpose', [b.op('Reshape', [lin(x, 'k', D, D), b.int64(`splitk${seed++}`, [1, T, heads, dh])])], { perm: [0, 2, 3, 1] });
  const v = split(lin(x, 'v', D, D));
  const scores = b.op('Div', [b.op('MatMul', [q, k]), b.weight('scale', [], [Math.sqrt(dh)])]);
  const ctxv = b.op('MatMul', [b.op('Softmax', [scores], { axis: -1 }), v]);
  const merged = b.op('Reshape', [b.op('Transpose', [ctxv], { perm: [0, 2, 1, 3] }), b.int64(`merge${seed++}`, [1, T, D])]);
  const h = ln(b.op('Add', [x, lin(merged, 'o', D, D)]), 'ln1');
  const f1 = lin(h, 'ff1', D, 4 * D);
  const gelu = b.op('Mul', [b.op('Mul', [f1, b.weight('half', [], [0.5])]), b.op('Add', [b.op('Erf', [b.op('Div', [f1, b.weight('sqrt2', [], [Math.SQRT2])])]), b.weight('one', [], [1])])]);
  b.output(ln(b.op('Add', [h, lin(gelu, 'ff2', 4 * D, D)]), 'ln2'));
  return b.build('encoder_layer');
}

/** A plain 512x512x512 GEMM (MatMul of an input by constant weights), for GFLOP/s. */
export function gemm512(n = 512): Uint8Array {
  const b = new ModelBuilder();
  const x = b.input('a', [n, n]);
  b.output(b.op('MatMul', [x, w(b, 'b', [n, n], n)]));
  return b.build('gemm');
}

/** The benchmark's models, at realistic sizes (npm run bench:models). */
export const BENCH_MODELS: { name: string; build: () => Uint8Array; inputShapes?: Record<string, number[]>; flops?: number }[] = [
  { name: 'mlp 16-32-10 b4 (test)', build: mlp, inputShapes: { x: [4, 16] } },
  { name: 'mlp 784-256-256-10 b16', build: mlpMnist, inputShapes: { x: [16, 784] } },
  { name: 'lenet 28x28', build: lenet },
  { name: 'mobilenetv2 112x112x32', build: () => mobilenetV2Block() },
  { name: 'resnet block 56x56x64', build: () => resnetBasicBlock() },
  { name: 'encoder T128 d256 h4', build: () => encoderLayer() },
  { name: 'gemm 512x512x512', build: () => gemm512(), flops: 2 * 512 ** 3 },
  { name: 'mlp 784-256-256-10 f16', build: () => toHalfModel(mlpMnist()), inputShapes: { x: [16, 784] } },
  { name: 'resnet block f16', build: () => toHalfModel(resnetBasicBlock()) },
];

export const TEST_MODELS: { name: string; build: () => Uint8Array; inputShapes?: Record<string, number[]> }[] = [
  { name: 'mlp', build: mlp, inputShapes: { x: [4, 16] } },
  { name: 'lenet', build: lenet },
  { name: 'mobilenet_block', build: mobilenetBlock },
  { name: 'resnet_block', build: resnetBlock },
  { name: 'transformer_layer', build: transformerLayer },
];

/**
 * Thirty element-wise operators and a LogSumExp, each an output, on one input that holds NaN, -0,
 * both infinities and large values: for checking a backend's special values against ONNX Runtime.
 * `ops` names each output's operator.
 */
export function specialValuesModel(): { bytes: Uint8Array; ops: string[]; input: Float32Array; shape: number[] } {
  const b = new ModelBuilder();
  const x = b.input('x', [1, 10]);
  const c0 = b.weight('c0', [10], new Array(10).fill(0));
  const c1 = b.weight('c1', [10], [1, -1, 1, -1, 1, -1, 1, -1, 1, -1]);
  const unary = ['Relu', 'HardSigmoid', 'HardSwish', 'Celu', 'LeakyRelu', 'Elu', 'Selu', 'Softplus', 'Softsign', 'ThresholdedRelu', 'Sigmoid', 'Tanh', 'Abs', 'Neg', 'Sqrt', 'Exp', 'Log', 'Floor', 'Ceil', 'Round', 'Sign', 'Erf', 'Reciprocal', 'Shrink'];
  for (const op of unary) b.output(b.op(op, [x]));
  for (const op of ['Max', 'Min', 'Sum', 'Mean']) b.output(b.op(op, [x, c0, c1]));
  b.output(b.op('PRelu', [x, b.weight('slope', [10], new Array(10).fill(0.1))]));
  b.output(b.op('Clip', [x, b.weight('lo', [], [-1]), b.weight('hi', [], [1])]));
  // LogSumExp over pairs of the inputs: large, very negative, infinite and NaN sums.
  b.output(b.op('ReduceLogSumExp', [b.op('Reshape', [x, b.int64('pairs', [5, 2])])], { axes: [1], keepdims: 0 }));
  return {
    bytes: b.build('special_values'),
    ops: [...unary, 'Max', 'Min', 'Sum', 'Mean', 'PRelu', 'Clip', 'ReduceLogSumExp'],
    input: Float32Array.from([NaN, -0, Infinity, -Infinity, 0.5, -0.5, -150, -200, 100, 90]),
    shape: [1, 10],
  };
}
