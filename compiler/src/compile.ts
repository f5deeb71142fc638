import { fuse } from './fuse';
import { MemoryPlan } from './memplan';
import { importOnnx, ImportOptions } from './import';
import { kernelLibrary } from './kernels';
import { LOWERED_OPS, lowerNode, lowerState } from './lower';
import { Half, HALF_C, halfConversionsC, roundToHalf, VALUE_PRESERVING } from './half';
import { C_TYPE, CompileError, DTYPE_BYTES, Graph, ioType, IODType, MAX_TENSOR_ELEMENTS, Node, numel, Scope, Tensor } from './ir';
import { CONV_OPS, emitInvertedResidual, InvertedResidual, invertedResiduals } from './ops/conv';
import { LAYOUT_OPS } from './ops/layout';
import { ELEMENTWISE_OPS } from './ops/elementwise';
import { MATMUL_OPS } from './ops/matmul';
import { NORM_OPS } from './ops/norm';
import type { EmitContext, InferContext, OpDef } from './ops/op';
import { RUN_ERROR_MEANINGS, RUN_ERRORS } from './ops/op';
import { POOL_OPS } from './ops/pool';
import { REDUCE_OPS } from './ops/reduce';
import { SHAPE_OPS } from './ops/shape';
import { SOFTMAX_OPS } from './ops/softmax';
import { SCATTER_OPS } from './ops/scatter';
import { CUMSUM_OPS } from './ops/cumsum';
import { TOPK_OPS } from './ops/topk';
import { EINSUM_OPS } from './ops/einsum';
import { RESIZE_OPS } from './ops/resize';
import { ATTENTION_OPS } from './ops/attention';
import { QUANT_OPS } from './ops/quant';
import { GRIDSAMPLE_OPS } from './ops/gridsample';
import { NEWER_OPS } from './ops/newer';
import { SPATIAL_OPS } from './ops/spatial';
import { cString, STRING_OPS } from './ops/string';
import { TILE_OPS } from './ops/tile';
import { LOSS_OPS } from './ops/loss';
import { VALUED_OPS, withRunTimeValues } from './ops/valued';
import { SPACE_OPS } from './ops/space';
import { LINALG_OPS } from './ops/linalg';
import { REVERSE_OPS } from './ops/reverse';
import { AXISNORM_OPS } from './ops/axisnorm';
import { foldConstant } from './fold';
import { isPackedFloat, Packed, PACKED, packedBits, packedConversionsC, packedHeld, packedLoadC, packedStoreC } from './packed';
import { CONTROL_OPS, controlState, hasSubgraphs, Inference, lowerControl, subgraphOps } from './control';
import { RNN_OPS } from './ops/rnn';
import { graphFlops, nodeFlops } from './flops';
import { concatsInPlace } from './concat';

export const COMPILER_VERSION = '0.5.0';

function isHalf(d: IODType): d is Half {
  return d === 'float16' || d === 'bfloat16';
}

/** The operators that take or give string tensors. */
const STRING_OP_NAMES: ReadonlySet<string> = new Set(STRING_OPS.map((o) => o.type));

/** Every operator, by its ONNX name. A duplicate is a programming error caught at load. */
export const OPS: ReadonlyMap<string, OpDef> = (() => {
  const m = new Map<string, OpDef>();
  for (const op of withRunTimeValues([...ELEMENTWISE_OPS, ...MATMUL_OPS, ...CONV_OPS, ...POOL_OPS, ...NORM_OPS, ...SOFTMAX_OPS, ...REDUCE_OPS, ...SHAPE_OPS, ...LAYOUT_OPS, ...STRING_OPS, ...TILE_OPS, ...SCATTER_OPS, ...CUMSUM_OPS, ...TOPK_OPS, ...EINSUM_OPS, ...RESIZE_OPS, ...RNN_OPS, ...CONTROL_OPS, ...ATTENTION_OPS, ...QUANT_OPS, ...GRIDSAMPLE_OPS, ...LOSS_OPS, ...VALUED_OPS, ...NEWER_OPS, ...SPATIAL_OPS, ...SPACE_OPS, ...LINALG_OPS, ...REVERSE_OPS, ...AXISNORM_OPS])) {
    if (m.has(op.type)) throw new Error(`operator ${op.type} is defined twice`);
    m.set(op.type, op);
  }
  return m;
})();

export interface TensorInfo {
  name: string;
  /** float16 and bfloat16 are 16-bit elements (uint16_t in C) at the entry point and in files. */
  dtype: IODType;
  shape: number[];
  /** The shape depends on the values: `shape` is the largest, <name>_output_shape gives the actual one after a run. */
  dynamic?: boolean;
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
  /** Bytes of the static buffers that hold intermediate tensors (one per tensor: buffers are not yet reused). */
  activationBytes?: number;
  /** Floating-point operations of one run, estimated (flops.ts): what sizes a verification's time limit. */
  flops: number;
  /** The non-zero values the entry point may return, and what each means (absent: it only returns 0). */
  errors?: Record<string, string>;
  /**
   * The kernels of the compiled graph, in the order they run (after fusion): the ONNX nodes each
   * covers, their operator types and estimated FLOPs. Built with -DKILN_PROFILE, the C adds each
   * kernel's wall time in nanoseconds to <name>_profile_ns[k] (see profile.ts).
   */
  kernels?: KernelInfo[];
}

