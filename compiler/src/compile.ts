import { fuse } from './fuse';
import { importOnnx, ImportOptions } from './import';
import { kernelLibrary } from './kernels';
import { LOWERED_OPS, lowerNode, lowerState } from './lower';
import { C_TYPE, CompileError, DType, DTYPE_BYTES, Graph, MAX_TENSOR_ELEMENTS, Node, numel, Tensor } from './ir';
import { CONV_OPS } from './ops/conv';
import { LAYOUT_OPS } from './ops/layout';
import { ELEMENTWISE_OPS } from './ops/elementwise';
import { MATMUL_OPS } from './ops/matmul';
import { NORM_OPS } from './ops/norm';
import type { EmitContext, InferContext, OpDef } from './ops/op';
import { POOL_OPS } from './ops/pool';
import { REDUCE_OPS } from './ops/reduce';
import { SHAPE_OPS } from './ops/shape';
import { SOFTMAX_OPS } from './ops/softmax';

export const COMPILER_VERSION = '0.2.0';

/** Every operator, by its ONNX name. A duplicate is a programming error caught at load. */
export const OPS: ReadonlyMap<string, OpDef> = (() => {
  const m = new Map<string, OpDef>();
  for (const op of [...ELEMENTWISE_OPS, ...MATMUL_OPS, ...CONV_OPS, ...POOL_OPS, ...NORM_OPS, ...SOFTMAX_OPS, ...REDUCE_OPS, ...SHAPE_OPS, ...LAYOUT_OPS]) {
    if (m.has(op.type)) throw new Error(`operator ${op.type} is defined twice`);
    m.set(op.type, op);
  }
  return m;
})();

export interface TensorInfo {
  name: string;
  dtype: DType;
  shape: number[];
}

export interface ModelMetadata {
  name: string;
  entry: string;
  inputs: TensorInfo[];
  outputs: TensorInfo[];
  opset: number;
  producer: string;
  compiler: { name: 'kiln'; version: string };
  ops: Record<string, number>;
  weightsBytes: number;
}

export interface CompiledModel {
  /** File name -> contents: <name>.c, <name>.h, <name>.weights.bin, <name>.json */
  files: Record<string, string | Uint8Array>;
  metadata: ModelMetadata;
}

export interface CompileOptions extends ImportOptions {
  /** A C identifier: the entry point is <name>_run. */
  name?: string;
  /**
   * Threads the generated kernels may use (default 1). Above 1 the C starts a small pthread pool
   * on the first run; on targets without threads (wasm32) it runs on one.
   */
  threads?: number;
  /** Fuse BatchNormalization, bias, scale, residual adds, Relu/Clip and GELU into the kernels before them (default true). */
  fusion?: boolean;
  /** Use the kernel library for GEMM, convolution and Softmax (default true); false gives the plain loops, the reference its tests compare with. */
  kernels?: boolean;
}

/** Lists the operators the compiler cannot handle, by name, before doing any work. */
export function checkSupported(graph: Graph): void {
  const missing = [...new Set(graph.nodes.map((n) => n.op).filter((op) => !OPS.has(op) && !LOWERED_OPS.has(op)))].sort();
  if (missing.length) {
    throw new CompileError('unsupported', `unsupported operators: ${missing.join(', ')}`, missing);
  }
}

/**
 * Shape and type inference, folding every node whose inputs are all constants. Sequence
 * operators and Gradient are lowered to tensor operators on the way (see lower.ts).
 */
export function inferShapes(graph: Graph): void {
  const ctx: InferContext = {
    graph,
    opset: graph.opset,
    input(node, i) {
      const name = node.inputs[i];
      if (!name) return undefined;
      const t = graph.tensors.get(name);
      if (!t) throw new CompileError('invalid', `${node.op} ${node.name}: input ${name} is not produced by any earlier node`);
      return t;
    },
    required(node, i) {
      const t = ctx.input(node, i);
      if (!t) throw new CompileError('invalid', `${node.op} ${node.name}: input ${i} is missing`);
      return t;
    },
    output(node, i, t) {
      const name = node.outputs[i];
      if (!name) return;
      if (t.shape.some((d) => !Number.isInteger(d) || d < 0)) throw new CompileError('invalid', `${node.op} ${node.name}: output shape [${t.shape}] is not valid`);
      if (numel(t.shape) > MAX_TENSOR_ELEMENTS) throw new CompileError('too-large', `${node.op} ${node.name}: output [${t.shape}] has more than ${MAX_TENSOR_ELEMENTS} elements`);
      graph.tensors.set(name, { name, ...t });
    },
  };
  const state = lowerState();
  for (const node of graph.nodes) {
    for (const n of LOWERED_OPS.has(node.op) ? lowerNode(graph, node, state) : [node]) {
      OPS.get(n.op)!.infer(ctx, n);
      state.done.push(n);
    }
  }
  graph.nodes = state.done;
  for (const o of graph.outputs) if (state.sequences.has(o)) throw new CompileError('unsupported', `graph output ${o} is a sequence; only tensor outputs are supported`);
  for (const o of graph.outputs) if (!graph.tensors.has(o)) throw new CompileError('invalid', `graph output ${o} is never produced`);
}

