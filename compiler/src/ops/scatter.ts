import { CompileError, makeArray, numel, toNumbers } from '../ir';
import { checkIndices, cReduce, indexC, jsReduce, reductionOf, requireIndexType, values } from './arith';
import { attrInt, loops, normAxis, offset, OpDef, stridesOf } from './op';

/**
 * ScatterND: a copy of data where each tuple on the last axis of indices names a slice (an
 * element, a row, ...) that takes the matching slice of updates, or is combined with it
 * (reduction add, mul since opset 16; max, min since 18). Where tuples repeat with reduction
 * none, ONNX leaves the result undefined: they are applied in order, the last one wins.
 * Indices known only at run time are checked as the model runs (RUN_ERRORS.indexOutOfRange);
 * constant ones at compile time. Negative indices count from the end, as ONNX Runtime does.
 */
const scatterND: OpDef = {
  type: 'ScatterND',
  infer(ctx, node) {
    const x = ctx.required(node, 0);
    const ind = ctx.required(node, 1);
    const upd = ctx.required(node, 2);
    requireIndexType(node, ind.dtype, 'indices', false);
    if (upd.dtype !== x.dtype) throw new CompileError('invalid', `ScatterND ${node.name}: updates are ${upd.dtype}, data ${x.dtype}`);
    const r = reductionOf(ctx, node, x.dtype);
    const q = ind.shape.length;
    if (q < 1) throw new CompileError('invalid', `ScatterND ${node.name}: indices must have rank 1 or more`);
    const m = ind.shape[q - 1];
    if (m > x.shape.length) throw new CompileError('invalid', `ScatterND ${node.name}: index tuples of ${m} for data of rank ${x.shape.length}`);
    const want = [...ind.shape.slice(0, -1), ...x.shape.slice(m)];
    if (want.join() !== upd.shape.join()) throw new CompileError('invalid', `ScatterND ${node.name}: updates are [${upd.shape}], and indices [${ind.shape}] into data [${x.shape}] take [${want}]`);
    let data;
    if (ind.data) {
      const idx = toNumbers(ind);
      checkIndices(node, idx, (j) => x.shape[j % m]);
      if (x.data && upd.data) {
        data = makeArray(x.dtype, numel(x.shape));
        const y = values(data);
        const u = values(upd.data);
        for (let i = 0; i < y.length; i++) y[i] = values(x.data)[i];
        const xs = stridesOf(x.shape);
        const S = numel(x.shape.slice(m));
        const f = jsReduce(r, x.dtype);
        for (let t = 0; t < numel(ind.shape.slice(0, -1)); t++) {
          let off = 0;
          for (let j = 0; j < m; j++) off += (idx[t * m + j] < 0 ? idx[t * m + j] + x.shape[j] : idx[t * m + j]) * xs[j];
          for (let s = 0; s < S; s++) y[off + s] = f(y[off + s], u[t * S + s]);
        }
      }
    }
    ctx.output(node, 0, { dtype: x.dtype, shape: [...x.shape], data });
  },
  emit(ctx, node) {
    const x = ctx.tensor(node.inputs[0]);
    const ind = ctx.tensor(node.inputs[1]);
    const r = reductionOf(ctx, node, x.dtype);
    const m = ind.shape[ind.shape.length - 1];
    const T = numel(ind.shape.slice(0, -1));
    const S = numel(x.shape.slice(m));
    const xs = stridesOf(x.shape);
    const Y = ctx.ref(node.outputs[0]);
    const code = numel(x.shape) ? [`memcpy(${Y}, ${ctx.ref(node.inputs[0])}, sizeof(*${Y}) * ${numel(x.shape)});`] : [];
    if (T * S === 0) return code.join('\n');
    const U = ctx.ref(node.inputs[2]);
    const picks = Array.from({ length: m }, (_, j) => `  ${indexC(ctx, `k${j}`, `ix[${j}]`, x.shape[j], !ind.data)}\n  off += (long)k${j} * ${xs[j]};`);
    const apply = r === 'none' ? `memcpy(${Y} + off, ${U} + t * ${S}, sizeof(*${Y}) * ${S});` : `for (long s = 0; s < ${S}; s++) ${Y}[off + s] = ${cReduce(r, x.dtype, `${Y}[off + s]`, `${U}[t * ${S} + s]`)};`;
    code.push(`for (long t = 0; t < ${T}; t++) {
${m ? `  const int64_t *ix = ${ctx.ref(node.inputs[1])} + t * ${m};\n` : ''}  long off = 0;
${picks.join('\n')}
  ${apply}
}`);
    return code.join('\n');
  },
};