export interface KernelInfo {
  /** The kernel, as the generated C's comment names it: the node and what was fused into it. */
  label: string;
  nodes: string[];
  ops: string[];
  flops: number;
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
  /** Fuse BatchNormalization, bias, scale, residual adds, Relu/Clip and GELU, SiLU or HardSwish into the kernels before them (default true). */
  fusion?: boolean;
  /** Use the kernel library for GEMM, convolution and Softmax (default true); false gives the plain loops, the reference its tests compare with. */
  kernels?: boolean;
  /** Run an inverted residual (1x1 expand, depthwise, 1x1 project) as one kernel a row at a time when its expanded tensor has at least this many bytes (default INVERTED_RESIDUAL_BYTES). */
  invertedResidualBytes?: number;
}

/** Operators whose bodies run in C blocks of their own (control.ts): a graph with them keeps a buffer per tensor. */
const CONTROL_FLOW = new Set(['If', 'Loop', 'Scan']);

/**
 * For each intermediate tensor, the index (in `nodes`) of the last kernel that reads it: as an
 * input, a fused residual or bias, through an inverted residual that runs where its project was,
 * or as a part of a Concat written in place (the Concat's output lives as long as each part).
 */
function lastReaders(graph: Graph, nodes: Node[], fusedAt: Map<Node, InvertedResidual>, parts: Map<string, { output: string; offset: number }>): Map<string, number> {
  const last = new Map<string, number>();
  const read = (t: string | undefined, i: number) => {
    if (t) last.set(t, Math.max(last.get(t) ?? i, i));
  };
  nodes.forEach((n, i) => {
    for (const t of n.inputs) read(t, i);
    read(n.fused?.residual, i);
    read(n.fused?.biasN, i);
    const ir = fusedAt.get(n);
    if (ir) for (const t of [...ir.expand.inputs, ...ir.depthwise.inputs, ...ir.project.inputs]) read(t, i);
  });
  // Graph outputs are read after the last kernel (copied out when they are not the caller's buffer).
  for (const o of graph.outputs) read(o, nodes.length);
  for (const [part, { output }] of parts) {
    let root = output;
    for (let p = parts.get(root); p; p = parts.get(root)) root = p.output;
    read(root, last.get(part) ?? 0);
    read(output, last.get(part) ?? 0);
  }
  return last;
}

/** Lists the operators the compiler cannot handle, by name, before doing any work. */
export function checkSupported(graph: Graph): void {
  const missing = [...new Set([...graph.nodes.map((n) => n.op), ...subgraphOps(graph.nodes)].filter((op) => !OPS.has(op) && !LOWERED_OPS.has(op)))].sort();
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
      let half = t.half;
      if (!('half' in t) && t.dtype === 'float32') half = node.inputs.map((n) => (n ? graph.tensors.get(n) : undefined)).find((x) => x?.dtype === 'float32' && x.half)?.half;
      const { half: _, ...rest } = t;
      if (half && t.dtype !== 'float32') throw new CompileError('invalid', `${node.op} ${node.name}: a ${half} output must be held as float32`);
      if (half && rest.data) {
        // Folding may hand back an input's own array (Identity, Reshape): round a copy unless that input is of this format already.
        const shared = node.inputs.some((n) => n && graph.tensors.get(n)?.data === rest.data && graph.tensors.get(n)?.half !== half);
        if (shared) rest.data = Float32Array.from(rest.data as Float32Array);
        roundToHalf(half, rest.data as Float32Array);
      }
      graph.tensors.set(name, { name, ...rest, ...(half ? { half } : {}) });
    },
  };
  const state = lowerState();
  const control = controlState(graph);
  // If, Loop and Scan are inlined, each node of theirs inferred in turn (their subgraphs may hold more).
  const inference: Inference = {
    visit: (node) => visit(node),
    // A branch that does not fit the input shapes is inferred, then undone (control.ts).
    attempt(infer) {
      const [done, tensors, sequences] = [state.done.length, new Map(graph.tensors), new Map(state.sequences)];
      try {
        infer();
        return undefined;
      } catch (e) {
        state.done.length = done;
        graph.tensors.clear();
        for (const [k, t] of tensors) graph.tensors.set(k, t);
        state.sequences.clear();
        for (const [k, s] of sequences) state.sequences.set(k, s);
        return e;
      }
    },
    known: (name) => graph.tensors.has(name) || state.sequences.has(name),
  };
  const visit = (node: Node): void => {
    if (hasSubgraphs(node) && !LOWERED_OPS.has(node.op)) return lowerControl(graph, node, control, inference);
    for (const n of LOWERED_OPS.has(node.op) ? lowerNode(graph, node, state) : [node]) {
      if (node.scope) n.scope ??= node.scope;
      const dynamic = n.inputs.find((i) => i && graph.tensors.get(i)?.dynamic);
      if (dynamic) throw new CompileError('unsupported', `${n.op} ${n.name}: ${dynamic}'s shape depends on the input values, which only a graph output may`);
      const strings = () => new CompileError('unsupported', `${n.op} ${n.name}: string tensors are supported by ${[...STRING_OP_NAMES].join(', ')} only`, [n.op]);
      if (!STRING_OP_NAMES.has(n.op) && n.inputs.some((i) => i && graph.tensors.get(i)?.dtype === 'string')) throw strings();
      checkPacked(graph, n, n.inputs);
      inferOrFold(ctx, n);
      if (!STRING_OP_NAMES.has(n.op) && n.outputs.some((o) => o && graph.tensors.get(o)?.dtype === 'string')) throw strings();
      checkPacked(graph, n, n.outputs);
      state.done.push(n);
    }
  };
  graph.nodes.forEach(visit);
  graph.nodes = state.done;
  for (const o of graph.outputs) if (state.sequences.has(o)) throw new CompileError('unsupported', `graph output ${o} is a sequence; only tensor outputs are supported`);
  for (const o of graph.outputs) if (!graph.tensors.has(o)) throw new CompileError('invalid', `graph output ${o} is never produced`);
  for (const [o, packed] of Object.entries(graph.outputPacked ?? {})) {
    const t = graph.tensors.get(o);
    if (t && t.packed !== packed) throw new CompileError('unsupported', `graph output ${o} is declared ${packed}, and only Cast and CastLike make ${packed} tensors (it is ${ioType(t)})`);
  }
  // An output the model declares half is half at the edge even where inference did not carry it there.
  for (const [o, half] of Object.entries(graph.outputHalf ?? {})) {
    const t = graph.tensors.get(o);
    if (t && t.dtype === 'float32' && !t.half) {
      if (t.data) {
        const data = Float32Array.from(t.data as Float32Array);
        roundToHalf(half, data);
        graph.tensors.set(o, { ...t, data, half });
      } else graph.tensors.set(o, { ...t, half });
    }
  }
}

