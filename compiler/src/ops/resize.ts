import { CompileError, Node, numel, Tensor, toNumbers } from '../ir';
import { attrFloat, attrInt, attrInts, attrString, EmitContext, flt, InferContext, loops, normAxis, offset, OpDef, stridesOf } from './op';

/*
 * Resize, every mode of opsets 10 to 19: nearest (each nearest_mode), linear and cubic
 * (cubic_coeff_a, exclude_outside), antialiased linear and cubic (opset 18), every
 * coordinate_transformation_mode (tf_crop_and_resize with its roi and extrapolation_value),
 * keep_aspect_ratio_policy and axes (opset 18), from scales or sizes known at compile time.
 *
 * Interpolation is separable, so each resized axis becomes a table computed here, at compile time:
 * for every output position, the input positions it reads and their weights (CSR), worked out in
 * float as ONNX Runtime works them out, so that rounding decides a nearest pixel as it does there.
 * The C applies one axis after another (the last first, as ONNX Runtime's bilinear and bicubic
 * kernels do), through scratch buffers; nearest is one gather through per-axis index tables.
 *
 * Where ONNX Runtime and the ONNX definition differ, the definition wins: with scales given, the
 * resized length that align_corners, pytorch_half_pixel and tf_crop_and_resize divide by is
 * input length x scale, not the rounded output length, and the roi applies on an axis of scale 1.
 */

const f = Math.fround;

type Ctx = InferContext | EmitContext;

function tensorOf(ctx: Ctx, name: string): Tensor | undefined {
  return 'graph' in ctx ? ctx.graph.tensors.get(name) : ctx.tensor(name);
}

/** An optional input that must be a constant when present (empty counts as absent): its values. */
function constInput(ctx: Ctx, node: Node, i: number, what: string): number[] | undefined {
  const name = node.inputs[i];
  if (!name) return undefined;
  const t = tensorOf(ctx, name);
  if (!t) return undefined;
  if (numel(t.shape) === 0) return [];
  if (!t.data) throw new CompileError('unsupported', `Resize ${node.name}: ${what} (${name}) must be known at compile time`);
  return toNumbers(t);
}

/** One resized axis: for each output position, its taps [off[j], off[j + 1]) into idx and w, and whether it is extrapolated. */
interface AxisTable {
  axis: number;
  off: number[];
  idx: number[];
  w: number[];
  outside: boolean[];
}

interface Plan {
  out: number[];
  mode: string;
  /** The axes that change, each with its table. */
  tables: AxisTable[];
  extrapolation: number;
}

const MODES = ['nearest', 'linear', 'cubic'];
const CTMS = ['half_pixel', 'half_pixel_symmetric', 'pytorch_half_pixel', 'align_corners', 'asymmetric', 'tf_half_pixel_for_nn', 'tf_crop_and_resize'];
const NEAREST = ['round_prefer_floor', 'round_prefer_ceil', 'floor', 'ceil'];
const POLICIES = ['stretch', 'not_larger', 'not_smaller'];

/** C's round(): halves away from zero. */
const cRound = (v: number) => Math.sign(v) * Math.floor(Math.abs(v) + 0.5);