/**
 * ScatterElements: a copy of data where, for each element of indices, the element of data at its
 * position with `axis` replaced by the index takes (or is combined with) the matching update.
 * Negative indices count from the end; indices known only at run time are checked as the model runs.
 */
const scatterElements: OpDef = {
  type: 'ScatterElements',
  infer(ctx, node) {
    const x = ctx.required(node, 0);
    const ind = ctx.required(node, 1);
    const upd = ctx.required(node, 2);
    requireIndexType(node, ind.dtype, 'indices');
    if (upd.dtype !== x.dtype) throw new CompileError('invalid', `${node.op} ${node.name}: updates are ${upd.dtype}, data ${x.dtype}`);
    const r = reductionOf(ctx, node, x.dtype);
    const axis = normAxis(attrInt(node, 'axis', 0), x.shape.length, node);
    if (ind.shape.length !== x.shape.length) throw new CompileError('invalid', `${node.op} ${node.name}: indices [${ind.shape}] and data [${x.shape}] differ in rank`);
    if (upd.shape.join() !== ind.shape.join()) throw new CompileError('invalid', `${node.op} ${node.name}: updates [${upd.shape}] and indices [${ind.shape}] differ in shape`);
    if (ind.shape.some((d, k) => k !== axis && d > x.shape[k])) throw new CompileError('invalid', `${node.op} ${node.name}: indices [${ind.shape}] are larger than the data [${x.shape}] on an axis other than ${axis}`);
    let data;
    if (ind.data) {
      const idx = toNumbers(ind);
      checkIndices(node, idx, () => x.shape[axis]);
      if (x.data && upd.data) {
        data = makeArray(x.dtype, numel(x.shape));
        const y = values(data);
        const u = values(upd.data);
        for (let i = 0; i < y.length; i++) y[i] = values(x.data)[i];
        const xs = stridesOf(x.shape);
        const is = stridesOf(ind.shape);
        const f = jsReduce(r, x.dtype);
        for (let i = 0; i < idx.length; i++) {
          let off = 0;
          for (let k = 0; k < ind.shape.length; k++) {
            const c = Math.floor(i / is[k]) % ind.shape[k];
            off += (k === axis ? (idx[i] < 0 ? idx[i] + x.shape[axis] : idx[i]) : c) * xs[k];
          }
          y[off] = f(y[off], u[i]);
        }
      }
    }
    ctx.output(node, 0, { dtype: x.dtype, shape: [...x.shape], data });
  },
  emit(ctx, node) {
    const x = ctx.tensor(node.inputs[0]);
    const ind = ctx.tensor(node.inputs[1]);
    const r = reductionOf(ctx, node, x.dtype);
    const axis = normAxis(attrInt(node, 'axis', 0), x.shape.length, node);
    const Y = ctx.ref(node.outputs[0]);
    const code = numel(x.shape) ? [`memcpy(${Y}, ${ctx.ref(node.inputs[0])}, sizeof(*${Y}) * ${numel(x.shape)});`] : [];
    if (!numel(ind.shape)) return code.join('\n');
    const xs = stridesOf(x.shape);
    const is = stridesOf(ind.shape);
    const I = ctx.ref(node.inputs[1]);
    const U = ctx.ref(node.inputs[2]);
    code.push(
      loops(ind.shape, (idx) => {
        const dst = `${Y}[${offset(idx.map((v, k) => (k === axis ? '(long)j' : v)), xs)}]`;
        return `${indexC(ctx, 'j', `${I}[${offset(idx, is)}]`, x.shape[axis], !ind.data)}
${dst} = ${cReduce(r, x.dtype, dst, `${U}[${offset(idx, is)}]`)};`;
      }),
    );
    return code.join('\n');
  },
};

/** Scatter (opsets 9 and 10, ScatterElements' name before opset 11): the same, without reduction. */
const scatter: OpDef = { ...scatterElements, type: 'Scatter' };

export const SCATTER_OPS: OpDef[] = [scatterND, scatterElements, scatter];