/** The nodes that must run: those feeding a graph output whose value is not already known. */
export function liveNodes(graph: Graph): Node[] {
  const needed = new Set(graph.outputs);
  const live: Node[] = [];
  for (const node of [...graph.nodes].reverse()) {
    if (!node.outputs.some((o) => needed.has(o))) continue;
    if (node.outputs.every((o) => !o || graph.tensors.get(o)?.data)) continue; // folded
    live.push(node);
    for (const i of node.inputs) if (i) needed.add(i);
  }
  return live.reverse();
}

/** Text from the model (names) made safe inside a C comment: a name must not end it. */
function comment(text: string): string {
  return text.replace(/\*\//g, '* /').replace(/[^\x20-\x7e]/g, '?');
}

function cIdent(name: string): string {
  return name.replace(/[^A-Za-z0-9_]/g, '_');
}

/** Generates dependency-free C: one entry point, weights embedded as binary data. */
export function generateC(graph: Graph, name: string, threads = 1, fast = true): CompiledModel {
  const nodes = liveNodes(graph);
  const upper = name.toUpperCase();
  const inputIndex = new Map(graph.inputs.map((n, i) => [n, i]));
  const outputIndex = new Map(graph.outputs.map((n, i) => [n, i]));
  const refs = new Map<string, string>();
  const buffers: string[] = [];
  const weightParts: Uint8Array[] = [];
  const weightDefs: string[] = [];
  let weightBytes = 0;

  const constRef = (t: Tensor): string => {
    const pad = (64 - (weightBytes % 64)) % 64;
    if (pad) weightParts.push(new Uint8Array(pad));
    weightBytes += pad;
    const bytes = new Uint8Array(t.data!.buffer, t.data!.byteOffset, t.data!.byteLength);
    weightParts.push(bytes);
    const ref = `w${weightDefs.length}`;
    weightDefs.push(`#define ${ref} ((const ${C_TYPE[t.dtype]} *)(kiln_weights + ${weightBytes})) /* ${comment(t.name)} [${t.shape.join(', ')}] */`);
    weightBytes += bytes.length;
    return ref;
  };
  const ref = (n: string): string => {
    const existing = refs.get(n);
    if (existing) return existing;
    const t = graph.tensors.get(n)!;
    let r: string;
    if (inputIndex.has(n)) r = `in${inputIndex.get(n)}`;
    else if (outputIndex.has(n) && !t.data) r = `out${outputIndex.get(n)}`;
    else if (t.data) r = constRef(t);
    else {
      r = `t${buffers.length}`;
      buffers.push(`static ${C_TYPE[t.dtype]} ${r}[${Math.max(1, numel(t.shape))}] __attribute__((aligned(64))); /* ${comment(t.name)} [${t.shape.join(', ')}] */`);
    }
    refs.set(n, r);
    return r;
  };
  const statics: string[] = [];
  let scratchFloats = 0;
  let sharedFloats = 0;
  let useKernels = false;
  const ctx: EmitContext = {
    opset: graph.opset,
    threads,
    fast,
    constant(label, data) {
      return constRef({ name: label, dtype: 'float32', shape: [data.length], data });
    },
    buffer(label, floats) {
      const b = `kiln_buf${statics.length}`;
      statics.push(`static float ${b}[${Math.max(1, floats)}] __attribute__((aligned(64))); /* ${comment(label)} */`);
      return b;
    },
    scratch(floats) {
      useKernels = true;
      scratchFloats = Math.max(scratchFloats, Math.ceil(floats / 16) * 16); // whole vectors: each thread's part stays aligned
      return { ptr: 'kiln_scratch', stride: 'KILN_SCRATCH_FLOATS' };
    },
    kernels() {
      useKernels = true;
    },
    shared(floats) {
      useKernels = true;
      sharedFloats = Math.max(sharedFloats, floats);
      return 'kiln_shared';
    },
    ref,
    tensor: (n) => {
      const t = graph.tensors.get(n);
      if (!t) throw new CompileError('invalid', `unknown tensor ${n}`);
      return t;
    },
    alias(output, input) {
      if (outputIndex.has(output) || refs.has(output)) return false;
      refs.set(output, ref(input));
      return true;
    },
  };

  const body: string[] = [];
  const ops: Record<string, number> = {};
  for (const node of nodes) {
    const op = OPS.get(node.op)!;
    if (!op.emit) throw new CompileError('unsupported', `${node.op} ${node.name}: its value depends on inputs, which is not supported`);
    ops[node.op] = (ops[node.op] ?? 0) + 1;
    const code = op.emit(ctx, node);
    const fused = node.fused ? ` + ${node.fused.ops.join(' + ')}` : '';
    if (code) body.push(`  /* ${comment(`${node.op} ${node.name}${fused}`)} */\n  {\n${code.replace(/^/gm, '    ')}\n  }`);
  }
  // Outputs that are constants or inputs, or that an alias left elsewhere, are copied out.
  graph.outputs.forEach((o, i) => {
    const r = ref(o);
    if (r !== `out${i}`) body.push(`  memcpy(out${i}, ${r}, ${numel(graph.tensors.get(o)!.shape) * DTYPE_BYTES[graph.tensors.get(o)!.dtype]});`);
  });

  const info = (n: string): TensorInfo => {
    const t = graph.tensors.get(n)!;
    return { name: n, dtype: t.dtype, shape: t.shape };
  };
  const inputs = graph.inputs.map(info);
  const outputs = graph.outputs.map(info);
  const describe = (ts: TensorInfo[]) => ts.map((t, i) => ` *   [${i}] ${t.name}: ${t.dtype} [${t.shape.join(', ')}]`).join('\n');
  const header = `/* Generated by Kiln ${COMPILER_VERSION} from an ONNX model (opset ${graph.opset}). */
#ifndef ${upper}_H
#define ${upper}_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define ${upper}_NUM_INPUTS ${inputs.length}
#define ${upper}_NUM_OUTPUTS ${outputs.length}

/*
 * Runs the model once. Buffers are dense, row-major, in the element types below.
 * Inputs:
${describe(inputs)}
 * Outputs:
${describe(outputs)}
 * Returns 0. Not reentrant: intermediate buffers are static.
 */
int ${name}_run(const void *const inputs[], void *const outputs[]);

#ifdef __cplusplus
}
#endif

#endif
`;
  const source = `/* Generated by Kiln ${COMPILER_VERSION} from an ONNX model (opset ${graph.opset}); do not edit. */
#include <math.h>
#include <stdint.h>
#include <string.h>
#include "${name}.h"

${weightBytes ? `static const unsigned char kiln_weights[] __attribute__((aligned(64))) = {
#embed "${name}.weights.bin"
};
${weightDefs.join('\n')}` : weightDefs.length ? `static const unsigned char kiln_weights[64] __attribute__((aligned(64))); /* only empty constants */
${weightDefs.join('\n')}` : ''}

${buffers.join('\n')}
${statics.join('\n')}
${useKernels ? `${kernelLibrary(threads)}
#define KILN_SCRATCH_FLOATS ${Math.max(16, scratchFloats)}
static float kiln_scratch[KILN_THREADS * KILN_SCRATCH_FLOATS] __attribute__((aligned(64)));
${sharedFloats ? `static float kiln_shared[${sharedFloats}] __attribute__((aligned(64)));
` : ''}` : ''}
int ${name}_run(const void *const inputs[], void *const outputs[]) {
${inputs.map((t, i) => `  const ${C_TYPE[t.dtype]} *in${i} = (const ${C_TYPE[t.dtype]} *)inputs[${i}];`).join('\n')}
${outputs.map((t, i) => `  ${C_TYPE[t.dtype]} *out${i} = (${C_TYPE[t.dtype]} *)outputs[${i}];`).join('\n')}
${body.join('\n')}
  return 0;
}
`;
  const weights = new Uint8Array(weightBytes);
  let o = 0;
  for (const p of weightParts) {
    weights.set(p, o);
    o += p.length;
  }
  const metadata: ModelMetadata = {
    name,
    entry: `${name}_run`,
    inputs,
    outputs,
    opset: graph.opset,
    producer: graph.producer,
    compiler: { name: 'kiln', version: COMPILER_VERSION },
    ops,
    weightsBytes: weightBytes,
  };
  return {
    files: { [`${name}.c`]: source, [`${name}.h`]: header, [`${name}.weights.bin`]: weights, [`${name}.json`]: JSON.stringify(metadata, null, 2) + '\n' },
    metadata,
  };
}

/** ONNX bytes to C: import, check operators, infer shapes and fold constants, generate. */
export function compileModel(bytes: Uint8Array, opts: CompileOptions = {}): CompiledModel {
  const name = opts.name ?? 'model';
  if (!/^[A-Za-z_][A-Za-z0-9_]{0,63}$/.test(name)) throw new CompileError('invalid', `name "${name}" must be a C identifier`);
  const graph = importOnnx(bytes, opts);
  checkSupported(graph);
  inferShapes(graph);
  if (opts.fusion !== false) fuse(graph);
  const threads = opts.threads ?? 1;
  if (!Number.isInteger(threads) || threads < 1 || threads > 256) throw new CompileError('invalid', `threads must be an integer from 1 to 256, not ${threads}`);
  return generateC(graph, name, threads, opts.kernels !== false);
}

export { cIdent };