function plan(ctx: Ctx, node: Node, shape: number[]): Plan {
  const opset = ctx.opset;
  const rank = shape.length;
  const bad = (code: 'invalid' | 'unsupported', what: string) => new CompileError(code, `Resize ${node.name}: ${what}`);
  const mode = attrString(node, 'mode', 'nearest');
  if (!MODES.includes(mode)) throw bad('invalid', `mode ${mode} (nearest, linear and cubic are defined)`);
  const ctm = opset < 11 ? 'asymmetric' : attrString(node, 'coordinate_transformation_mode', 'half_pixel');
  if (!CTMS.includes(ctm)) throw bad('invalid', `coordinate_transformation_mode ${ctm} is not defined`);
  const nearestMode = opset < 11 ? 'simple' : attrString(node, 'nearest_mode', 'round_prefer_floor');
  if (mode === 'nearest' && opset >= 11 && !NEAREST.includes(nearestMode)) throw bad('invalid', `nearest_mode ${nearestMode} is not defined`);
  const antialias = opset >= 18 && attrInt(node, 'antialias', 0) !== 0;
  if (antialias && mode === 'nearest') throw bad('invalid', 'antialias applies to linear and cubic modes only');
  const exclude = attrInt(node, 'exclude_outside', 0) !== 0;
  const A = f(attrFloat(node, 'cubic_coeff_a', -0.75));
  const extrapolation = attrFloat(node, 'extrapolation_value', 0);
  const policy = opset >= 18 ? attrString(node, 'keep_aspect_ratio_policy', 'stretch') : 'stretch';
  if (!POLICIES.includes(policy)) throw bad('invalid', `keep_aspect_ratio_policy ${policy} is not defined`);

  // The axes resized (opset 18), and scales, sizes and roi over them.
  const given = opset >= 18 ? attrInts(node, 'axes') : undefined;
  const axes = given ? given.map((a) => normAxis(a, rank, node)) : [...Array(rank).keys()];
  if (new Set(axes).size !== axes.length) throw bad('invalid', `axes [${given}] repeat an axis`);
  const sizes = opset >= 11 ? constInput(ctx, node, 3, 'sizes') : undefined;
  const scalesIn = constInput(ctx, node, opset >= 11 ? 2 : 1, 'scales');
  const hasSizes = !!sizes && sizes.length > 0;
  const hasScales = !!scalesIn && scalesIn.length > 0;
  if (hasSizes === hasScales) throw bad('invalid', hasSizes ? 'both scales and sizes are given' : 'neither scales nor sizes is given');
  const n = (hasSizes ? sizes! : scalesIn!).length;
  if (n !== axes.length) throw bad('invalid', `${hasSizes ? 'sizes' : 'scales'} have ${n} values for ${axes.length} axes`);

  const scales = new Array<number>(rank).fill(1);
  const out = [...shape];
  // The resized length as ONNX defines it: the output size when sizes are given, input x scale otherwise.
  const resized = [...shape];
  if (hasSizes) {
    axes.forEach((a, i) => {
      if (sizes![i] < 0) throw bad('invalid', `size ${sizes![i]} is negative`);
      if (shape[a] === 0 && sizes![i] !== 0) throw bad('invalid', `axis ${a} is empty and cannot be resized to ${sizes![i]}`);
      out[a] = sizes![i];
      scales[a] = shape[a] === 0 ? 1 : f(sizes![i] / shape[a]);
      resized[a] = sizes![i];
    });
    if (policy !== 'stretch') {
      const ratios = axes.map((a) => scales[a]);
      const s = policy === 'not_larger' ? Math.min(...ratios) : Math.max(...ratios);
      for (const a of axes) {
        scales[a] = s;
        out[a] = cRound(f(s * shape[a]));
        resized[a] = s * shape[a];
      }
    }
  } else {
    axes.forEach((a, i) => {
      const s = f(scalesIn![i]);
      if (!(s > 0)) throw bad('invalid', `scale ${scalesIn![i]} must be positive`);
      scales[a] = s;
      out[a] = Math.floor(f(s * shape[a]));
      resized[a] = shape[a] * s;
    });
  }

  let roi: number[] | undefined;
  if (ctm === 'tf_crop_and_resize') {
    const r = constInput(ctx, node, 1, 'roi');
    if (!r || r.length !== 2 * axes.length) throw bad('invalid', `tf_crop_and_resize needs a roi of ${2 * axes.length} values (start and end per axis)${r ? `, not ${r.length}` : ''}`);
    roi = [...new Array(rank).fill(0), ...new Array(rank).fill(1)];
    axes.forEach((a, i) => {
      roi![a] = f(r[i]);
      roi![rank + a] = f(r[axes.length + i]);
    });
  }

  const tables: AxisTable[] = [];
  for (let k = 0; k < rank; k++) {
    const identity = out[k] === shape[k] && scales[k] === 1 && (!roi || (roi[k] === 0 && roi[rank + k] === 1));
    if (identity || out[k] === 0) continue;
    const L = shape[k];
    const s = scales[k];
    const R = f(resized[k]);
    // The source coordinate of output position x, in float as ONNX Runtime computes it.
    const coord = (x: number): number => {
      switch (ctm) {
        case 'asymmetric':
          return f(x / s);
        case 'pytorch_half_pixel':
          return R > 1 ? f(f(f(x + 0.5) / s) - 0.5) : 0;
        case 'tf_half_pixel_for_nn':
          return f(f(x + 0.5) / s);
        case 'align_corners':
          return R === 1 ? 0 : f(f(x * (L - 1)) / f(R - 1));
        case 'half_pixel_symmetric': {
          const adjustment = f(out[k] / f(s * L));
          const offset = f(f(L / 2) * f(1 - adjustment));
          return f(offset + ((x + 0.5) / s - 0.5));
        }
        case 'tf_crop_and_resize': {
          const [r0, r1] = [roi![k], roi![rank + k]];
          return R > 1 ? f(f(r0 * (L - 1)) + f(f(f(x * f(r1 - r0)) * (L - 1)) / f(R - 1))) : f(0.5 * f(r0 + r1) * (L - 1));
        }
        default:
          return f(f(f(x + 0.5) / s) - 0.5);
      }
    };
    const t: AxisTable = { axis: k, off: [0], idx: [], w: [], outside: [] };
    const clampIdx = (j: number) => Math.max(0, Math.min(L - 1, j));
    const tap = (j: number, w: number) => {
      t.idx.push(j);
      t.w.push(w);
    };
    for (let x = 0; x < out[k]; x++) {
      const c = coord(x);
      t.outside.push(ctm === 'tf_crop_and_resize' && (c < 0 || c > L - 1));
      if (mode === 'nearest') {
        let j: number;
        switch (nearestMode) {
          case 'simple':
            j = s < 1 ? Math.ceil(c) : Math.trunc(c);
            break;
          case 'round_prefer_ceil':
            j = cRound(c);
            break;
          case 'floor':
            j = Math.floor(c);
            break;
          case 'ceil':
            j = Math.ceil(c);
            break;
          default:
            j = c === Math.trunc(c) + 0.5 ? Math.floor(c) : cRound(c);
        }
        tap(clampIdx(j), 1);
      } else if (antialias) {
        antialiasTaps(c, s, L, mode, A, exclude, tap);
      } else if (mode === 'linear') {
        const cc = Math.max(0, Math.min(c, L - 1));
        const x1 = Math.min(Math.trunc(cc), L - 1);
        const x2 = Math.min(x1 + 1, L - 1);
        if (x1 === x2) {
          tap(x1, 0.5);
          tap(x2, 0.5);
        } else {
          tap(x1, f(Math.abs(f(cc - x2))));
          tap(x2, f(Math.abs(f(cc - x1))));
        }
      } else {
        const xi = Math.floor(c);
        const coeffs = cubicCoeffs(f(c - xi), A);
        let sum = 1;
        if (exclude) {
          sum = 0;
          coeffs.forEach((w, i) => {
            if (xi - 1 + i < 0 || xi - 1 + i >= L) coeffs[i] = 0;
            sum = f(sum + coeffs[i]);
          });
        }
        coeffs.forEach((w, i) => tap(clampIdx(xi - 1 + i), sum === 1 ? w : f(w / sum)));
      }
      t.off.push(t.idx.length);
    }
    tables.push(t);
  }
  return { out, mode, tables, extrapolation };
}

