import { CompileError, numel } from '../ir';
import { attrInt, attrString, OpDef } from './op';

/*
 * GridSample (opsets 16, 20 and 22): X [N, C, H, W] (or [N, C, D, H, W]) sampled at the
 * normalized coordinates of a grid read at run time, [N, H_out, W_out, 2] (x, then y; z last in
 * 3-D). Computed as ONNX Runtime does: a coordinate is denormalized (align_corners: -1 and 1 are
 * the centers of the first and last pixels; otherwise their outer edges), then each pixel the
 * interpolation reads is taken from the padding when it lies outside (zeros, the nearest border
 * pixel, or its reflection about the border); nearest rounds half to even. Linear and nearest
 * take 2-D and 3-D images, cubic (Keys, a = -0.75) 2-D ones.
 */

/** ONNX's mode names: opset 16 says bilinear and bicubic, 20 linear and cubic. */
const MODES: Record<string, 'linear' | 'nearest' | 'cubic'> = { bilinear: 'linear', linear: 'linear', nearest: 'nearest', bicubic: 'cubic', cubic: 'cubic' };
const PADDING: Record<string, number> = { zeros: 0, border: 1, reflection: 2 };

/**
 * The C helpers: a coordinate denormalized (kept within +-2^24, NaN to the low end, so that it
 * converts to an integer), and the offset of pixel i of an axis of n pixels after padding (-1: a
 * zero from the padding).
 */
const GRIDSAMPLE_C = `/* GridSample: a normalized coordinate to a pixel coordinate, within +-2^24 (NaN to -2^24). */
static inline float kiln_gs_coord(float v, long n, int align) {
  const float x = align ? (v + 1.0f) / 2.0f * (float)(n - 1) : ((v + 1.0f) * (float)n - 1.0f) / 2.0f;
  return !(x >= -16777216.0f) ? -16777216.0f : x > 16777216.0f ? 16777216.0f : x;
}
/* Pixel i of an axis of n after padding: zeros (mode 0, -1 outside), border (1) or reflection (2) about lo and hi. */
static inline long kiln_gs_pixel(long i, long n, int mode, float lo, float hi) {
  if (i >= 0 && i < n) return i;
  if (mode == 0) return -1;
  if (mode == 2 && hi > lo) {
    const float x = (float)i, range = hi - lo;
    float r;
    if (x < lo) {
      const float d = lo - x;
      const long k = (long)(d / range);
      r = d - (float)k * range;
      i = (long)(k % 2 == 0 ? lo + r : hi - r);
    } else {
      const float d = x - hi;
      const long k = (long)(d / range);
      r = d - (float)k * range;
      i = (long)(k % 2 == 0 ? hi - r : lo + r);
    }
  }
  return i < 0 ? 0 : i >= n ? n - 1 : i;
}
/* Keys' cubic convolution weights (a = -0.75) of the 4 pixels around a point t past the second. */
static inline void kiln_gs_cubic(float t, float w[4]) {
  const float a = -0.75f;
  t = fabsf(t);
  w[0] = ((a * (t + 1.0f) - 5.0f * a) * (t + 1.0f) + 8.0f * a) * (t + 1.0f) - 4.0f * a;
  w[1] = ((a + 2.0f) * t - (a + 3.0f)) * t * t + 1.0f;
  w[2] = ((a + 2.0f) * (1.0f - t) - (a + 3.0f)) * (1.0f - t) * (1.0f - t) + 1.0f;
  w[3] = ((a * (2.0f - t) - 5.0f * a) * (2.0f - t) + 8.0f * a) * (2.0f - t) - 4.0f * a;
}`;

