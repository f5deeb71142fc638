import { onnx } from 'onnx-proto';
import { checkSupported, inferShapes, modelJobProblem, OPS } from '../../compiler/src/compile';
import { checkCudaSupported } from '../../compiler/src/cuda/generate';
import { fuse } from '../../compiler/src/fuse';
import { LOWERED_OPS } from '../../compiler/src/lower';
import { importOnnx } from '../../compiler/src/import';
import { CompileError, ioType } from '../../compiler/src/ir';
import { ModelClaimError, prescanOnnx } from './onnx-prescan';

/*
 * Reading a model is costly and may be made costlier on purpose, so these run on a worker
 * thread (model-worker.ts, through ModelCheckService), never on the API's event loop; they
 * need nothing from Nest.
 */

/** Why a model (or the shapes given for it) is refused: a 400 with this message. */
export class ModelRefusal extends Error {
  override readonly name = 'ModelRefusal';
}

/** Bounds on reading a model, from the configuration. */
export interface ModelReadLimits {
  /** Largest model accepted (KILN_MAX_UPLOAD_BYTES). */
  maxBytes: number;
  /** Nodes in the model, subgraphs and functions included (KILN_MODEL_MAX_NODES). */
  maxNodes: number;
}

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
export function inspectModel(bytes: Uint8Array, inputShapes: Record<string, number[]>, limits: ModelReadLimits): ModelInspection {
  checkInputShapes(inputShapes);
  prescan(bytes, limits);
  let model: onnx.ModelProto;
  try {
    model = onnx.ModelProto.decode(bytes);
  } catch (e) {
    throw new ModelRefusal(`model: not a valid ONNX model: ${(e as Error).message}`);
  }
  const g = model.graph;
  if (!g) throw new ModelRefusal('model: the model has no graph');
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
    const graph = importOnnx(bytes, { inputShapes, maxBytes: limits.maxBytes });
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

/** inputShapes as a request gives them: at most 8 dimensions of 1 to 2^20 each. */
export function checkInputShapes(inputShapes: Record<string, number[]>): void {
  for (const [k, v] of Object.entries(inputShapes)) {
    if (!Array.isArray(v) || v.length > 8 || v.some((d) => !Number.isInteger(d) || d < 1 || d > 1 << 20)) {
      throw new ModelRefusal(`inputShapes.${k} must be a list of positive whole numbers`);
    }
  }
}

/** The size limit and the claims a model makes, checked before it is decoded. */
function prescan(bytes: Uint8Array, limits: ModelReadLimits): void {
  if (bytes.length > limits.maxBytes) throw new ModelRefusal(`model: the model is ${bytes.length} bytes; the limit is ${limits.maxBytes}`);
  try {
    prescanOnnx(bytes, limits);
  } catch (e) {
    if (e instanceof ModelClaimError) throw new ModelRefusal(`model: ${e.message}`);
    throw e;
  }
}

export interface ModelTensorSummary {
  name: string;
  dtype: string;
  shape: number[];
}

/** What job creation keeps of a model it accepts. */
export interface JobModelCheck {
  summary: { inputs: ModelTensorSummary[]; outputs: ModelTensorSummary[]; ops: Record<string, number> };
  /** Why the CUDA generator would refuse the model; null: it would not. */
  cudaProblem: string | null;
}

/**
 * The checks of a model job when it is created: the model imports with these shapes, its
 * operators are supported, its shapes infer, and a job can take its inputs and outputs.
 * A ModelRefusal says why not.
 */
export function checkModelForJob(bytes: Uint8Array, inputShapes: Record<string, number[]>, limits: ModelReadLimits): JobModelCheck {
  checkInputShapes(inputShapes);
  prescan(bytes, limits);
  try {
    const graph = importOnnx(bytes, { inputShapes, maxBytes: limits.maxBytes });
    checkSupported(graph);
    inferShapes(graph);
    const info = (n: string) => ({ name: n, dtype: ioType(graph.tensors.get(n)!), shape: graph.tensors.get(n)!.shape });
    const problem = modelJobProblem({ inputs: graph.inputs.map(info), outputs: graph.outputs.map((n) => ({ ...info(n), dynamic: graph.tensors.get(n)!.dynamic })) });
    if (problem) throw new ModelRefusal(`model: ${problem}`);
    const ops: Record<string, number> = {};
    for (const n of graph.nodes) ops[n.op] = (ops[n.op] ?? 0) + 1;
    const unknown = Object.keys(inputShapes).filter((k) => !graph.inputs.includes(k));
    if (unknown.length) throw new ModelRefusal(`inputShapes: the model has no input ${unknown.join(', ')} (its inputs: ${graph.inputs.join(', ')})`);
    const summary: JobModelCheck['summary'] = { inputs: graph.inputs.map(info), outputs: graph.outputs.map(info), ops };
    let cudaProblem: string | null = null;
    try {
      fuse(graph);
      checkCudaSupported(graph);
    } catch (e) {
      if (!(e instanceof CompileError)) throw e;
      cudaProblem = e.message;
    }
    return { summary, cudaProblem };
  } catch (e) {
    if (e instanceof CompileError) throw new ModelRefusal(`model: ${e.message}`);
    throw e;
  }
}
