import { checkSupported, COMPILER_VERSION, inferShapes, liveNodes, ModelMetadata, TensorInfo } from '../compile';
import { graphFlops } from '../flops';
import { REDUCE_KINDS } from '../ops/reduce';
import { fuse } from '../fuse';
import { importOnnx, ImportOptions } from '../import';
import { Half, VALUE_PRESERVING } from '../half';
import { activationC, CompileError, Graph, ioType, IO_BYTES, Node, numel, Tensor, toNumbers } from '../ir';
import { as2d, slidingWindow } from '../ops/conv';
import { padTaps } from '../ops/pool';
import { attrFloat, attrInt, attrInts, broadcast, broadcastStrides, flt, normAxis, stridesOf } from '../ops/op';
import { CUDA_RUNTIME } from './runtime';

/** Float -> float functions of `x`, as CUDA C (the device math library has the same names as C's). */
// As the C emitters (ops/elementwise.ts): NaN stays NaN where ONNX Runtime keeps it.
const UNARY: Record<string, (n: Node) => string> = {
  Relu: () => 'x < 0.0f ? 0.0f : x', // NaN stays NaN, -0 stays -0 (as ONNX Runtime's)
  Sigmoid: () => '1.0f / (1.0f + expf(-x))',
  Tanh: () => 'tanhf(x)',
  Exp: () => 'expf(x)',
  Log: () => 'logf(x)',
  Sqrt: () => 'sqrtf(x)',
  Erf: () => 'erff(x)',
  Neg: () => '-x',
  Abs: () => 'fabsf(x)',
  Reciprocal: () => '1.0f / x',
  Floor: () => 'floorf(x)',
  Ceil: () => 'ceilf(x)',
  Softplus: () => 'x > 0.0f ? x + log1pf(expf(-x)) : log1pf(expf(x))',
  Softsign: () => 'x / (1.0f + fabsf(x))',
  Shrink: (n) => {
    const l = flt(attrFloat(n, 'lambd', 0.5));
    const b = flt(attrFloat(n, 'bias', 0));
    return `x < -${l} ? x + ${b} : x > ${l} ? x - ${b} : 0.0f`;
  },
  Cos: () => 'cosf(x)',
  Sin: () => 'sinf(x)',
  Tan: () => 'tanf(x)',
  Sign: () => 'x != x ? x : (float)((x > 0.0f) - (x < 0.0f))',
  Round: () => 'rintf(x)',
  Mish: () => 'x * tanhf(log1pf(expf(x)))',
  LeakyRelu: (n) => `x >= 0.0f ? x : ${flt(attrFloat(n, 'alpha', 0.01))} * x`,
  HardSigmoid: (n) => {
    const y = `(${flt(attrFloat(n, 'alpha', 0.2))} * x + ${flt(attrFloat(n, 'beta', 0.5))})`;
    return `${y} < 0.0f ? 0.0f : ${y} > 1.0f ? 1.0f : ${y}`;
  },
  HardSwish: () => 'x * fmaxf(0.0f, fminf(1.0f, x / 6.0f + 0.5f))',
  Elu: (n) => `x >= 0.0f ? x : ${flt(attrFloat(n, 'alpha', 1))} * (expf(x) - 1.0f)`,
  Acos: () => 'acosf(x)',
  Asin: () => 'asinf(x)',
  Atan: () => 'atanf(x)',
  Sinh: () => 'sinhf(x)',
  Cosh: () => 'coshf(x)',
  Asinh: () => 'asinhf(x)',
  Acosh: () => 'acoshf(x)',
  Atanh: () => 'atanhf(x)',
  Selu: (n) => {
    const g = flt(attrFloat(n, 'gamma', 1.0507009873554805));
    const a = flt(attrFloat(n, 'alpha', 1.6732632423543772));
    return `x > 0.0f ? ${g} * x : ${g} * (${a} * expf(x) - ${a})`;
  },
  ThresholdedRelu: (n) => `x > ${flt(attrFloat(n, 'alpha', 1))} ? x : 0.0f`,
  Celu: (n) => `x > 0.0f ? x : ${flt(attrFloat(n, 'alpha', 1))} * (expf(x / ${flt(attrFloat(n, 'alpha', 1))}) - 1.0f)`,
  Identity: () => 'x',
  Dropout: () => 'x',
  /* Between float formats only (other types are refused): a half result is rounded as it is stored. */
  Cast: () => 'x',
};
const BINARY: Record<string, (a: string, b: string) => string> = {
  Add: (a, b) => `${a} + ${b}`,
  Sub: (a, b) => `${a} - ${b}`,
  Mul: (a, b) => `${a} * ${b}`,
  Div: (a, b) => `${a} / ${b}`,
  Pow: (a, b) => `powf(${a}, ${b})`,
  PRelu: (a, b) => `${a} >= 0.0f ? ${a} : ${b} * ${a}`,
};
const VARIADIC = new Set(['Max', 'Min', 'Sum', 'Mean']);
const ELEMENTWISE = new Set([...Object.keys(UNARY), ...Object.keys(BINARY), ...VARIADIC, 'Clip']);
const ALIASES = new Set(['Reshape', 'Flatten', 'Squeeze', 'Unsqueeze']);
const OTHERS = new Set(['Expand', 'Gather', 'Slice', 'Split', 'Pad', 'MatMul', 'Gemm', 'Conv', 'MaxPool', 'AveragePool', 'GlobalAveragePool', 'BatchNormalization', 'LayerNormalization', 'Softmax', 'LogSoftmax', 'Transpose', 'Concat',
  'ReduceMean', 'ReduceSum', 'ReduceMax', 'ReduceMin', 'ReduceProd', 'ReduceL1', 'ReduceL2', 'ReduceLogSum', 'ReduceLogSumExp', 'ReduceSumSquare']);

/** The operators the CUDA generator emits kernels for (others fail generation, by name). */
export const CUDA_OPS: ReadonlySet<string> = new Set([...ELEMENTWISE, ...ALIASES, ...OTHERS]);

const REDUCE: Record<string, { init: string; acc: string; fin: (n: number) => string }> = REDUCE_KINDS;

export interface CudaModel {
  /** <name>.cu (kernels and the host entry points), <name>.h, <name>.weights.bin, <name>.json */
  files: Record<string, string | Uint8Array>;
  metadata: ModelMetadata;
  /** The kernels by kind, in launch order: what each node became. */
  launches: { node: string; kernel: 'elementwise' | 'gemm' | 'implicit-gemm' | 'tensor-core-gemm' | 'direct' | 'warp-rows' | 'copy' | 'alias' | 'round' | 'convert' }[];
  /** Device memory: the weights, the arena the intermediates share, and what they would take unshared. */
  memory: { weights: number; arena: number; intermediates: number };
}

export interface CudaCompileOptions extends ImportOptions {
  name?: string;
  /** Fuse BatchNormalization, bias, residual and activations into GEMM and convolution epilogues (default true). */
  fusion?: boolean;
}