const gridSample: OpDef = {
  type: 'GridSample',
  infer(ctx, node) {
    const x = ctx.required(node, 0);
    const grid = ctx.required(node, 1);
    if (x.dtype !== 'float32' || grid.dtype !== 'float32') throw new CompileError('unsupported', `GridSample ${node.name}: only float32 is supported (X is ${x.dtype}, the grid ${grid.dtype})`);
    const r = x.shape.length - 2;
    const mode = MODES[attrString(node, 'mode', ctx.opset >= 20 ? 'linear' : 'bilinear')];
    if (!mode) throw new CompileError('invalid', `GridSample ${node.name}: mode ${attrString(node, 'mode', '')} is not one ONNX defines`);
    if (PADDING[attrString(node, 'padding_mode', 'zeros')] === undefined) throw new CompileError('invalid', `GridSample ${node.name}: padding_mode ${attrString(node, 'padding_mode', '')} is not one ONNX defines`);
    if (r !== 2 && r !== 3) throw new CompileError('unsupported', `GridSample ${node.name}: ${x.shape.length}-D input; 4-D and 5-D are supported`);
    if (r === 3 && mode === 'cubic') throw new CompileError('unsupported', `GridSample ${node.name}: cubic mode on a 5-D input is not supported (4-D is)`);
    if (grid.shape.length !== r + 2 || grid.shape[0] !== x.shape[0] || grid.shape[r + 1] !== r) throw new CompileError('invalid', `GridSample ${node.name}: a grid of shape [${grid.shape}] for an input of shape [${x.shape}] (want [${x.shape[0]}, ..., ${r}])`);
    ctx.output(node, 0, { dtype: 'float32', shape: [x.shape[0], x.shape[1], ...grid.shape.slice(1, -1)] });
  },
  emit(ctx, node) {
    ctx.helper('gridsample', GRIDSAMPLE_C);
    const x = ctx.tensor(node.inputs[0]);
    const grid = ctx.tensor(node.inputs[1]);
    const r = x.shape.length - 2;
    const mode = MODES[attrString(node, 'mode', ctx.opset >= 20 ? 'linear' : 'bilinear')];
    const pad = PADDING[attrString(node, 'padding_mode', 'zeros')];
    const align = attrInt(node, 'align_corners', 0) ? 1 : 0;
    const [N, C] = x.shape;
    const spatial = x.shape.slice(2);
    const plane = numel(spatial);
    const P = numel(grid.shape.slice(1, -1));
    const X = ctx.ref(node.inputs[0]);
    const G = ctx.ref(node.inputs[1]);
    const Y = ctx.ref(node.outputs[0]);
    // Axes in the grid's order: x (the last axis of X), y, then z.
    const axes = Array.from({ length: r }, (_, j) => ({ n: spatial[r - 1 - j], v: ['x', 'y', 'z'][j] }));
    const bounds = (n: number) => (align ? ['0.0f', `${n - 1}.0f`] : ['-0.5f', `${n}.0f - 0.5f`]);
    const pixel = (i: string, n: number) => `kiln_gs_pixel(${i}, ${n}, ${pad}, ${bounds(n).join(', ')})`;
    const coords = axes.map((a, j) => `const float ${a.v} = kiln_gs_coord(g[${j}], ${a.n}, ${align});`).join('\n');
    // Offsets into the plane (-1: zero) of pixel (iz, iy, ix).
    const at = (idx: string[]) => {
      const parts = idx.map((v, j) => ({ v, n: axes[j].n, stride: numel(axes.slice(0, j).map((a) => a.n)) }));
      return `(${parts.map((p) => `${p.v} < 0`).join(' || ')}) ? -1 : ${parts.map((p) => (p.stride === 1 ? p.v : `${p.v} * ${p.stride}`)).join(' + ')}`;
    };
    const fetch = (o: string) => `(${o} < 0 ? 0.0f : xc[${o}])`;
    let setup: string;
    let value: string;
    if (mode === 'nearest') {
      setup = `${axes.map((a) => `const long i${a.v} = ${pixel(`(long)rintf(${a.v})`, a.n)};`).join('\n')}
const long o = ${at(axes.map((a) => `i${a.v}`))};`;
      value = fetch('o');
    } else if (mode === 'linear') {
      setup = `${axes.map((a) => `const long ${a.v}1 = (long)floorf(${a.v}), ${a.v}2 = ${a.v}1 + 1;
const float d${a.v}2 = (float)${a.v}2 - ${a.v}, d${a.v}1 = ${a.v} - (float)${a.v}1;
const long p${a.v}1 = ${pixel(`${a.v}1`, a.n)}, p${a.v}2 = ${pixel(`${a.v}2`, a.n)};`).join('\n')}`;
      // Pixel offsets o<x><y>[<z>], each index 1 or 2 as in ONNX Runtime's p11 .. p22 (row, then column).
      const corners: string[][] = r === 2 ? [['1', '1'], ['1', '2'], ['2', '1'], ['2', '2']] : [['1', '1', '1'], ['1', '1', '2'], ['1', '2', '1'], ['1', '2', '2'], ['2', '1', '1'], ['2', '1', '2'], ['2', '2', '1'], ['2', '2', '2']];
      // corners[k] lists the outer axis first (z, y, x); axes[] is x first.
      setup += `\n${corners.map((c) => `const long o${c.join('')} = ${at([...c].reverse().map((w, j) => `p${axes[j].v}${w}`))};`).join('\n')}`;
      const bil = (pre: string) => `dy2 * (dx2 * ${fetch(`o${pre}11`)} + dx1 * ${fetch(`o${pre}12`)}) + dy1 * (dx2 * ${fetch(`o${pre}21`)} + dx1 * ${fetch(`o${pre}22`)})`;
      value = r === 2 ? bil('') : `dz2 * (${bil('1')}) + dz1 * (${bil('2')})`;
    } else {
      setup = `const long x0 = (long)floorf(x) - 1, y0 = (long)floorf(y) - 1;
float cx[4], cy[4];
kiln_gs_cubic(x - (float)x0 - 1.0f, cx);
kiln_gs_cubic(y - (float)y0 - 1.0f, cy);
long o[4][4];
for (int h = 0; h < 4; h++) for (int w = 0; w < 4; w++) {
  const long ph = ${pixel('y0 + h', axes[1].n)}, pw = ${pixel('x0 + w', axes[0].n)};
  o[h][w] = ph < 0 || pw < 0 ? -1 : ph * ${axes[0].n} + pw;
}`;
      const row = (h: number) => `cx[0] * ${fetch(`o[${h}][0]`)} + cx[1] * ${fetch(`o[${h}][1]`)} + cx[2] * ${fetch(`o[${h}][2]`)} + cx[3] * ${fetch(`o[${h}][3]`)}`;
      value = `cy[0] * (${row(0)}) + cy[1] * (${row(1)}) + cy[2] * (${row(2)}) + cy[3] * (${row(3)})`;
    }
    return `for (long n = 0; n < ${N}; n++) for (long p = 0; p < ${P}; p++) {
  const float *g = ${G} + (n * ${P} + p) * ${r};
  ${coords.replace(/\n/g, '\n  ')}
  ${setup.replace(/\n/g, '\n  ')}
  for (long c = 0; c < ${C}; c++) {
    const float *xc = ${X} + (n * ${C} + c) * ${plane};
    ${Y}[(n * ${C} + c) * ${P} + p] = ${value};
  }
}`;
  },
};

export const GRIDSAMPLE_OPS: OpDef[] = [gridSample];
