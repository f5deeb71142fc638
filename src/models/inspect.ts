import { BadRequestException } from '@nestjs/common';
import { onnx } from 'onnx-proto';
import { checkSupported, inferShapes, modelJobProblem, OPS } from '../../compiler/src/compile';
import { LOWERED_OPS } from '../../compiler/src/lower';
import { importOnnx } from '../../compiler/src/import';
import { CompileError, ioType } from '../../compiler/src/ir';

/** The kinds of catalog target (GET /v1/targets, "kind") that the model compiler's C backend serves. */
export const MODEL_TARGET_KINDS = ['cpu', 'wasm'] as const;

export interface InspectedTensor {
  name: string;
  dtype: string;
  shape: (number | string)[];
}

export interface ModelInspection {
  opset: number | null;
  inputs: InspectedTensor[];
  outputs: InspectedTensor[];
  ops: Record<string, number>;
  unsupportedOps: string[];
  unboundDimensions: string[];
  problem: string | null;
}

const DT = onnx.TensorProto.DataType;
const DTYPE_NAMES: Partial<Record<number, string>> = {
  [DT.FLOAT]: 'float32', [DT.DOUBLE]: 'float64', [DT.FLOAT16]: 'float16', [DT.BFLOAT16]: 'bfloat16',
  [DT.INT64]: 'int64', [DT.INT32]: 'int32', [DT.INT16]: 'int16', [DT.INT8]: 'int8',
  [DT.UINT64]: 'uint64', [DT.UINT32]: 'uint32', [DT.UINT16]: 'uint16', [DT.UINT8]: 'uint8',
  [DT.BOOL]: 'bool', [DT.STRING]: 'string',
};

function num(v: unknown): number {
  if (v === null || v === undefined) return 0;
  return typeof v === 'number' ? v : Number((v as { toString(): string }).toString());
}

function declared(vi: onnx.IValueInfoProto, shapes: Record<string, number[]>): InspectedTensor {
  const tt = vi.type?.tensorType;
  const name = vi.name ?? '';
  const given = shapes[name];
  const dims = tt?.shape?.dim ?? [];
  // No shape at all is unknown (not a scalar, which is a shape of no dimensions): ['*'].
  const unknown = tt != null && tt.shape == null;
  return {
    name,
    dtype: DTYPE_NAMES[tt?.elemType ?? 0] ?? (tt ? String(DT[tt.elemType ?? 0] ?? tt.elemType).toLowerCase() : 'not a tensor'),
    shape: given && (unknown || given.length === dims.length) ? [...given] : unknown ? ['*'] : dims.map((d) => (d.dimParam ? d.dimParam : num(d.dimValue) > 0 ? num(d.dimValue) : '?')),
  };
}

/**
 * What a model takes and gives and whether a job with it would be accepted, in the words job
 * creation would use. Unlike job creation it answers for a model whose symbolic dimensions are
 * not bound yet, so a client can ask for the shapes it needs.
 */
export function inspectModel(bytes: Uint8Array, inputShapes: Record<string, number[]>, maxBytes: number): ModelInspection {
  for (const [k, v] of Object.entries(inputShapes)) {
    if (!Array.isArray(v) || v.length > 8 || v.some((d) => !Number.isInteger(d) || d < 1 || d > 1 << 20)) {
      throw new BadRequestException(`inputShapes.${k} must be a list of positive whole numbers`);
    }
  }
  if (bytes.length > maxBytes) throw new BadRequestException(`model: the model is ${bytes.length} bytes; the limit is ${maxBytes}`);
  let model: onnx.ModelProto;
  try {
    model = onnx.ModelProto.decode(bytes);
  } catch (e) {
    throw new BadRequestException(`model: not a valid ONNX model: ${(e as Error).message}`);
  }
  const g = model.graph;
  if (!g) throw new BadRequestException('model: the model has no graph');
  const initializers = new Set((g.initializer ?? []).map((t) => t.name ?? ''));
  const ops: Record<string, number> = {};
  for (const n of g.node ?? []) ops[n.opType ?? ''] = (ops[n.opType ?? ''] ?? 0) + 1;
  const opsetEntry = (model.opsetImport ?? []).find((o) => !o.domain || o.domain === 'ai.onnx');
  const inputs = (g.input ?? []).filter((vi) => !initializers.has(vi.name ?? '')).map((vi) => declared(vi, inputShapes));
  const result: ModelInspection = {
    opset: opsetEntry ? num(opsetEntry.version) : null,
    inputs,
    outputs: (g.output ?? []).map((vi) => declared(vi, {})),
    ops,
    unsupportedOps: Object.keys(ops).filter((op) => !OPS.has(op) && !LOWERED_OPS.has(op)).sort(),
    unboundDimensions: inputs.flatMap((t) => t.shape.filter((d): d is string => typeof d === 'string').map((d) => `${t.name}[${d}]`)),
    problem: null,
  };
  const unknown = Object.keys(inputShapes).filter((k) => !inputs.some((t) => t.name === k));
  try {
    const graph = importOnnx(bytes, { inputShapes, maxBytes });
    checkSupported(graph);
    inferShapes(graph);
    const info = (n: string): InspectedTensor => ({ name: n, dtype: ioType(graph.tensors.get(n)!), shape: graph.tensors.get(n)!.shape });
    result.inputs = graph.inputs.map(info);
    result.outputs = graph.outputs.map(info);
    if (unknown.length) result.problem = `inputShapes: the model has no input ${unknown.join(', ')} (its inputs: ${graph.inputs.join(', ')})`;
    const tensor = (n: string) => ({ ...graph.tensors.get(n)!, dtype: ioType(graph.tensors.get(n)!), name: n });
    const jobProblem = modelJobProblem({ inputs: graph.inputs.map(tensor), outputs: graph.outputs.map(tensor) });
    if (jobProblem && !result.problem) result.problem = `model: ${jobProblem}`;
  } catch (e) {
    if (!(e instanceof CompileError)) throw e;
    result.problem = `model: ${e.message}`;
  }
  return result;
}
