import { onnx } from 'onnx-proto';

/**
 * ONNX models that claim far more than their bytes hold or cost far more to read than their
 * size suggests, for tests that the API refuses them without stalling. Built with onnx-proto's
 * encoder, as an exporter would write them.
 */

const FLOAT = onnx.TensorProto.DataType.FLOAT;

function model(graph: onnx.IGraphProto): Uint8Array {
  return onnx.ModelProto.encode({ irVersion: 8, producerName: 'kiln-tests', opsetImport: [{ domain: '', version: 17 }], graph }).finish();
}

function tensorInput(name: string, shape: number[]): onnx.IValueInfoProto {
  return { name, type: { tensorType: { elemType: FLOAT, shape: { dim: shape.map((d) => ({ dimValue: d })) } } } };
}

/**
 * One initializer that declares `count` dimensions (packed int64, one byte each when `dim` is 1)
 * and holds one float: 1 MB of bytes per million dimensions.
 */
export function manyDimsModel(count: number, dim = 1): Uint8Array {
  const dims = new Array<number>(count).fill(dim);
  return model({
    name: 'many-dims',
    node: [{ opType: 'Add', name: 'add', input: ['x', 'w'], output: ['y'] }],
    initializer: [{ name: 'w', dims, dataType: FLOAT, rawData: new Uint8Array(4) }],
    input: [tensorInput('x', [1])],
    output: [{ name: 'y', type: { tensorType: { elemType: FLOAT } } }],
  });
}

/** A chain of `count` Relu nodes (about 20 bytes each). */
export function manyNodesModel(count: number): Uint8Array {
  const node: onnx.INodeProto[] = [];
  for (let i = 0; i < count; i++) node.push({ opType: 'Relu', input: [i === 0 ? 'x' : (i - 1).toString(36)], output: [i === count - 1 ? 'y' : i.toString(36)] });
  return model({ name: 'many-nodes', node, input: [tensorInput('x', [1, 4])], output: [{ name: 'y', type: { tensorType: { elemType: FLOAT } } }] });
}
