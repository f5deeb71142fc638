import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { onnx } from 'onnx-proto';
import { BENCH_MODELS, TEST_MODELS } from '../../compiler/test/models';
import { toHalfModel } from '../../compiler/test/builder';
import { MAX_NESTING, MAX_RANK, ModelClaimError, prescanOnnx } from './onnx-prescan';

const FLOAT = onnx.TensorProto.DataType.FLOAT;
const INT64 = onnx.TensorProto.DataType.INT64;
const LIMITS = { maxNodes: 1000 };

function encode(graph: onnx.IGraphProto, extra: Partial<onnx.IModelProto> = {}): Uint8Array {
  return onnx.ModelProto.encode({ irVersion: 8, opsetImport: [{ domain: '', version: 17 }], graph, ...extra }).finish();
}

function refused(bytes: Uint8Array, message: RegExp, limits = LIMITS): void {
  assert.throws(() => prescanOnnx(bytes, limits), (e: unknown) => e instanceof ModelClaimError && message.test(e.message));
}

/** A length-delimited field: its key, its length as a varint, its bytes. */
function field(key: number, bytes: number[] | Uint8Array): Uint8Array {
  const len: number[] = [];
  for (let n = bytes.length; ; n >>>= 7) {
    if (n < 0x80) {
      len.push(n);
      break;
    }
    len.push((n & 0x7f) | 0x80);
  }
  return new Uint8Array([key, ...len, ...bytes]);
}

function relu(i: number): onnx.INodeProto {
  return { opType: 'Relu', input: [`t${i}`], output: [`t${i + 1}`] };
}

describe('prescanOnnx', () => {
  it('passes the models the compiler is tested and benchmarked with, half-precision ones too', () => {
    for (const m of [...TEST_MODELS, ...BENCH_MODELS]) prescanOnnx(m.build(), { maxNodes: 100_000 });
    prescanOnnx(toHalfModel(TEST_MODELS[0].build()), { maxNodes: 100_000 });
    const s = prescanOnnx(TEST_MODELS[0].build(), { maxNodes: 100_000 });
    assert.ok(s.nodes > 0 && s.tensors > 0);
  });

  it('refuses a tensor of more dimensions than any tensor has, packed or one by one, naming it', () => {
    const dims = new Array<number>(MAX_RANK + 1).fill(1);
    refused(encode({ initializer: [{ name: 'w', dims, dataType: FLOAT, rawData: new Uint8Array(4) }] }), new RegExp(`initializer w declares ${MAX_RANK + 1} dimensions; a tensor may have at most ${MAX_RANK}`));
    // One by one (not packed): field 1 as a varint, repeated; then data_type FLOAT.
    const tensor = [...Array.from({ length: MAX_RANK + 1 }, () => [0x08, 0x01]).flat(), 0x10, 0x01];
    refused(field(0x3a, field(0x2a, tensor)), /declares 65 dimensions/);
    // Exactly MAX_RANK is fine.
    prescanOnnx(encode({ initializer: [{ name: 'w', dims: dims.slice(1), dataType: FLOAT, rawData: new Uint8Array(4) }] }), LIMITS);
  });

  it('refuses a declared shape of too many dimensions, in inputs, outputs and value_info', () => {
    const shape = { dim: Array.from({ length: MAX_RANK + 1 }, () => ({ dimValue: 1 })) };
    refused(encode({ input: [{ name: 'x', type: { tensorType: { elemType: FLOAT, shape } } }] }), /input x's shape declares 65 dimensions/);
    refused(encode({ valueInfo: [{ name: 'v', type: { sequenceType: { elemType: { tensorType: { elemType: FLOAT, shape } } } } }] }), /value_info v's shape declares 65/);
  });

  it('refuses a tensor that claims more elements than its data holds, in every form the data may take', () => {
    refused(encode({ initializer: [{ name: 'w', dims: [1024, 1024], dataType: FLOAT, rawData: new Uint8Array(16) }] }), /initializer w declares 1048576 elements, but its data holds at most 4/);
    refused(encode({ initializer: [{ name: 'w', dims: [3], dataType: FLOAT, floatData: [1, 2] }] }), /declares 3 elements, but its data holds at most 2/);
    refused(encode({ initializer: [{ name: 'i', dims: [5], dataType: INT64, int64Data: [1, 2, 3] }] }), /initializer i declares 5 elements, but its data holds at most 3/);
    refused(encode({ initializer: [{ name: 'big', dims: [2 ** 40, 2 ** 40], dataType: FLOAT, rawData: new Uint8Array(4) }] }), /declares more than 2\^53 elements/);
    refused(encode({ initializer: [{ name: 'neg', dims: [-1], dataType: FLOAT, rawData: new Uint8Array(4) }] }), /initializer neg has a negative dimension/);
    // In a node's attribute (a Constant's value) too.
    refused(encode({ node: [{ opType: 'Constant', name: 'c', output: ['y'], attribute: [{ name: 'value', type: 4, t: { dims: [100], dataType: FLOAT, rawData: new Uint8Array(8) } }] }] }), /node c: attribute tensor declares 100 elements, but its data holds at most 2/);
    // What it holds, it may claim: an empty tensor, a scalar, data that is external.
    prescanOnnx(encode({ initializer: [{ name: 'e', dims: [0, 5], dataType: FLOAT }, { name: 's', dims: [], dataType: FLOAT, floatData: [1] }] }), LIMITS);
    prescanOnnx(encode({ initializer: [{ name: 'x', dims: [1 << 20], dataType: FLOAT, dataLocation: onnx.TensorProto.DataLocation.EXTERNAL, externalData: [{ key: 'location', value: 'w.bin' }] }] }), LIMITS);
  });

  it('counts the nodes of subgraphs and functions with the graph', () => {
    const nodes = (n: number) => Array.from({ length: n }, (_, i) => relu(i));
    prescanOnnx(encode({ node: nodes(1000) }), LIMITS);
    refused(encode({ node: nodes(1001) }), /more than 1000 nodes/);
    const withBody = (n: number) => encode({ node: [...nodes(500), { opType: 'If', name: 'if', input: ['c'], output: ['y'], attribute: [{ name: 'then_branch', type: 5, g: { node: nodes(n) } }] }] });
    prescanOnnx(withBody(499), LIMITS);
    refused(withBody(500), /more than 1000 nodes \(its subgraphs and functions included\)/);
    refused(encode({ node: nodes(600) }, { functions: [{ name: 'f', node: nodes(401) }] }), /more than 1000 nodes/);
    refused(encode({ input: Array.from({ length: 1001 }, (_, i) => ({ name: `x${i}` })) }), /the graph has more than 1000 inputs/);
  });

  it('refuses subgraphs nested beyond the bound, without recursing past it', () => {
    let g: onnx.IGraphProto = { node: [relu(0)] };
    for (let i = 0; i < MAX_NESTING; i++) g = { node: [{ opType: 'If', input: ['c'], output: ['y'], attribute: [{ name: 'then_branch', type: 5, g }] }] };
    refused(encode(g), /nests messages .* more than 64 levels deep/);
  });

  it('refuses bytes that are not a protobuf message', () => {
    refused(new Uint8Array([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 1, 2, 3]), /not a valid ONNX model/);
    refused(new Uint8Array([0x3a, 0x05, 0x0a]), /not a valid ONNX model/);
    refused(new Uint8Array([0x0b]), /wire type 3/);
    refused(new Uint8Array([0x3b]), /the graph is not a message/);
  });
});