/** The operators that take and give float8, float4, int4, uint4, int2 and uint2 tensors (see packed.ts). */
const PACKED_OPS: ReadonlySet<string> = new Set(['Cast', 'CastLike', 'Constant']);

function checkPacked(graph: Graph, n: Node, names: string[]): void {
  const t = names.map((x) => (x ? graph.tensors.get(x) : undefined)).find((x) => x?.packed);
  if (t && !PACKED_OPS.has(n.op)) throw new CompileError('unsupported', `${n.op} ${n.name}: ${t.packed} tensors are supported by Cast and CastLike only`, [n.op]);
}

/**
 * An operator's own inference; then, for a node whose inputs are all constants that it left
 * unfolded or whose types its kernel does not take (integer shape arithmetic), the value from
 * the compile-time evaluator (fold.ts).
 */
function inferOrFold(ctx: InferContext, n: Node): void {
  const inputs = n.inputs.map((i) => (i ? ctx.graph.tensors.get(i) : undefined));
  const constant = inputs.some(Boolean) && inputs.every((t, k) => !n.inputs[k] || t?.data);
  try {
    OPS.get(n.op)!.infer(ctx, n);
  } catch (e) {
    const folded = constant && e instanceof CompileError && e.code === 'unsupported' ? foldConstant(n, inputs, ctx.opset) : undefined;
    if (!folded) throw e;
    folded.forEach((t, i) => ctx.output(n, i, t));
    return;
  }
  if (!constant || n.outputs.every((o) => !o || ctx.graph.tensors.get(o)?.data)) return;
  const folded = foldConstant(n, inputs, ctx.opset);
  if (folded) folded.forEach((t, i) => ctx.output(n, i, t));
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
    // A fused epilogue reads its residual and bias too: their producers must run.
    if (node.fused?.residual) needed.add(node.fused.residual);
    if (node.fused?.biasN) needed.add(node.fused.biasN);
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

/** Static buffers from this size up are put on transparent huge pages on Linux (see HUGE_PAGES_C). */
const HUGE_BYTES = 2 << 20;

/**
 * Large static buffers (intermediate tensors, scratch) are aligned to 2 MiB and advised to the
 * kernel as huge-page memory before the first run touches them: with 4 KiB pages their lines
 * land in L2 sets as the physical pages fall, and a run's time moved by a quarter from one
 * process to the next; on 2 MiB pages it does not, and TLB misses go too. Where transparent huge
 * pages are off, or the system is not Linux, this does nothing.
 */
const HUGE_PAGES_C = `#if defined(__linux__)
#include <sys/mman.h>
#define KILN_HUGE __attribute__((aligned(2097152)))
__attribute__((unused)) static void kiln_advise_huge(void *p, unsigned long bytes) {
#ifdef MADV_HUGEPAGE
  const unsigned long a = ((unsigned long)p + 4095) & ~4095ul, b = ((unsigned long)p + bytes) & ~4095ul;
  if (b > a) (void)madvise((void *)a, b - a, MADV_HUGEPAGE);
#else
  (void)p; (void)bytes;
#endif
}
#else
#define KILN_HUGE __attribute__((aligned(64)))
#define kiln_advise_huge(p, bytes) ((void)(p), (void)(bytes))
#endif
`;

/** Embedded weights from this size up are read from a copy in anonymous memory on Linux (see COPY_WEIGHTS_C). */
const COPY_WEIGHTS_BYTES = 512 << 10;

/**
 * On Linux, the first run copies the embedded weights into anonymous memory on huge pages and
 * the kernels read them there. Read in place, they are pages of the program's file: on a VM
 * whose kernel proactively reclaims and samples file pages (DAMON), the same model's runs were
 * 1.5-1.7x slower for seconds at a time, and never in the copy (bench:models, the encoder layer
 * and the MNIST MLP). Defining KILN_WEIGHTS_IN_PLACE keeps them in place; so does a failed
 * mapping.
 */
const COPY_WEIGHTS_C = `#if defined(__linux__) && !defined(KILN_WEIGHTS_IN_PLACE)
static const unsigned char *kiln_weights = kiln_weights_image;
static void kiln_copy_weights(void) {
  const unsigned long n = (sizeof kiln_weights_image + 2097151ul) & ~2097151ul;
  unsigned char *p = (unsigned char *)mmap(0, n + 2097152ul, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == (unsigned char *)MAP_FAILED) return;
  unsigned char *a = (unsigned char *)(((unsigned long)p + 2097151ul) & ~2097151ul);
#ifdef MADV_HUGEPAGE
  (void)madvise(a, n, MADV_HUGEPAGE);
#endif
  memcpy(a, kiln_weights_image, sizeof kiln_weights_image);
  kiln_weights = a;
}
#else
#define kiln_weights kiln_weights_image
#define kiln_copy_weights() ((void)0)
#endif`;

/** When the entry point returns each non-zero code, as its header says. */
const RETURNS_WHEN: Record<number, string> = {
  [RUN_ERRORS.outOfMemory]: 'when memory for the output strings could not be allocated',
  [RUN_ERRORS.indexOutOfRange]: `when an index the model reads at run time (Gather, GatherElements, GatherND,
 * ScatterElements, ScatterND, RotaryEmbedding) is out of range for its axis, or when CumSum's or CumProd's
 * axis or ReverseSequence's lengths, read at run time, are out of range; each index is checked before it is
 * used, so nothing outside a tensor is read or written, and the outputs are then incomplete`,
  [RUN_ERRORS.unfitBranch]: `when the model takes a branch of an If that does not fit the input shapes it was compiled for:{branches}
 * such a branch was written for other input shapes and could not be compiled for these; taking it ends the run,
 * and the outputs are then incomplete`,
  [RUN_ERRORS.shapeMismatch]: `when a value the model reads at run time that decides a shape (a reduction's axes, a shape, k,
 * pads, ...) gives another shape than the one the model declares, for which it was compiled; the outputs are then incomplete`,
};

/** The nodes a fusion entry names: "Relu r1", or a pattern of several, "SiLU (Sigmoid s1, Mul m1)" or "GELU (Div, Erf, Add, Mul, Mul)". */
function fusedParts(entry: string): { op: string; name: string }[] {
  const m = /^\w+ \((.*)\)$/.exec(entry);
  return (m ? m[1].split(', ') : [entry]).map((p) => ({ op: p.split(' ')[0], name: p.slice(p.indexOf(' ') + 1 || p.length) }));
}

/** Generates dependency-free C: one entry point, weights embedded as binary data. */
export function generateC(graph: Graph, name: string, threads = 1, fast = true, invertedResidualBytes?: number): CompiledModel {
  const nodes = liveNodes(graph);
  const upper = name.toUpperCase();
  const inputIndex = new Map(graph.inputs.map((n, i) => [n, i]));
  const outputIndex = new Map(graph.outputs.map((n, i) => [n, i]));
  const refs = new Map<string, string>();
  const buffers: string[] = [];
  let activationBytes = 0;
  /** On WebAssembly: where each intermediate buffer starts in the block allocated on the first run. */
  const arena: string[] = [];
  /** Static buffers of at least HUGE_BYTES: on Linux, put on transparent huge pages before the first run touches them. */
  const huge: string[] = [];
  const align = (bytes: number, name: string) => {
    if (bytes < HUGE_BYTES) return '__attribute__((aligned(64)))';
    huge.push(name);
    return 'KILN_HUGE';
  };
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
  // The memory plan (memplan.ts): where each intermediate tensor lives in one block, decided as the kernels are
  // emitted (`now` is the kernel being emitted). Graphs with If or Loop bodies keep a buffer per tensor.
  let plan: MemoryPlan | undefined;
  let now = 0;
  /** Tensors written in place into a part of a Concat's output (concat.ts): the output and the offset. */
  let concatParts = new Map<string, { output: string; offset: number }>();
  const ref = (n: string): string => {
    const existing = refs.get(n);
    if (existing) return existing;
    const t = graph.tensors.get(n)!;
    let r: string;
    const part = concatParts.get(n);
    if (part) {
      r = `(${ref(part.output)} + ${part.offset})`;
      plan?.share(n, part.output);
    } else if (inputIndex.has(n)) r = `in${inputIndex.get(n)}`;
    else if (outputIndex.has(n) && !t.data && !t.strings) r = `out${outputIndex.get(n)}`;
    else if (t.strings) {
      r = `s${buffers.length}`;
      buffers.push(`static const char *const ${r}[${Math.max(1, t.strings.length)}] = { ${t.strings.map(cString).join(', ') || '""'} }; /* ${comment(t.name)} */`);
    } else if (t.data) r = constRef(t);
    else if (plan) {
      // A macro: a name no kernel's local variable has.
      r = `KILN_T${buffers.length}`;
      const off = plan.place(n, Math.max(1, numel(t.shape)) * DTYPE_BYTES[t.dtype], now);
      buffers.push(`#define ${r} ((${C_TYPE[t.dtype]} *)(kiln_tensors + ${off})) /* ${comment(t.name)} [${t.shape.join(', ')}] */`);
    } else {
      r = `t${buffers.length}`;
      const bytes = Math.max(1, numel(t.shape)) * DTYPE_BYTES[t.dtype];
      // On WebAssembly a zero-initialised array is a data segment of the object file, as large as the array: there
      // the buffers are parts of one block allocated on the first run instead.
      arena.push(`${r} = (${C_TYPE[t.dtype]} *)(kiln_arena + ${activationBytes});`);
      activationBytes += Math.ceil(bytes / 64) * 64;
      buffers.push(`#ifdef __wasm__
static ${C_TYPE[t.dtype]} *${r}; /* ${comment(t.name)} [${t.shape.join(', ')}] */
#else
static ${C_TYPE[t.dtype]} ${r}[${Math.max(1, numel(t.shape))}] ${align(numel(t.shape) * DTYPE_BYTES[t.dtype], r)}; /* ${comment(t.name)} [${t.shape.join(', ')}] */
#endif`);
    }
    refs.set(n, r);
    return r;
  };
  const statics: string[] = [];
  /** File-scope C that call sites share, by key (see EmitContext.helper). */
  const helpers = new Map<string, string>();
  /** The non-zero codes the entry point may return. */
  const errorCodes = new Set<number>();
  /** The branches that end the run with RUN_ERRORS.unfitBranch, and why each does not fit. */
  const unfit = new Map<string, string>();
  let scratchFloats = 0;
  let sharedFloats = 0;
  let useKernels = false;
  const ctx: EmitContext = {
    opset: graph.opset,
    threads,
    fast,
    constant(label, data) {
      const dtype = data instanceof Int8Array ? 'int8' : data instanceof Uint8Array ? 'uint8' : data instanceof Int32Array ? 'int32' : 'float32';
      return constRef({ name: label, dtype, shape: [data.length], data });
    },
    helper(key, code) {
      if (!helpers.has(key)) helpers.set(key, code);
    },
    buffer(label, floats) {
      const b = `kiln_buf${statics.length}`;
      statics.push(`static float ${b}[${Math.max(1, floats)}] ${align(floats * 4, b)}; /* ${comment(label)} */`);
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
    outputShape(n) {
      return outputIndex.has(n) && graph.tensors.get(n)?.dynamic ? `kiln_shape[${outputIndex.get(n)}]` : undefined;
    },
    arena(label) {
      const a = `kiln_arena${statics.length}`;
      statics.push(`static char *${a}; /* ${comment(label)}: strings of the last run */`);
      errorCodes.add(RUN_ERRORS.outOfMemory);
      return a;
    },
    indexOutOfRange() {
      errorCodes.add(RUN_ERRORS.indexOutOfRange);
      return `return ${RUN_ERRORS.indexOutOfRange};`;
    },
    shapeMismatch() {
      errorCodes.add(RUN_ERRORS.shapeMismatch);
      return `return ${RUN_ERRORS.shapeMismatch};`;
    },
    unfitBranch(branch, why) {
      errorCodes.add(RUN_ERRORS.unfitBranch);
      unfit.set(branch, why);
      return `return ${RUN_ERRORS.unfitBranch}; /* ${comment(`${branch} does not fit the input shapes: ${why}`)} */`;
    },
    ref,
    tensor: (n) => {
      const t = graph.tensors.get(n);
      if (!t) throw new CompileError('invalid', `unknown tensor ${n}`);
      return t;
    },
    alias(output, input) {
      // An output that is a part of a Concat's output must be written there.
      if (outputIndex.has(output) || refs.has(output) || concatParts.has(output)) return false;
      refs.set(output, ref(input));
      plan?.share(output, input);
      return true;
    },
  };

  const body: string[] = [];
  const kernels: KernelInfo[] = [];
  const ops: Record<string, number> = {};
  // Concats whose inputs are written in place, straight into their parts of the output (concat.ts).
  const inPlace = concatsInPlace(graph, nodes);
  concatParts = inPlace.parts;
  const used = new Set<string>([...graph.outputs, ...nodes.flatMap((n) => n.inputs), ...nodes.flatMap((n) => (n.fused?.residual ? [n.fused.residual] : []))]);
  // Inverted residuals run as one kernel, where the last of their three convolutions was.
  const fusedAt = new Map<Node, InvertedResidual>();
  const fusedAway = new Set<Node>();
  for (const ir of fast ? invertedResiduals(graph, nodes, invertedResidualBytes) : []) {
    fusedAt.set(ir.project, ir);
    fusedAway.add(ir.expand).add(ir.depthwise);
  }
  if (!nodes.some((n) => n.scope?.length || CONTROL_FLOW.has(n.op))) plan = new MemoryPlan(lastReaders(graph, nodes, fusedAt, inPlace.parts));
  // The nodes of an If's branch or a Loop's body run in its C block (see control.ts), entered before the first and left after the last.
  const open: Scope[] = [];
  const indent = (text: string) => text.replace(/^/gm, '  '.repeat(open.length));
  const enter = (want: Scope[]) => {
    let k = 0;
    while (k < open.length && k < want.length && open[k] === want[k]) k++;
    while (open.length > k) body.push(indent(`  ${open.pop()!.close.replace(/\n/g, '\n  ')}`));
    for (const s of want.slice(k)) {
      body.push(indent(`  ${s.open(ref).replace(/\n/g, '\n  ')}`));
      open.push(s);
    }
  };
  for (const [i, node] of nodes.entries()) {
    plan?.release(now);
    now = i;
    const op = OPS.get(node.op)!;
    if (!op.emit) throw new CompileError('unsupported', `${node.op} ${node.name}: its value depends on inputs, which is not supported`);
    ops[node.op] = (ops[node.op] ?? 0) + 1;
    if (fusedAway.has(node) || inPlace.elided.has(node)) continue;
    enter(node.scope ?? []);
    const ir = fusedAt.get(node);
    let code = ir ? emitInvertedResidual(ctx, ir) : op.emit(ctx, node);
    // Half results are rounded to their format, as storing them as half would (outputs nothing reads are left alone).
    if (!VALUE_PRESERVING.has(node.op)) {
      for (const o of node.outputs) {
        const t = o ? graph.tensors.get(o) : undefined;
        if (!t?.half || t.data || !used.has(o)) continue;
        code += `${code ? '\n' : ''}for (long i = 0; i < ${numel(t.shape)}; i++) ${ref(o)}[i] = ${HALF_C[t.half].round}(${ref(o)}[i]);`;
      }
    }
    const fused = ir ? [ir.expand, ir.depthwise, ir.project].map((n) => `${n.op} ${n.name}${n.fused ? ` + ${n.fused.ops.join(' + ')}` : ''}`).join(', then ') : node.fused ? ` + ${node.fused.ops.join(' + ')}` : '';
    if (!code) continue;
    const label = ir ? `inverted residual: ${fused}` : `${node.op} ${node.name}${fused}`;
    const covered = ir ? [ir.expand, ir.depthwise, ir.project] : [node];
    const k = kernels.length;
    kernels.push({
      label,
      nodes: covered.flatMap((n) => [n.name, ...(n.fused?.ops ?? []).flatMap(fusedParts).map((f) => f.name).filter(Boolean)]),
      ops: covered.flatMap((n) => [n.op, ...(n.fused?.ops ?? []).flatMap(fusedParts).map((f) => f.op)]),
      flops: covered.reduce((a, n) => a + nodeFlops(graph, n), 0),
    });
    body.push(indent(`  /* ${comment(label)} */\n  KILN_PROF_BEGIN(${k})\n  {\n${code.replace(/^/gm, '    ')}\n  }\n  KILN_PROF_END(${k})`));
  }
  enter([]);
  const planned = plan?.size ?? 0;
  if (planned) activationBytes = planned;
  const onFirstRun = arena.length > 0 || planned > 0;
  const actDecl = planned
    ? `/* The intermediate tensors: parts of one block of ${planned} bytes, each placed where no tensor live at the same time is. */
#ifdef __wasm__
#define kiln_tensors kiln_arena
#else
static char kiln_tensors[${planned}] ${align(planned, 'kiln_tensors')};
#endif`
    : '';
  // Outputs that are constants or inputs, or that an alias left elsewhere, are copied out.
  graph.outputs.forEach((o, i) => {
    const r = ref(o);
    if (r !== `out${i}`) body.push(`  memcpy(out${i}, ${r}, sizeof(*out${i}) * ${numel(graph.tensors.get(o)!.shape)});`);
  });

  const info = (n: string): TensorInfo => {
    const t = graph.tensors.get(n)!;
    return { name: n, dtype: ioType(t), shape: t.shape, ...(t.dynamic ? { dynamic: true } : {}) };
  };
  const inputs = graph.inputs.map(info);
  const outputs = graph.outputs.map(info);
  const halves = [...inputs, ...outputs].some((t) => isHalf(t.dtype)) || [...graph.tensors.values()].some((t) => t.half);
  // Half outputs are computed in float32 and converted at the end; half inputs are converted first.
  graph.outputs.forEach((o, i) => {
    const t = graph.tensors.get(o)!;
    if (t.half) body.push(`  { uint16_t *h = (uint16_t *)outputs[${i}]; for (long i = 0; i < ${numel(t.shape)}; i++) h[i] = ${HALF_C[t.half].fromFloat}(out${i}[i]); }`);
  });
  const halfBuffers = [...inputs.map((t, i) => ({ t, v: `kiln_in${i}` })), ...outputs.map((t, i) => ({ t, v: `kiln_out${i}` }))]
    .filter(({ t }) => isHalf(t.dtype))
    .map(({ t, v }) => `static float ${v}[${Math.max(1, numel(t.shape))}] ${align(numel(t.shape) * 4, v)}; /* ${comment(t.name)}, as float32 */`);
  // float8, float4, int4, uint4, int2 and uint2 at the edges: converted from their bytes first, to them at the end, held in these.
  const packedOf = (t: TensorInfo) => (PACKED.includes(t.dtype as Packed) ? (t.dtype as Packed) : undefined);
  const packedBuffers = [...inputs.map((t, i) => ({ t, v: `kiln_in${i}` })), ...outputs.map((t, i) => ({ t, v: `kiln_out${i}` }))]
    .filter(({ t }) => packedOf(t))
    .map(({ t, v }) => `static ${packedHeld(packedOf(t)!)} ${v}[${Math.max(1, numel(t.shape))}] ${align(numel(t.shape) * 4, v)}; /* ${comment(t.name)}, as ${packedHeld(packedOf(t)!)} */`);
  graph.outputs.forEach((o, i) => {
    const p = graph.tensors.get(o)!.packed;
    if (p) body.push(`  ${packedStoreC(p, `out${i}`, `(uint8_t *)outputs[${i}]`, numel(graph.tensors.get(o)!.shape))}`);
  });
  const minifloats = [...graph.tensors.values()].flatMap((t) => (t.packed && isPackedFloat(t.packed) ? [t.packed] : []));
  const scratchDecl = useKernels ? `static float kiln_scratch[KILN_THREADS * KILN_SCRATCH_FLOATS] ${align(threads * Math.max(16, scratchFloats) * 4, 'kiln_scratch')};` : '';
  const sharedDecl = sharedFloats ? `static float kiln_shared[${sharedFloats}] ${align(sharedFloats * 4, 'kiln_shared')};` : '';
  const cDecl = (t: TensorInfo) => (t.dtype === 'string' ? 'const char *' : isHalf(t.dtype) ? 'uint16_t' : packedOf(t) ? 'uint8_t' : C_TYPE[t.dtype as keyof typeof C_TYPE]);
  const edgeType = (t: TensorInfo) => {
    const p = packedOf(t);
    if (p) return packedBits(p) === 8 ? `${p} (uint8_t, the format's bits)` : `${p} (${8 / packedBits(p) === 2 ? 'two' : 'four'} to a uint8_t, the first in its low ${packedBits(p) === 4 ? 'four' : 'two'} bits)`;
    return t.dtype === 'string' ? 'string (const char *, UTF-8)' : isHalf(t.dtype) ? `${t.dtype} (uint16_t, the format's bits)` : t.dtype;
  };
  const describe = (ts: TensorInfo[]) => ts.map((t, i) => ` *   [${i}] ${comment(t.name)}: ${edgeType(t)} [${t.shape.join(', ')}]${t.dynamic ? ' at most; the actual shape depends on the values' : ''}`).join('\n');
  const rank = Math.max(1, ...outputs.map((t) => t.shape.length));
  const strings = [...inputs, ...outputs].some((t) => t.dtype === 'string');
  const codes = [...errorCodes].sort((a, b) => a - b);
  const unfitList = [...unfit].map(([branch, why]) => `\n *   ${comment(`${branch} (${why})`)}`).join('');
  const returns = codes.map((c) => `,\n * or ${c} ${RETURNS_WHEN[c].replace('{branches}', () => unfitList)}`).join('');
  /** What each code means, in model.json; for RUN_ERRORS.unfitBranch, naming the branches. */
  const meaning = (c: number) => (c === RUN_ERRORS.unfitBranch ? `${RUN_ERROR_MEANINGS[c]}: ${[...unfit.keys()].join(', or ')}` : RUN_ERROR_MEANINGS[c]);
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
 * Returns 0${returns}. Not reentrant: intermediate buffers are static${onFirstRun ? ` (on WebAssembly, one block allocated on the first
 * run; when it cannot be, the run returns ${RUN_ERRORS.outOfMemory})` : ''}.${weightBytes >= COPY_WEIGHTS_BYTES ? `
 * On Linux the first run copies the ${weightBytes} bytes of weights into memory it maps (huge pages where the
 * system allows), kept for the life of the process; build with -DKILN_WEIGHTS_IN_PLACE to read them in place.` : ''}${strings ? `
 * A string output's elements point into memory the model owns, valid until the next run.` : ''}
 */
int ${name}_run(const void *const inputs[], void *const outputs[]);

/* The shape of output \`index\` after the last run (its rank as listed above); NULL for no such output. */
const int64_t *${name}_output_shape(int index);

#ifdef __cplusplus
}
#endif

#endif
`;
  const copyWeights = weightBytes >= COPY_WEIGHTS_BYTES;
  const memory = huge.length > 0 || copyWeights;
  const firstRun = [...huge.map((b) => `kiln_advise_huge(${b}, sizeof ${b});`), ...(copyWeights ? ['kiln_copy_weights();'] : [])];
  const source = `/* Generated by Kiln ${COMPILER_VERSION} from an ONNX model (opset ${graph.opset}); do not edit. */
${memory ? `#if defined(__linux__) && !defined(_DEFAULT_SOURCE)
#define _DEFAULT_SOURCE /* madvise */
#endif
` : ''}#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "${name}.h"
${memory ? HUGE_PAGES_C : ''}
${weightBytes ? `static const unsigned char kiln_weights${copyWeights ? '_image' : ''}[] __attribute__((aligned(64))) = {
#embed "${name}.weights.bin"
};
${copyWeights ? COPY_WEIGHTS_C : ''}
${weightDefs.join('\n')}` : weightDefs.length ? `static const unsigned char kiln_weights[64] __attribute__((aligned(64))); /* only empty constants */
${weightDefs.join('\n')}` : ''}

${halves ? halfConversionsC('static inline') : ''}
${packedConversionsC(minifloats)}
${onFirstRun ? '#ifdef __wasm__\nstatic char *kiln_arena; /* the intermediate buffers, allocated on the first run */\n#endif' : ''}
${actDecl}
${buffers.join('\n')}
${halfBuffers.join('\n')}
${packedBuffers.join('\n')}
${statics.join('\n')}
${useKernels ? `${kernelLibrary(threads)}
#define KILN_SCRATCH_FLOATS ${Math.max(16, scratchFloats)}
${scratchDecl}
${sharedDecl}` : ''}${helpers.size ? `\n${[...helpers.values()].join('\n')}` : ''}
#ifdef KILN_PROFILE
#include <time.h>
/* Each kernel's wall time, summed over runs, in nanoseconds (C11's timespec_get). */
double ${name}_profile_ns[${Math.max(1, kernels.length)}];
static double kiln_prof_now(void) { struct timespec t; timespec_get(&t, TIME_UTC); return (double)t.tv_sec * 1e9 + (double)t.tv_nsec; }
#define KILN_PROF_BEGIN(k) const double kiln_prof_t##k = kiln_prof_now();
#define KILN_PROF_END(k) ${name}_profile_ns[k] += kiln_prof_now() - kiln_prof_t##k;
#else
#define KILN_PROF_BEGIN(k)
#define KILN_PROF_END(k)
#endif
static int64_t kiln_shape[${Math.max(1, outputs.length)}][${rank}] = { ${outputs.map((t) => `{ ${t.shape.join(', ') || '0'} }`).join(', ') || '{ 0 }'} };

const int64_t *${name}_output_shape(int index) {
  return index >= 0 && index < ${outputs.length} ? kiln_shape[index] : 0;
}

int ${name}_run(const void *const inputs[], void *const outputs[]) {
${onFirstRun ? `#ifdef __wasm__
  if (!kiln_arena) {
    kiln_arena = (char *)aligned_alloc(64, ${activationBytes});
    if (!kiln_arena) return ${RUN_ERRORS.outOfMemory};
    memset(kiln_arena, 0, ${activationBytes});
${arena.map((a) => `    ${a}`).join('\n')}
  }
#endif
` : ''}${firstRun.length ? `  static int advised;
  if (!advised) {
    advised = 1;
${firstRun.map((s) => `    ${s}`).join('\n')}
  }
` : ''}${inputs.map((t, i) => (t.dtype === 'string' ? `  const char *const *in${i} = (const char *const *)inputs[${i}];` : isHalf(t.dtype) ? `  const float *in${i} = kiln_in${i};
  { const uint16_t *h = (const uint16_t *)inputs[${i}]; for (long i = 0; i < ${numel(t.shape)}; i++) kiln_in${i}[i] = ${HALF_C[t.dtype].toFloat}(h[i]); }` : packedOf(t) ? `  const ${packedHeld(packedOf(t)!)} *in${i} = kiln_in${i};
  ${packedLoadC(packedOf(t)!, `(const uint8_t *)inputs[${i}]`, `kiln_in${i}`, numel(t.shape))}` : `  const ${cDecl(t)} *in${i} = (const ${cDecl(t)} *)inputs[${i}];`)).join('\n')}
${outputs.map((t, i) => (isHalf(t.dtype) ? `  float *out${i} = kiln_out${i};` : packedOf(t) ? `  ${packedHeld(packedOf(t)!)} *out${i} = kiln_out${i};` : `  ${cDecl(t)} *out${i} = (${cDecl(t)} *)outputs[${i}];`)).join('\n')}
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
    activationBytes,
    flops: graphFlops(graph, nodes),
    kernels,
    ...(codes.length ? { errors: Object.fromEntries(codes.map((c) => [String(c), meaning(c)])) } : {}),
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
  if (opts.fusion !== false) fuse(graph, { channelScale: true });
  const threads = opts.threads ?? 1;
  if (!Number.isInteger(threads) || threads < 1 || threads > 256) throw new CompileError('invalid', `threads must be an integer from 1 to 256, not ${threads}`);
  return generateC(graph, name, threads, opts.kernels !== false, opts.invertedResidualBytes);
}

export { cIdent };

/**
 * Why a model cannot be a model job (the service's seeded inputs, harness files and ONNX Runtime
 * reference are numeric and of fixed shape), or null. The compiler itself takes such models.
 */
export function modelJobProblem(meta: { inputs: Pick<TensorInfo, 'name' | 'dtype'>[]; outputs: Pick<TensorInfo, 'name' | 'dtype' | 'dynamic'>[] }): string | null {
  const strings = [...meta.inputs, ...meta.outputs].filter((t) => t.dtype === 'string').map((t) => t.name);
  if (strings.length) return `string tensors (${strings.join(', ')}) are compiled by the compiler library and CLI, not by model jobs`;
  const dynamic = meta.outputs.filter((t) => t.dynamic).map((t) => t.name);
  if (dynamic.length) return `outputs whose shape depends on the values (${dynamic.join(', ')}) are compiled by the compiler library and CLI, not by model jobs`;
  const bf16 = [...meta.inputs, ...meta.outputs].filter((t) => t.dtype === 'bfloat16').map((t) => t.name);
  if (bf16.length) return `bfloat16 inputs and outputs (${bf16.join(', ')}) are compiled by the compiler library and CLI, not by model jobs: the ONNX Runtime reference takes no bfloat16 tensors from JavaScript`;
  const packed = [...meta.inputs, ...meta.outputs].filter((t) => PACKED.includes(t.dtype as Packed)).map((t) => `${t.name} (${t.dtype})`);
  if (packed.length) return `float8, float4, int4, uint4, int2 and uint2 inputs and outputs (${packed.join(', ')}) are compiled by the compiler library and CLI, not by model jobs`;
  return null;
}