/** Keys' cubic convolution weights of the four pixels around a coordinate with fraction t, in float as ONNX Runtime computes them. */
function cubicCoeffs(t: number, A: number): number[] {
  const s = Math.abs(t);
  const far = (d: number) => f(f(f(f(f(f(A * d) - f(5 * A)) * d) + f(8 * A)) * d) - f(4 * A));
  const near = (d: number) => f(f(f(f(f(f(A + 2) * d) - f(A + 3)) * d) * d) + 1);
  return [far(f(s + 1)), near(s), near(f(1 - s)), far(f(2 - s))];
}

/**
 * Antialiased taps (opset 18): the linear or cubic filter stretched by 1/scale when downsampling,
 * over every pixel it reaches, normalised, in float as ONNX Runtime computes them; weights that
 * fall outside the input go to the edge pixels (edge padding), or with exclude_outside are dropped.
 */
function antialiasTaps(c: number, rscale: number, L: number, mode: string, A: number, exclude: boolean, tap: (j: number, w: number) => void): void {
  const supportSize = mode === 'cubic' ? 4 : 2;
  const scale = f(1 / rscale);
  const support = scale >= 1 ? f(f(supportSize * 0.5) * scale) : supportSize * 0.5;
  const inv = scale >= 1 ? f(1 / scale) : 1;
  const filter = (v: number): number => {
    const x = Math.abs(v);
    if (mode === 'linear') return x < 1 ? f(1 - x) : 0;
    if (x < 1) return f(f(f(f(f(f(A + 2) * x) - f(A + 3)) * x) * x) + 1);
    if (x < 2) return f(f(f(f(f(f(x - 5) * x) + 8) * x) - 4) * A);
    return 0;
  };
  const center = f(0.5 + c);
  const lo = Math.floor(f(center - support) + 0.5);
  const hi = Math.floor(f(center + support) + 0.5);
  const from = exclude ? Math.max(lo, 0) : lo;
  const to = exclude ? Math.min(hi, L) : hi;
  const w = new Map<number, number>();
  let total = 0;
  for (let j = from; j < to; j++) {
    const v = filter(f(f(f(f(j) - center) + 0.5) * inv));
    total = f(total + v);
    const at = Math.max(0, Math.min(L - 1, j));
    w.set(at, f((w.get(at) ?? 0) + v));
  }
  if (w.size === 0) w.set(Math.max(0, Math.min(L - 1, Math.round(c))), 1);
  for (const [j, v] of [...w.entries()].sort((a, b) => a[0] - b[0])) tap(j, total !== 0 && total !== 1 ? f(v / total) : v);
}

function cInts(v: number[]): string {
  return v.length ? v.join(', ') : '0';
}

function cFloats(v: number[]): string {
  return v.length ? v.map(flt).join(', ') : '0.0f';
}