function comment(text: string): string {
  return text.replace(/\*\//g, '* /').replace(/[^\x20-\x7e]/g, '?');
}

/** Index variables of a linear index `i` over a shape: d0..dn, as C declarations. */
function decompose(shape: number[], i = 'i', prefix = 'd'): string {
  const s = stridesOf(shape);
  return shape.map((d, k) => `[[maybe_unused]] const long ${prefix}${k} = ${d === 1 ? '0' : `${i} / ${s[k]} % ${d}`};`).join(' ');
}

function offsetOf(strides: number[], prefix = 'd'): string {
  const t = strides.map((s, k) => (s === 0 ? '' : s === 1 ? `${prefix}${k}` : `${prefix}${k} * ${s}`)).filter(Boolean);
  return t.length ? t.join(' + ') : '0';
}

/** Refuses what the CUDA generator cannot emit, naming every such operator (never emitting wrong code). */
export function checkCudaSupported(graph: Graph): void {
  const nodes = liveNodes(graph);
  const missing = [...new Set(nodes.map((n) => n.op).filter((op) => !CUDA_OPS.has(op)))].sort();
  if (missing.length) throw new CompileError('unsupported', `the CUDA backend does not support these operators: ${missing.join(', ')}`, missing);
  for (const n of nodes) {
    const x = graph.tensors.get(n.inputs[0]);
    if (['Conv', 'MaxPool', 'AveragePool'].includes(n.op) && x && x.shape.length > 4) {
      throw new CompileError('unsupported', `the CUDA backend supports 1-D and 2-D ${n.op} only: ${n.name} has ${x.shape.length - 2} spatial dimensions`, [n.op]);
    }
    const ind = n.op === 'Gather' ? graph.tensors.get(n.inputs[1]) : undefined;
    if (ind && !ind.data) {
      throw new CompileError('unsupported', `the CUDA backend supports Gather with constant indices only: ${n.name} reads its indices from ${n.inputs[1]} at run time (the C backend supports that)`, [n.op]);
    }
    for (const t of [...n.inputs, ...n.outputs]) {
      if (!t) continue;
      const tt = graph.tensors.get(t);
      if (tt && tt.dtype !== 'float32' && !(tt.data && n.inputs.indexOf(t) > 0 && !['Concat', 'MatMul', 'Gemm', 'Conv'].includes(n.op))) {
        throw new CompileError('unsupported', `the CUDA backend supports float32 tensors only: ${n.op} ${n.name} uses ${t} (${tt.dtype})`, [n.op]);
      }
    }
  }
}

/** Generates CUDA C for a graph: one file with the kernels and a host library with the C entry points. */
export function generateCuda(graph: Graph, name: string): CudaModel {
  checkCudaSupported(graph);
  const nodes = liveNodes(graph);
  const inputIndex = new Map(graph.inputs.map((n, i) => [n, i]));
  const outputIndex = new Map(graph.outputs.map((n, i) => [n, i]));
  const tensor = (n: string): Tensor => {
    const t = graph.tensors.get(n);
    if (!t) throw new CompileError('invalid', `unknown tensor ${n}`);
    return t;
  };

  // Device memory: constants in one weights block, intermediates in one arena, both 256-byte aligned.
  const weightParts: { off: number; bytes: Uint8Array }[] = [];
  let weightBytes = 0;
  let arenaBytes = 0;
  const refs = new Map<string, string>();
  const decls: string[] = [];
  /** Intermediates by C name: size, and the first and last kernel (step) that touches each. */
  const arena = new Map<string, { bytes: number; first: number; last: number; label: string }>();
  let step = 0;
  const ref = (n: string): string => {
    const have = refs.get(n);
    if (have) {
      const a = arena.get(have);
      if (a) a.last = step;
      return have;
    }
    const t = tensor(n);
    let r: string;
    // Half inputs and outputs are 16-bit at the entry points: the graph works on float32 copies.
    if (inputIndex.has(n) && !t.half) r = `in${inputIndex.get(n)}`;
    else if (outputIndex.has(n) && !t.data && !t.half) r = `out${outputIndex.get(n)}`;
    else if (t.data) {
      if (t.dtype !== 'float32') throw new CompileError('unsupported', `the CUDA backend supports float32 constants only: ${n} is ${t.dtype}`);
      weightBytes = Math.ceil(weightBytes / 256) * 256;
      const bytes = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
      weightParts.push({ off: weightBytes, bytes });
      r = `w${weightParts.length - 1}`;
      decls.push(`  const float *${r} = (const float *)(kiln_dw + ${weightBytes}); /* ${comment(n)} [${t.shape.join(', ')}] */`);
      weightBytes += bytes.length;
    } else {
      r = `t${arena.size}`;
      arena.set(r, { bytes: Math.max(1, numel(t.shape)) * 4, first: step, last: step, label: `${comment(n)} [${t.shape.join(', ')}]` });
    }
    refs.set(n, r);
    return r;
  };

  const kernels: string[] = [];
  const body: string[] = [];
  /** Which optional parts of the runtime the kernels use (the rest is left out: no unused code). */
  const uses_ = new Set<string>();
  const launches: CudaModel['launches'] = [];
  let kid = 0;

  /** A per-output-element kernel: `code` sees i, a.y and a.x[k] (the pointers given). */
  const pointwise = (node: Node, kind: CudaModel['launches'][number]['kernel'], n: number, y: string, xs: string[], code: string): void => {
    if (xs.length > 16) throw new CompileError('unsupported', `${node.op} ${node.name}: more than 16 inputs in one CUDA kernel`);
    const k = `kiln_k${kid++}`;
    kernels.push(`/* ${comment(`${node.op} ${node.name}`)} */\nstruct ${k} {\n  static KILN_HD void run(long i, const KilnArgs &a) {\n${code.replace(/^/gm, '    ')}\n  }\n};`);
    body.push(`  { KilnArgs a = {}; a.y = ${y};${xs.map((x, j) => ` a.x[${j}] = ${x};`).join('')} kiln_launch<${k}>(${n}, a); }`);
    launches.push({ node: node.name, kernel: kind });
  };

  const ROUND: Record<Half, { fn: string; kernel: string; from: string; to: string }> = {
    float16: { fn: 'kiln_round_float16', kernel: 'kiln_round_f16', from: 'kiln_from_f16', to: 'kiln_to_f16' },
    bfloat16: { fn: 'kiln_round_bfloat16', kernel: 'kiln_round_bf16', from: 'kiln_from_bf16', to: 'kiln_to_bf16' },
  };
  /** `v` as stored in tensor `name`: rounded to its half format where it has one. */
  const stored = (name: string, v: string): string => {
    const h = tensor(name).half;
    if (!h) return v;
    uses_.add('HALF');
    return `${ROUND[h].fn}(${v})`;
  };
  /** The half-format kernels used (each emitted once; an unused one would be a warning). */
  const HALF_KERNELS: Record<string, string> = {
    kiln_round_f16: 'a.y[i] = kiln_round_float16(a.y[i]);',
    kiln_round_bf16: 'a.y[i] = kiln_round_bfloat16(a.y[i]);',
    kiln_from_f16: 'a.y[i] = kiln_f16_to_f32(((const uint16_t *)a.x[0])[i]);',
    kiln_from_bf16: 'a.y[i] = kiln_bf16_to_f32(((const uint16_t *)a.x[0])[i]);',
    kiln_to_f16: '((uint16_t *)a.y)[i] = kiln_f32_to_f16(a.x[0][i]);',
    kiln_to_bf16: '((uint16_t *)a.y)[i] = kiln_f32_to_bf16(a.x[0][i]);',
  };
  const halfKernels = new Set<string>();
  const convert = (kernel: string, label: string, n: number, y: string, x: string): void => {
    uses_.add('HALF');
    halfKernels.add(kernel);
    body.push(`  { KilnArgs a = {}; a.y = (float *)${y}; a.x[0] = (const float *)${x}; kiln_launch<${kernel}>(${n}, a); }`);
    launches.push({ node: label, kernel: 'convert' });
  };
  graph.inputs.forEach((n, i) => {
    const h = tensor(n).half;
    if (h) convert(ROUND[h].from, n, numel(tensor(n).shape), ref(n), `in${i}`);
  });

  // Element-wise fusion: a float element-wise node whose only consumer is element-wise is computed inside that consumer's kernel.
  const producer = new Map<string, Node>();
  for (const n of nodes) for (const o of n.outputs) if (o) producer.set(o, n);
  const uses = new Map<string, number>();
  for (const n of nodes) for (const i of n.inputs) if (i) uses.set(i, (uses.get(i) ?? 0) + 1);
  const inlined = new Set<Node>();
  for (const n of nodes) {
    if (!ELEMENTWISE.has(n.op) || outputIndex.has(n.outputs[0]) || uses.get(n.outputs[0]) !== 1) continue;
    const consumer = nodes.find((c) => c.inputs.includes(n.outputs[0]));
    if (consumer && ELEMENTWISE.has(consumer.op)) inlined.add(n);
  }

  const clipBound = (node: Node, i: number, attr: string, d: number): string => {
    if (!node.inputs[i]) return flt(attrFloat(node, attr, d));
    const t = tensor(node.inputs[i]);
    if (!t.data || numel(t.shape) !== 1) throw new CompileError('unsupported', `Clip ${node.name}: the CUDA backend needs constant bounds`);
    return flt(Number(t.data[0]));
  };

  const emitElementwise = (root: Node): void => {
    const outShape = tensor(root.outputs[0]).shape;
    const leaves: string[] = [];
    const leafIndex = new Map<string, number>();
    const lines: string[] = [decompose(outShape)];
    let v = 0;
    const ops: string[] = [];
    const value = (name: string): string => {
      const p = producer.get(name);
      if (p && inlined.has(p)) return compute(p);
      const t = tensor(name);
      if (t.data && numel(t.shape) === 1) return flt(Number(t.data[0]));
      const key = name;
      let k = leafIndex.get(key);
      if (k === undefined) {
        k = leaves.length;
        leaves.push(name);
        leafIndex.set(key, k);
      }
      const out = `v${v++}`;
      lines.push(`const float ${out} = a.x[${k}][${offsetOf(broadcastStrides(t.shape, outShape))}];`);
      return out;
    };
    const compute = (node: Node): string => {
      const out = computeRaw(node);
      if (!tensor(node.outputs[0]).half || VALUE_PRESERVING.has(node.op)) return out;
      lines.push(`const float ${out}h = ${stored(node.outputs[0], out)};`);
      return `${out}h`;
    };
    const computeRaw = (node: Node): string => {
      ops.push(node.op);
      const out = `v${v++}`;
      if (node.op in UNARY) {
        const x = value(node.inputs[0]);
        lines.push(`float ${out}; { const float x = ${x}; ${out} = ${UNARY[node.op](node)}; }`);
      } else if (node.op in BINARY) {
        const a = value(node.inputs[0]);
        const b = value(node.inputs[1]);
        lines.push(`const float ${out} = ${BINARY[node.op](a, b)};`);
      } else if (node.op === 'Clip') {
        const x = value(node.inputs[0]);
        const lo = clipBound(node, 1, 'min', -Infinity);
        const hi = clipBound(node, 2, 'max', Infinity);
        lines.push(`float ${out}; { float x = ${x}; x = x < ${lo} ? ${lo} : x; ${out} = x > ${hi} ? ${hi} : x; }`);
      } else {
        const xs = node.inputs.map(value);
        // Max and Min give NaN when an input is NaN, as ONNX Runtime's do (fmaxf and fminf would drop it).
        const combine = (x: string) => (node.op === 'Max' ? `${out} = ${out} > ${x} || ${out} != ${out} ? ${out} : ${x};` : node.op === 'Min' ? `${out} = ${out} < ${x} || ${out} != ${out} ? ${out} : ${x};` : `${out} += ${x};`);
        lines.push(`float ${out} = ${xs[0]};`);
        for (let k = 1; k < xs.length; k++) lines.push(combine(xs[k]));
        if (node.op === 'Mean') lines.push(`${out} /= ${xs.length}.0f;`);
      }
      return out;
    };
    const result = compute(root);
    lines.push(`a.y[i] = ${result};`);
    pointwise({ ...root, name: `${root.name} (${ops.reverse().join(' + ')})` }, 'elementwise', numel(outShape), ref(root.outputs[0]), leaves.map(ref), lines.join('\n'));
  };

  /** The fused epilogue of a Conv/Gemm/MatMul on `v` at output linear index `idx`, column n. */
  const epilogue = (node: Node, idx: string, col: string): { code: string; ptrs: string[] } => {
    const f = node.fused;
    const lines: string[] = [];
    const ptrs: string[] = [];
    if (!f) return { code: '', ptrs };
    let e = f.scale === undefined ? 'v' : `v * ${flt(f.scale)}`;
    if (f.biasN) {
      ptrs.push(`p.bias_n = ${ref(f.biasN)};`);
      e += ` + bias_n[${col}]`;
    }
    if (f.residual) {
      ptrs.push(`p.res = ${ref(f.residual)};`);
      e += ` + res[${idx}]`;
    }
    lines.push(`v = ${e};`);
    if (f.clamp) {
      if (f.clamp[0] !== -Infinity) lines.push(`v = v < ${flt(f.clamp[0])} ? ${flt(f.clamp[0])} : v;`);
      if (f.clamp[1] !== Infinity) lines.push(`v = v > ${flt(f.clamp[1])} ? ${flt(f.clamp[1])} : v;`);
    }
    if (f.act === 'gelu') {
      lines.push('v = kiln_gelu(v);');
      uses_.add('GELU');
    } else if (f.act) lines.push(activationC(f.act));
    return { code: lines.join(' '), ptrs };
  };

  /**
   * One GEMM call. A and B are the scalar accessors; Ap/Bp, where given, the address of 4
   * contiguous elements (A along k; B along n, or along k when bAlongK), which the loader uses
   * for 16-byte loads when the extent is a multiple of 4.
   */
  const gemm = (node: Node, kind: 'gemm' | 'implicit-gemm', d: { M: number; N: number; K: number; batch: number; A: string; B: string; Ap?: string; Bp?: string; bAlongK?: boolean; pre: string; idx: string; ptrs: string[]; half?: Half }): void => {
    if (d.batch > 65535) throw new CompileError('unsupported', `${node.op} ${node.name}: a batch of ${d.batch} is more than one CUDA grid holds`);
    const k = `kiln_g${kid++}`;
    const aVec = !!d.Ap && d.K % 4 === 0;
    const bVec = !!d.Bp && !d.bAlongK && d.N % 4 === 0;
    const bKVec = !!d.Bp && !!d.bAlongK && d.K % 4 === 0;
    const outShape = tensor(node.outputs[0]).shape;
    const epi = epilogue(node, 'o', `o % ${outShape[outShape.length - 1] ?? 1}`);
    // The tensor-core GEMM stages tiles element by element (converting them): it needs no vector loads.
    const simt = d.half ? '' : `
  static constexpr bool A_VEC = ${aVec}, B_VEC = ${bVec}, B_KVEC = ${bKVec};
  KILN_HD const float *Ap(int z, int m, int k) const { return ${aVec ? `&${d.Ap}` : 'a'}; }
  KILN_HD const float *Bp(int z, int k, int n) const { return ${bVec || bKVec ? `&${d.Bp}` : 'b'}; }`;
    kernels.push(`/* ${comment(`${node.op} ${node.name}${node.fused ? ` + ${node.fused.ops.join(' + ')}` : ''}`)}: ${d.batch} x [${d.M} x ${d.K}] x [${d.K} x ${d.N}] */
struct ${k} {
  static constexpr int M = ${d.M}, N = ${d.N}, K = ${d.K};
  static constexpr bool B_KCONTIG = ${!!d.bAlongK};
  const float *a, *b, *c, *bias_m, *bias_n, *res;
  float *y;
  KILN_HD float A(int z, int m, int k) const { return ${d.A}; }
  KILN_HD float B(int z, int k, int n) const { ${d.B} }${simt}
  KILN_HD void store(int z, int m, int n, float v) const { const int o = ${d.idx}; ${d.pre} ${epi.code} y[o] = ${stored(node.outputs[0], 'v')}; }
};`);
    if (d.half) {
      // Both operands are of one half format: tensor cores.
      uses_.add('HGEMM');
      uses_.add('HALF');
      if (Math.ceil(d.M / 64) > 65535) throw new CompileError('unsupported', `${node.op} ${node.name}: ${d.M} rows are more than one CUDA grid of GEMM tiles holds`);
      body.push(`  { ${k} p = {}; ${[...d.ptrs, ...epi.ptrs].join(' ')} kiln_hgemm<${d.half === 'float16' ? 'KilnF16' : 'KilnBF16'}, ${k}>(p, ${d.batch}); }`);
      launches.push({ node: node.name, kernel: 'tensor-core-gemm' });
      return;
    }
    uses_.add('GEMM');
    const cfg = d.M >= 128 && d.N >= 128 ? 'KilnGemmLarge' : 'KilnGemmSmall';
    const rowTiles = Math.ceil(d.M / (cfg === 'KilnGemmLarge' ? 128 : 32));
    if (rowTiles > 65535) throw new CompileError('unsupported', `${node.op} ${node.name}: ${d.M} rows are more than one CUDA grid of GEMM tiles holds`);
    body.push(`  { ${k} p = {}; ${[...d.ptrs, ...epi.ptrs].join(' ')} kiln_gemm<${cfg}, ${k}>(p, ${d.batch}); }`);
    launches.push({ node: node.name, kernel: kind });
  };

  const batchOffset = (batch: number[], strides: number[]): string => {
    const s = stridesOf(batch);
    const t = batch.map((d, k) => (strides[k] === 0 || d === 1 ? '' : `(z / ${s[k]} % ${d}) * ${strides[k]}`)).filter(Boolean);
    return t.length ? t.join(' + ') : '0';
  };

  const emitters: Record<string, (node: Node) => void> = {
    MatMul(node) {
      const a = tensor(node.inputs[0]);
      const b = tensor(node.inputs[1]);
      const as = a.shape.length === 1 ? [1, a.shape[0]] : a.shape;
      const bs = b.shape.length === 1 ? [b.shape[0], 1] : b.shape;
      const M = as[as.length - 2];
      const K = as[as.length - 1];
      const N = bs[bs.length - 1];
      const batch = broadcast([as.slice(0, -2), bs.slice(0, -2)], node);
      const sa = broadcastStrides(as.slice(0, -2), batch).map((s) => s * M * K);
      const sb = broadcastStrides(bs.slice(0, -2), batch).map((s) => s * K * N);
      gemm(node, 'gemm', {
        M, N, K, batch: numel(batch),
        A: `a[${batchOffset(batch, sa)} + m * ${K} + k]`,
        B: `return b[${batchOffset(batch, sb)} + k * ${N} + n];`,
        Ap: `a[${batchOffset(batch, sa)} + m * ${K} + k]`,
        Bp: `b[${batchOffset(batch, sb)} + k * ${N} + n]`,
        pre: '',
        idx: `z * ${M * N} + m * ${N} + n`,
        ptrs: [`p.a = ${ref(node.inputs[0])};`, `p.b = ${ref(node.inputs[1])};`, `p.y = ${ref(node.outputs[0])};`],
        half: a.half === b.half ? a.half : undefined,
      });
    },
    Gemm(node) {
      const a = tensor(node.inputs[0]);
      const b = tensor(node.inputs[1]);
      const ta = attrInt(node, 'transA', 0);
      const tb = attrInt(node, 'transB', 0);
      const [M, K] = ta ? [a.shape[1], a.shape[0]] : a.shape;
      const N = tb ? b.shape[0] : b.shape[1];
      const alpha = attrFloat(node, 'alpha', 1);
      const beta = attrFloat(node, 'beta', 1);
      const ptrs = [`p.a = ${ref(node.inputs[0])};`, `p.b = ${ref(node.inputs[1])};`, `p.y = ${ref(node.outputs[0])};`];
      let pre = `v = ${flt(alpha)} * v;`;
      if (node.inputs[2] && beta !== 0) {
        const cs = broadcastStrides(tensor(node.inputs[2]).shape, [M, N]);
        ptrs.push(`p.c = ${ref(node.inputs[2])};`);
        pre = `v = ${flt(alpha)} * v + ${flt(beta)} * c[${['m', 'n'].map((x, i) => (cs[i] ? `${x} * ${cs[i]}` : '')).filter(Boolean).join(' + ') || '0'}];`;
      }
      gemm(node, 'gemm', {
        M, N, K, batch: 1,
        A: ta ? `a[k * ${M} + m]` : `a[m * ${K} + k]`,
        B: tb ? `return b[n * ${K} + k];` : `return b[k * ${N} + n];`,
        Ap: ta ? undefined : `a[m * ${K} + k]`,
        Bp: tb ? `b[n * ${K} + k]` : `b[k * ${N} + n]`,
        bAlongK: !!tb,
        pre,
        idx: `m * ${N} + n`,
        ptrs,
        half: a.half === b.half ? a.half : undefined,
      });
    },
    Conv(node) {
      const x = tensor(node.inputs[0]);
      const w = tensor(node.inputs[1]);
      const [Nb, C] = x.shape;
      const M = w.shape[0];
      const group = attrInt(node, 'group', 1);
      const { H, W, kernel, strides, dilations, pads, out } = as2d(x.shape.slice(2), slidingWindow(node, x, attrInts(node, 'kernel_shape') ?? w.shape.slice(2)));
      const [KH, KW] = kernel;
      const [OH, OW] = out;
      const cg = C / group;
      const mg = M / group;
      const bias = node.inputs[2] ? ref(node.inputs[2]) : undefined;
      if (group === 1) {
        // Implicit GEMM: [M x C*KH*KW] weights times the input gathered as [C*KH*KW x OH*OW], per image.
        gemm(node, 'implicit-gemm', {
          M, N: OH * OW, K: C * KH * KW, batch: Nb,
          A: `a[m * ${C * KH * KW} + k]`,
          Ap: `a[m * ${C * KH * KW} + k]`,
          B: `const int c = k / ${KH * KW}, kh = k / ${KW} % ${KH}, kw = k % ${KW};
    const int ih = n / ${OW} * ${strides[0]} - ${pads[0]} + kh * ${dilations[0]}, iw = n % ${OW} * ${strides[1]} - ${pads[1]} + kw * ${dilations[1]};
    return ih >= 0 && ih < ${H} && iw >= 0 && iw < ${W} ? b[((z * ${C} + c) * ${H} + ih) * ${W} + iw] : 0.0f;`,
          pre: bias ? 'v = bias_m[m] + v;' : '',
          idx: `(z * ${M} + m) * ${OH * OW} + n`,
          ptrs: [`p.a = ${ref(node.inputs[1])};`, `p.b = ${ref(node.inputs[0])};`, `p.y = ${ref(node.outputs[0])};`, ...(bias ? [`p.bias_m = ${bias};`] : [])],
          half: x.half === w.half ? x.half : undefined,
        });
        return;
      }
      // Grouped (depthwise included): one thread per output element.
      const f = node.fused;
      const xs = [ref(node.inputs[0]), ref(node.inputs[1]), ...(bias ? [bias] : [])];
      let e = f?.scale === undefined ? 's' : `s * ${flt(f.scale)}`;
      if (f?.biasN) {
        xs.push(ref(f.biasN));
        e += ` + a.x[${xs.length - 1}][ow]`;
      }
      if (f?.residual) {
        xs.push(ref(f.residual));
        e += ` + a.x[${xs.length - 1}][i]`;
      }
      const tail = [`float v = ${e};`];
      if (f?.clamp) {
        if (f.clamp[0] !== -Infinity) tail.push(`v = v < ${flt(f.clamp[0])} ? ${flt(f.clamp[0])} : v;`);
        if (f.clamp[1] !== Infinity) tail.push(`v = v > ${flt(f.clamp[1])} ? ${flt(f.clamp[1])} : v;`);
      }
      if (f?.act === 'gelu') {
        tail.push('v = kiln_gelu(v);');
        uses_.add('GELU');
      } else if (f?.act) tail.push(activationC(f.act));
      pointwise(node, 'direct', Nb * M * OH * OW, ref(node.outputs[0]), xs, `const long ow = i % ${OW}, oh = i / ${OW} % ${OH}, m = i / ${OH * OW} % ${M}, nb = i / ${M * OH * OW}, g = m / ${mg};
float s = ${bias ? 'a.x[2][m]' : '0.0f'};
for (long c = 0; c < ${cg}; c++) {
  const float *xc = a.x[0] + (nb * ${C} + g * ${cg} + c) * ${H * W};
  const float *wc = a.x[1] + (m * ${cg} + c) * ${KH * KW};
  for (long kh = 0; kh < ${KH}; kh++) {
    const long ih = oh * ${strides[0]} - ${pads[0]} + kh * ${dilations[0]};
    if (ih < 0 || ih >= ${H}) continue;
    for (long kw = 0; kw < ${KW}; kw++) {
      const long iw = ow * ${strides[1]} - ${pads[1]} + kw * ${dilations[1]};
      if (iw < 0 || iw >= ${W}) continue;
      s += xc[ih * ${W} + iw] * wc[kh * ${KW} + kw];
    }
  }
}
${tail.join(' ')}
a.y[i] = v;`);
    },
    MaxPool: (node) => pool(node, true),
    AveragePool: (node) => pool(node, false),
    GlobalAveragePool(node) {
      const x = tensor(node.inputs[0]);
      const hw = numel(x.shape.slice(2));
      pointwise(node, 'direct', x.shape[0] * x.shape[1], ref(node.outputs[0]), [ref(node.inputs[0])], `float s = 0.0f;\nfor (long j = 0; j < ${hw}; j++) s += a.x[0][i * ${hw} + j];\na.y[i] = s / ${hw}.0f;`);
    },
    BatchNormalization(node) {
      if (attrInt(node, 'training_mode', 0) === 1) throw new CompileError('unsupported', `BatchNormalization ${node.name}: the CUDA backend supports inference mode only`, [node.op]);
      const x = tensor(node.inputs[0]);
      const C = x.shape[1];
      const inner = numel(x.shape.slice(2));
      const eps = flt(attrFloat(node, 'epsilon', 1e-5));
      pointwise(node, 'direct', numel(x.shape), ref(node.outputs[0]), node.inputs.slice(0, 5).map(ref), `const long c = i / ${inner} % ${C};
const float k = a.x[1][c] / sqrtf(a.x[4][c] + ${eps});
const float d = a.x[2][c] - a.x[3][c] * k;
a.y[i] = a.x[0][i] * k + d;`);
    },
    LayerNormalization(node) {
      if (node.outputs.slice(1).some(Boolean)) throw new CompileError('unsupported', `LayerNormalization ${node.name}: the CUDA backend does not give the Mean and InvStdDev outputs`, [node.op]);
      const x = tensor(node.inputs[0]);
      const axis = normAxis(attrInt(node, 'axis', -1), x.shape.length, node);
      const sn = numel(tensor(node.inputs[1]).shape);
      const bn = node.inputs[2] ? numel(tensor(node.inputs[2]).shape) : 1;
      body.push(`  { KilnLayerNorm p = {}; p.x = ${ref(node.inputs[0])}; p.y = ${ref(node.outputs[0])}; p.scale = ${ref(node.inputs[1])}; p.bias = ${node.inputs[2] ? ref(node.inputs[2]) : '0'}; p.rows = ${numel(x.shape.slice(0, axis))}; p.len = ${numel(x.shape.slice(axis))}; p.sn = ${sn}; p.bn = ${bn}; p.eps = ${flt(attrFloat(node, 'epsilon', 1e-5))}; kiln_layernorm(p); }`);
      uses_.add('LAYERNORM');
      launches.push({ node: node.name, kernel: 'warp-rows' });
    },
    Softmax: (node) => softmax(node),
    LogSoftmax: (node) => softmax(node),
    Transpose(node) {
      const x = tensor(node.inputs[0]);
      const perm = attrInts(node, 'perm') ?? x.shape.map((_, i) => x.shape.length - 1 - i);
      const outShape = tensor(node.outputs[0]).shape;
      const xs = stridesOf(x.shape);
      pointwise(node, 'direct', numel(outShape), ref(node.outputs[0]), [ref(node.inputs[0])], `${decompose(outShape)}\na.y[i] = a.x[0][${offsetOf(perm.map((p) => xs[p]))}];`);
    },
    Expand(node) {
      const x = tensor(node.inputs[0]);
      const out = tensor(node.outputs[0]).shape;
      pointwise(node, 'direct', numel(out), ref(node.outputs[0]), [ref(node.inputs[0])], `${decompose(out)}\na.y[i] = a.x[0][${offsetOf(broadcastStrides(x.shape, out))}];`);
    },
    Gather(node) {
      const x = tensor(node.inputs[0]);
      const ind = tensor(node.inputs[1]);
      const axis = normAxis(attrInt(node, 'axis', 0), x.shape.length, node);
      if (!ind.data) throw new CompileError('unsupported', `Gather ${node.name}: the CUDA backend supports constant indices only`);
      const idx = toNumbers(ind).map((v) => (v < 0 ? v + x.shape[axis] : v));
      if (idx.length > 4096) throw new CompileError('unsupported', `Gather ${node.name}: more than 4096 indices in one CUDA kernel`);
      const inner = numel(x.shape.slice(axis + 1));
      const out = numel(tensor(node.outputs[0]).shape);
      pointwise(node, 'direct', out, ref(node.outputs[0]), [ref(node.inputs[0])], `const int tab[${Math.max(1, idx.length)}] = { ${idx.join(', ') || '0'} };
const long r = i % ${inner}, j = i / ${inner} % ${Math.max(1, idx.length)}, o = i / ${inner * Math.max(1, idx.length)};
a.y[i] = a.x[0][(o * ${x.shape[axis]} + tab[j]) * ${inner} + r];`);
    },
    Slice(node) {
      const x = tensor(node.inputs[0]);
      const get = (i: number, attr: string): number[] | undefined => {
        const n = node.inputs[i];
        if (n) {
          const t = tensor(n);
          if (!t.data) throw new CompileError('unsupported', `Slice ${node.name}: ${attr} must be known at compile time`);
          return toNumbers(t);
        }
        return attrInts(node, attr);
      };
      const starts = get(1, 'starts')!;
      const axes = (get(3, 'axes') ?? starts.map((_, i) => i)).map((a) => normAxis(a, x.shape.length, node));
      const steps = get(4, 'steps') ?? starts.map(() => 1);
      const begin = x.shape.map(() => 0);
      const step = x.shape.map(() => 1);
      axes.forEach((ax, k) => {
        const d = x.shape[ax];
        const st = steps[k];
        let b = starts[k] < 0 ? starts[k] + d : starts[k];
        b = st > 0 ? Math.min(d, Math.max(0, b)) : Math.min(d - 1, Math.max(0, b));
        begin[ax] = b;
        step[ax] = st;
      });
      const out = tensor(node.outputs[0]).shape;
      const xs = stridesOf(x.shape);
      const base = begin.reduce((acc, b, k) => acc + b * xs[k], 0);
      pointwise(node, 'direct', numel(out), ref(node.outputs[0]), [ref(node.inputs[0])], `${decompose(out)}\na.y[i] = a.x[0][${base} + ${offsetOf(xs.map((s, k) => s * step[k]))}];`);
    },
    Split(node) {
      const x = tensor(node.inputs[0]);
      const axis = normAxis(attrInt(node, 'axis', 0), x.shape.length, node);
      const inner = numel(x.shape.slice(axis + 1));
      let at = 0;
      for (const o of node.outputs) {
        if (!o) continue;
        const len = tensor(o).shape[axis];
        pointwise({ ...node, name: `${node.name} -> ${o}` }, 'direct', numel(tensor(o).shape), ref(o), [ref(node.inputs[0])], `const long r = i % ${inner}, j = i / ${inner} % ${Math.max(1, len)}, q = i / ${inner * Math.max(1, len)};\na.y[i] = a.x[0][(q * ${x.shape[axis]} + ${at} + j) * ${inner} + r];`);
        at += len;
      }
    },
    Pad(node) {
      const x = tensor(node.inputs[0]);
      const rank = x.shape.length;
      const constInts = (i: number): number[] | undefined => (node.inputs[i] ? toNumbers(tensor(node.inputs[i])) : undefined);
      const raw = constInts(1) ?? attrInts(node, 'pads')!;
      const axes = (constInts(3) ?? [...Array(rank).keys()]).map((a) => normAxis(a, rank, node));
      const begin = new Array(rank).fill(0);
      axes.forEach((a, k) => (begin[a] = raw[k]));
      const mode = String(node.attrs.mode ?? 'constant');
      const value = node.inputs[2] ? flt(Number(tensor(node.inputs[2]).data![0])) : flt(attrFloat(node, 'value', 0));
      const out = tensor(node.outputs[0]).shape;
      const lines = out.map((_, k) => {
        const d = x.shape[k];
        const r = `(d${k} - ${begin[k]})`;
        return mode === 'reflect' ? `long j${k} = ${r}; while (j${k} < 0 || j${k} >= ${d}) j${k} = j${k} < 0 ? -j${k} : 2 * ${d} - 2 - j${k};`
          : mode === 'edge' ? `long j${k} = ${r} < 0 ? 0 : ${r} >= ${d} ? ${d - 1} : ${r};`
          : mode === 'wrap' ? `long j${k} = ((${r} % ${d}) + ${d}) % ${d};`
          : `long j${k} = ${r}; inside = inside && j${k} >= 0 && j${k} < ${d};`;
      });
      pointwise(node, 'direct', numel(out), ref(node.outputs[0]), [ref(node.inputs[0])], `${decompose(out)}\nbool inside = true;\n${lines.join('\n')}\n(void)inside;\na.y[i] = inside ? a.x[0][${offsetOf(stridesOf(x.shape), 'j')}] : ${value};`);
    },
    Concat(node) {
      const out = tensor(node.outputs[0]);
      const axis = normAxis(attrInt(node, 'axis', 0), out.shape.length, node);
      const inner = numel(out.shape.slice(axis + 1));
      const parts = node.inputs.filter((n) => numel(tensor(n).shape) > 0);
      let at = 0;
      const cases = parts.map((n, k) => {
        const len = tensor(n).shape[axis];
        const c = `${k === parts.length - 1 ? '' : `if (j < ${at + len}) `}{ a.y[i] = a.x[${k}][(o * ${len} + (j - ${at})) * ${inner} + r]; return; }`;
        at += len;
        return c;
      });
      pointwise(node, 'direct', numel(out.shape), ref(node.outputs[0]), parts.map(ref), `const long r = i % ${inner}, j = i / ${inner} % ${out.shape[axis]}, o = i / ${inner * out.shape[axis]};\n${cases.join('\n')}`);
    },
  };

  const pool = (node: Node, max: boolean): void => {
    const x = tensor(node.inputs[0]);
    const { H, W, kernel, strides, dilations, pads, out } = as2d(x.shape.slice(2), slidingWindow(node, x, attrInts(node, 'kernel_shape')!));
    const [KH, KW] = kernel;
    const [OH, OW] = out;
    const includePad = attrInt(node, 'count_include_pad', 0) === 1;
    const divisor = includePad
      ? `(float)(${padTaps('oh', strides[0], pads[0], KH, dilations[0], H + pads[2])} * ${padTaps('ow', strides[1], pads[1], KW, dilations[1], W + pads[3])})`
      : '(float)count';
    pointwise(node, 'direct', numel(tensor(node.outputs[0]).shape), ref(node.outputs[0]), [ref(node.inputs[0])], `const long ow = i % ${OW}, oh = i / ${OW} % ${OH}, nc = i / ${OH * OW};
const float *xc = a.x[0] + nc * ${H * W};
float acc = ${max ? '-INFINITY' : '0.0f'};
long count = 0;
for (long kh = 0; kh < ${KH}; kh++) {
  const long ih = oh * ${strides[0]} - ${pads[0]} + kh * ${dilations[0]};
  if (ih < 0 || ih >= ${H}) continue;
  for (long kw = 0; kw < ${KW}; kw++) {
    const long iw = ow * ${strides[1]} - ${pads[1]} + kw * ${dilations[1]};
    if (iw < 0 || iw >= ${W}) continue;
    const float v = xc[ih * ${W} + iw];
    ${max ? 'acc = v > acc ? v : acc;' : 'acc += v;'}
    count++;
  }
}
(void)count;
a.y[i] = ${max ? 'acc' : `acc / ${divisor}`};`);
  };

  const softmax = (node: Node): void => {
    const x = tensor(node.inputs[0]);
    const axis = normAxis(attrInt(node, 'axis', graph.opset >= 13 ? -1 : 1), x.shape.length, node);
    const legacy = graph.opset < 13;
    const outer = numel(x.shape.slice(0, axis));
    const len = legacy ? numel(x.shape.slice(axis)) : x.shape[axis];
    const inner = legacy ? 1 : numel(x.shape.slice(axis + 1));
    body.push(`  { KilnSoftmax p = {}; p.x = ${ref(node.inputs[0])}; p.y = ${ref(node.outputs[0])}; p.rows = ${outer * inner}; p.len = ${len}; p.inner = ${inner}; p.log = ${node.op === 'LogSoftmax' ? 1 : 0}; kiln_softmax(p); }`);
    uses_.add('SOFTMAX');
    launches.push({ node: node.name, kernel: 'warp-rows' });
  };

  const reduce = (node: Node): void => {
    const x = tensor(node.inputs[0]);
    const rank = x.shape.length;
    const fromInput = node.inputs[1] ? toNumbers(tensor(node.inputs[1])) : undefined;
    const given = fromInput ?? attrInts(node, 'axes');
    const axes = !given || given.length === 0 ? (attrInt(node, 'noop_with_empty_axes', 0) ? [] : [...Array(rank).keys()]) : given.map((a) => normAxis(a, rank, node));
    const kept = x.shape.map((d, i) => (axes.includes(i) ? 1 : d));
    const reduced = x.shape.map((d, i) => (axes.includes(i) ? d : 1));
    const xs = stridesOf(x.shape);
    const { init, acc, fin } = REDUCE[node.op];
    const count = numel(reduced);
    pointwise(node, 'direct', numel(kept), ref(node.outputs[0]), [ref(node.inputs[0])], `${decompose(kept)}
const long base = ${offsetOf(xs.map((s, k) => (axes.includes(k) ? 0 : s)))};
float acc = ${init};
for (long r = 0; r < ${count}; r++) {
  ${decompose(reduced, 'r', 'e')}
  const float v = a.x[0][base + ${offsetOf(xs.map((s, k) => (axes.includes(k) ? s : 0)), 'e')}];
  ${acc}
}
a.y[i] = ${fin(count)};`);
  };
  for (const op of Object.keys(REDUCE)) emitters[op] = reduce;

  for (const node of nodes) {
    if (inlined.has(node)) continue;
    step++;
    if (ELEMENTWISE.has(node.op)) {
      emitElementwise(node);
      continue;
    }
    if (ALIASES.has(node.op)) {
      const o = node.outputs[0];
      if (!outputIndex.has(o) && !refs.has(o)) {
        refs.set(o, ref(node.inputs[0]));
        launches.push({ node: node.name, kernel: 'alias' });
        continue;
      }
      pointwise(node, 'copy', numel(tensor(o).shape), ref(o), [ref(node.inputs[0])], 'a.y[i] = a.x[0][i];');
      continue;
    }
    const emit = emitters[node.op];
    if (!emit) throw new CompileError('unsupported', `the CUDA backend does not support ${node.op} (${node.name})`, [node.op]);
    emit(node);
    // GEMMs round in their store; the rest of the kernels that make a half tensor get a rounding pass.
    if (VALUE_PRESERVING.has(node.op) || ['MatMul', 'Gemm'].includes(node.op) || (node.op === 'Conv' && attrInt(node, 'group', 1) === 1)) continue;
    for (const o of node.outputs) {
      const h = o ? tensor(o).half : undefined;
      if (!h || tensor(o).data || !(outputIndex.has(o) || uses.has(o) || nodes.some((n) => n.fused?.residual === o))) continue;
      uses_.add('HALF');
      halfKernels.add(ROUND[h].kernel);
      body.push(`  { KilnArgs a = {}; a.y = ${ref(o)}; kiln_launch<${ROUND[h].kernel}>(${numel(tensor(o).shape)}, a); }`);
      launches.push({ node: node.name, kernel: 'round' });
    }
  }
  // Outputs that are constants, inputs, or aliases of another buffer are copied into place.
  step++;
  graph.outputs.forEach((o, i) => {
    const r = ref(o);
    const h = tensor(o).half;
    if (h) convert(ROUND[h].to, o, numel(tensor(o).shape), `out${i}`, r);
    else if (r !== `out${i}`) {
      body.push(`  { KilnArgs a = {}; a.y = out${i}; a.x[0] = ${r}; kiln_launch<kiln_copy>(${numel(tensor(o).shape)}, a); }`);
      launches.push({ node: o, kernel: 'copy' });
      uses_.add('COPY');
    }
  });

  // Memory planning: intermediates whose lifetimes (first to last kernel) do not overlap share the
  // arena; every kernel runs on one stream, in order, so a buffer is free once its last reader ran.
  const placed: { off: number; end: number; first: number; last: number }[] = [];
  let intermediateBytes = 0;
  for (const [r, a] of [...arena].sort((x, y) => x[1].first - y[1].first || y[1].bytes - x[1].bytes)) {
    const size = Math.ceil(a.bytes / 256) * 256;
    intermediateBytes += size;
    let off = 0;
    for (const p of placed.filter((q) => q.first <= a.last && a.first <= q.last).sort((x, y) => x.off - y.off)) {
      if (off + size <= p.off) break;
      off = Math.max(off, p.end);
    }
    placed.push({ off, end: off + size, first: a.first, last: a.last });
    arenaBytes = Math.max(arenaBytes, off + size);
    decls.push(`  float *${r} = (float *)(kiln_da + ${off}); /* ${a.label}, kernels ${a.first}-${a.last} */`);
  }

  const info = (n: string): TensorInfo => {
    const t = tensor(n);
    return { name: n, dtype: ioType(t), shape: t.shape };
  };
  const inputs = graph.inputs.map(info);
  const outputs = graph.outputs.map(info);
  for (const t of [...inputs, ...outputs]) if (!['float32', 'float16', 'bfloat16'].includes(t.dtype)) throw new CompileError('unsupported', `the CUDA backend supports float32, float16 and bfloat16 inputs and outputs only: ${t.name} is ${t.dtype}`);
  const upper = name.toUpperCase();
  const describe = (ts: TensorInfo[]) => ts.map((t, i) => ` *   [${i}] ${comment(t.name)}: ${t.dtype === 'float32' ? 'float32' : `${t.dtype} (uint16_t, the format's bits)`} [${t.shape.join(', ')}]`).join('\n');
  const header = `/* Generated by Kiln ${COMPILER_VERSION} (CUDA) from an ONNX model (opset ${graph.opset}). */
#ifndef ${upper}_H
#define ${upper}_H

#ifdef __cplusplus
extern "C" {
#endif

#define ${upper}_NUM_INPUTS ${inputs.length}
#define ${upper}_NUM_OUTPUTS ${outputs.length}

/*
 * Runs the model once on the GPU. Buffers are dense, row-major:
 * Inputs:
${describe(inputs)}
 * Outputs:
${describe(outputs)}
 * ${name}_run takes host pointers (inputs are copied to the device, outputs back);
 * ${name}_run_device takes device pointers, 16-byte aligned as cudaMalloc's are (others: the error
 * cudaErrorMisalignedAddress), and leaves the results on the device (it waits for them).
 * The first call allocates device memory and uploads the weights; ${name}_release frees them.
 * Returns 0, or the CUDA error code. Not reentrant: intermediate buffers are shared.
 */
int ${name}_run(const void *const inputs[], void *const outputs[]);
int ${name}_run_device(const void *const inputs[], void *const outputs[]);
void ${name}_release(void);

#ifdef __cplusplus
}
#endif

#endif
`;
  const inBytes = inputs.map((t) => Math.max(1, numel(t.shape)) * IO_BYTES[t.dtype]);
  const outBytes = outputs.map((t) => Math.max(1, numel(t.shape)) * IO_BYTES[t.dtype]);
  const stage = (sizes: number[]) => {
    let o = 0;
    return sizes.map((s) => {
      const at = o;
      o = Math.ceil((o + s) / 256) * 256;
      return at;
    });
  };
  const inOff = stage(inBytes);
  const outOff = stage(outBytes);
  const stageBytes = (off: number[], sizes: number[]) => (off.length ? off[off.length - 1] + sizes[sizes.length - 1] : 1);
  const weights = new Uint8Array(Math.ceil(weightBytes / 4) * 4);
  for (const p of weightParts) weights.set(p.bytes, p.off);

  const source = `/* Generated by Kiln ${COMPILER_VERSION} (CUDA) from an ONNX model (opset ${graph.opset}); do not edit.
 * nvcc -arch=sm_XX -cubin / -ptx for the kernels; nvcc -shared -Xcompiler -fPIC -cudart static for the host library.
 * With -DKILN_HOST_EMULATION (any C++ compiler) the same kernel code runs on the host, for tests. */
#include "${name}.h"

/* The weights: ${name}.weights.bin, embedded by the assembler as binary data (build from its
 * directory, or pass nvcc -Xcompiler -Xassembler,-I<dir>); the device pass does not need them. */
#ifndef __CUDA_ARCH__
__asm__(".section .rodata\\n.balign 64\\nkiln_weights:\\n.incbin \\"${name}.weights.bin\\"\\n.byte 0\\n.previous\\n");
#endif
extern "C" __attribute__((visibility("hidden"))) const unsigned char kiln_weights[];
${[...uses_].map((u) => `#define KILN_USE_${u}`).join('\n')}
${CUDA_RUNTIME}
${[...halfKernels].map((k) => `struct ${k} { static KILN_HD void run(long i, const KilnArgs &a) { ${HALF_KERNELS[k]} } };`).join('\n')}
${uses_.has('COPY') ? `struct kiln_copy {
  static KILN_HD void run(long i, const KilnArgs &a) { a.y[i] = a.x[0][i]; }
};
` : ''}
${kernels.join('\n\n')}

#define KILN_WEIGHT_BYTES ${weights.length}
#define KILN_ARENA_BYTES ${Math.max(1, arenaBytes)}
#define KILN_IN_BYTES ${stageBytes(inOff, inBytes)}
#define KILN_OUT_BYTES ${stageBytes(outOff, outBytes)}

#ifdef KILN_HOST_EMULATION
typedef int kiln_status;
#define KILN_OK 0
#define KILN_MISALIGNED 716
static kiln_status kiln_alloc(unsigned char **p, size_t n) { *p = (unsigned char *)calloc(1, n ? n : 1); return *p ? 0 : 2; }
#define kiln_free(p) free(p)
static kiln_status kiln_copy_bytes(void *d, const void *s, size_t n) { memcpy(d, s, n); return 0; }
static kiln_status kiln_finish(void) { return 0; }
#else
typedef cudaError_t kiln_status;
#define KILN_OK cudaSuccess
#define KILN_MISALIGNED ((int)cudaErrorMisalignedAddress)
static kiln_status kiln_alloc(unsigned char **p, size_t n) { return cudaMalloc((void **)p, n ? n : 1); }
#define kiln_free(p) cudaFree(p)
static kiln_status kiln_copy_bytes(void *d, const void *s, size_t n) { return cudaMemcpy(d, s, n, cudaMemcpyDefault); }
static kiln_status kiln_finish(void) { kiln_status e = cudaGetLastError(); return e != cudaSuccess ? e : cudaDeviceSynchronize(); }
#endif

static unsigned char *kiln_dw, *kiln_da, *kiln_din, *kiln_dout;

static kiln_status kiln_init(void) {
  if (kiln_dw) return KILN_OK;
  kiln_status e;
  if ((e = kiln_alloc(&kiln_da, KILN_ARENA_BYTES)) != KILN_OK) return e;
  if ((e = kiln_alloc(&kiln_din, KILN_IN_BYTES)) != KILN_OK) return e;
  if ((e = kiln_alloc(&kiln_dout, KILN_OUT_BYTES)) != KILN_OK) return e;
  unsigned char *w;
  if ((e = kiln_alloc(&w, KILN_WEIGHT_BYTES)) != KILN_OK) return e;
  if ((e = kiln_copy_bytes(w, kiln_weights, KILN_WEIGHT_BYTES)) != KILN_OK) return e;
  kiln_dw = w;
  return KILN_OK;
}

static void kiln_graph(const float *const in[], float *const out[]) {
${inputs.map((_, i) => `  const float *in${i} = in[${i}];`).join('\n')}
${outputs.map((_, i) => `  float *out${i} = out[${i}];`).join('\n')}
${decls.join('\n')}
${body.join('\n')}
}

} /* namespace */

extern "C" int ${name}_run_device(const void *const inputs[], void *const outputs[]) {
${inputs.map((_, i) => `  if ((uintptr_t)inputs[${i}] & 15) return KILN_MISALIGNED;`).join('\n')}
${outputs.map((_, i) => `  if ((uintptr_t)outputs[${i}] & 15) return KILN_MISALIGNED;`).join('\n')}
  kiln_status e = kiln_init();
  if (e != KILN_OK) return (int)e;
  kiln_graph((const float *const *)inputs, (float *const *)outputs);
  return (int)kiln_finish();
}

extern "C" int ${name}_run(const void *const inputs[], void *const outputs[]) {
  kiln_status e = kiln_init();
  if (e != KILN_OK) return (int)e;
  const float *din[${Math.max(1, inputs.length)}];
  float *dout[${Math.max(1, outputs.length)}];
${inputs.map((_, i) => `  din[${i}] = (const float *)(kiln_din + ${inOff[i]});\n  if ((e = kiln_copy_bytes(kiln_din + ${inOff[i]}, inputs[${i}], ${inBytes[i]})) != KILN_OK) return (int)e;`).join('\n')}
${outputs.map((_, i) => `  dout[${i}] = (float *)(kiln_dout + ${outOff[i]});`).join('\n')}
  kiln_graph(din, dout);
  if ((e = kiln_finish()) != KILN_OK) return (int)e;
${outputs.map((_, i) => `  if ((e = kiln_copy_bytes(outputs[${i}], kiln_dout + ${outOff[i]}, ${outBytes[i]})) != KILN_OK) return (int)e;`).join('\n')}
  return 0;
}

extern "C" void ${name}_release(void) {
  if (!kiln_dw) return;
  kiln_free(kiln_dw);
  kiln_free(kiln_da);
  kiln_free(kiln_din);
  kiln_free(kiln_dout);
  kiln_dw = kiln_da = kiln_din = kiln_dout = 0;
}
`;
  const memory = { weights: weightBytes, arena: arenaBytes, intermediates: intermediateBytes };
  const ops: Record<string, number> = {};
  for (const n of nodes) ops[n.op] = (ops[n.op] ?? 0) + 1;
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
    flops: graphFlops(graph, nodes),
  };
  return { files: { [`${name}.cu`]: source, [`${name}.h`]: header, [`${name}.weights.bin`]: weights, [`${name}.json`]: JSON.stringify({ ...metadata, backend: 'cuda', launches, memory }, null, 2) + '\n' }, metadata, launches, memory };
}

/** ONNX bytes to CUDA C: import, check operators, infer shapes and fold constants, fuse, generate. */
export function compileModelCuda(bytes: Uint8Array, opts: CudaCompileOptions = {}): CudaModel {
  const name = opts.name ?? 'model';
  if (!/^[A-Za-z_][A-Za-z0-9_]{0,63}$/.test(name)) throw new CompileError('invalid', `name "${name}" must be a C identifier`);
  const graph = importOnnx(bytes, opts);
  checkSupported(graph);
  inferShapes(graph);
  if (opts.fusion !== false) fuse(graph);
  return generateCuda(graph, name);
}