const resize: OpDef = {
  type: 'Resize',
  infer(ctx, node) {
    const x = ctx.required(node, 0);
    if (x.dtype !== 'float32') throw new CompileError('unsupported', `Resize ${node.name}: only float32 is supported, not ${x.dtype}`);
    if (x.shape.length === 0) throw new CompileError('invalid', `Resize ${node.name}: the input must have rank 1 or more`);
    ctx.output(node, 0, { dtype: 'float32', shape: plan(ctx, node, x.shape).out });
  },
  emit(ctx, node) {
    const x = ctx.tensor(node.inputs[0]);
    const { out, mode, tables, extrapolation } = plan(ctx, node, x.shape);
    const X = ctx.ref(node.inputs[0]);
    const Y = ctx.ref(node.outputs[0]);
    if (numel(out) === 0) return '';
    if (tables.length === 0) return `memcpy(${Y}, ${X}, sizeof(float) * ${numel(out)});`;
    const decls: string[] = [];
    const outsideAxes = tables.filter((t) => t.outside.some(Boolean));
    for (const t of outsideAxes) decls.push(`static const unsigned char rz${t.axis}_out[] = { ${t.outside.map(Number).join(', ')} };`);
    const E = flt(extrapolation);
    const extrapolated = (idx: string[]) => outsideAxes.map((t) => `rz${t.axis}_out[${idx[t.axis]}]`).join(' || ');
    if (mode === 'nearest') {
      const xs = stridesOf(x.shape);
      for (const t of tables) decls.push(`static const int32_t rz${t.axis}[] = { ${cInts(t.idx.map((j) => j * xs[t.axis]))} };`);
      const byAxis = new Map(tables.map((t) => [t.axis, t]));
      return `${decls.join('\n')}\n${loops(out, (idx) => {
        const src = idx.map((v, k) => (byAxis.has(k) ? `rz${k}[${v}]` : xs[k] === 1 ? v : `${v} * ${xs[k]}`)).join(' + ');
        const y = `${Y}[${offset(idx, stridesOf(out))}]`;
        return outsideAxes.length ? `${y} = (${extrapolated(idx)}) ? ${E} : ${X}[${src}];` : `${y} = ${X}[${src}];`;
      })}`;
    }
    // Linear and cubic: one pass per resized axis, the last axis first, through scratch buffers.
    const order = [...tables].sort((a, b) => b.axis - a.axis);
    const cur = [...x.shape];
    const shapes = order.map((t) => {
      cur[t.axis] = out[t.axis];
      return [...cur];
    });
    const largest = Math.max(0, ...shapes.slice(0, -1).map(numel));
    const bufs = order.length > 1 ? [ctx.buffer(`${node.name}: resized along one axis`, largest), ...(order.length > 2 ? [ctx.buffer(`${node.name}: resized along another axis`, largest)] : [])] : [];
    const passes: string[] = [];
    let src = X;
    let inShape = [...x.shape];
    order.forEach((t, p) => {
      const k = t.axis;
      const dst = p === order.length - 1 ? Y : bufs[p % bufs.length];
      const outer = numel(inShape.slice(0, k));
      const inner = numel(inShape.slice(k + 1));
      const nIn = inShape[k];
      const nOut = out[k];
      decls.push(`static const int32_t rz${k}_off[] = { ${cInts(t.off)} };`);
      decls.push(`static const int32_t rz${k}_idx[] = { ${cInts(t.idx)} };`);
      decls.push(`static const float rz${k}_w[] = { ${cFloats(t.w)} };`);
      const body =
        inner === 1
          ? `float acc = 0.0f;
  for (int32_t t = rz${k}_off[j]; t < rz${k}_off[j + 1]; t++) acc += rz${k}_w[t] * s[rz${k}_idx[t]];
  d[0] = acc;`
          : `for (long i = 0; i < ${inner}; i++) d[i] = 0.0f;
  for (int32_t t = rz${k}_off[j]; t < rz${k}_off[j + 1]; t++) {
    const float w = rz${k}_w[t];
    const float *r = s + (long)rz${k}_idx[t] * ${inner};
    for (long i = 0; i < ${inner}; i++) d[i] += w * r[i];
  }`;
      passes.push(`/* axis ${k}: ${nIn} -> ${nOut} */
for (long o = 0; o < ${outer}; o++) for (long j = 0; j < ${nOut}; j++) {
  const float *s = ${src} + o * ${nIn * inner};
  float *d = ${dst} + (o * ${nOut} + j) * ${inner};
  ${body}
}`);
      src = dst;
      inShape = shapes[p];
    });
    if (outsideAxes.length) passes.push(loops(out, (idx) => `if (${extrapolated(idx)}) ${Y}[${offset(idx, stridesOf(out))}] = ${E};`));
    return `${decls.join('\n')}\n${passes.join('\n')}`;
  },
};

export const RESIZE_OPS: OpDef[] = [resize];
