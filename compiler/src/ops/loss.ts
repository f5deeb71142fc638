import { C_TYPE, CompileError, Node, numel } from '../ir';
import { attrString, EmitContext, InferContext, OpDef, tensorOf } from './op';

const REDUCTIONS = ['none', 'sum', 'mean'];

/** The parts of NegativeLogLikelihoodLoss and SoftmaxCrossEntropyLoss that are the same: inputs, classes, positions, reduction. */
function lossParams(ctx: InferContext | EmitContext, node: Node) {
  const get = (i: number) => tensorOf(ctx, node, i);
  const x = get(0);
  const target = get(1);
  if (!x || !target) throw new CompileError('invalid', `${node.op} ${node.name}: the scores and the target are required`);
  const weight = get(2);
  if (x.dtype !== 'float32' && x.dtype !== 'float64') throw new CompileError('unsupported', `${node.op} ${node.name}: ${x.dtype} scores are not supported (float, double and float16 are)`);
  if (target.dtype !== 'int64' && target.dtype !== 'int32') throw new CompileError('invalid', `${node.op} ${node.name}: the target must be int32 or int64, not ${target.dtype}`);
  if (x.shape.length < 2) throw new CompileError('invalid', `${node.op} ${node.name}: the scores must be N x C x d1 x ..., not of shape [${x.shape}]`);
  const [N, C] = x.shape;
  const want = [N, ...x.shape.slice(2)];
  if (target.shape.length !== want.length || target.shape.some((d, i) => d !== want[i])) {
    throw new CompileError('invalid', `${node.op} ${node.name}: the target's shape [${target.shape}] must be the scores' [${x.shape}] without the class dimension`);
  }
  if (weight && (weight.dtype !== x.dtype || weight.shape.length !== 1 || weight.shape[0] !== C)) {
    throw new CompileError('invalid', `${node.op} ${node.name}: the weights must be ${x.dtype} of shape [${C}], not ${weight.dtype} [${weight.shape}]`);
  }
  const reduction = attrString(node, 'reduction', 'mean');
  if (!REDUCTIONS.includes(reduction)) throw new CompileError('invalid', `${node.op} ${node.name}: reduction must be none, sum or mean, not ${reduction}`);
  const ignore = node.attrs.ignore_index === undefined ? undefined : Number(node.attrs.ignore_index);
  return { x, target, weight, N, C, D: numel(x.shape.slice(2)), reduction, ignore };
}

/**
 * NegativeLogLikelihoodLoss and SoftmaxCrossEntropyLoss (which takes the log-softmax over the
 * class dimension first, and can give it as a second output): per position, minus the target
 * class's log-probability, times that class's weight; a position whose target is ignore_index
 * counts nothing. Reduced to none (the per-position losses), sum, or mean (the sum over the sum
 * of the weights counted, so over the positions not ignored when there are no weights). A target
 * outside [0, C) that is not ignore_index ends the run with the index error. Sums are in double.
 */
function loss(type: 'NegativeLogLikelihoodLoss' | 'SoftmaxCrossEntropyLoss'): OpDef {
  const softmax = type === 'SoftmaxCrossEntropyLoss';
  return {
    type,
    infer(ctx, node) {
      const { x, target, reduction } = lossParams(ctx, node);
      ctx.output(node, 0, { dtype: x.dtype, shape: reduction === 'none' ? [...target.shape] : [] });
      if (softmax && node.outputs[1]) ctx.output(node, 1, { dtype: x.dtype, shape: [...x.shape] });
      else if (node.outputs[1]) throw new CompileError('invalid', `${node.op} ${node.name}: it has one output`);
    },
    emit(ctx, node) {
      const { x, weight, N, C, D, reduction, ignore } = lossParams(ctx, node);
      const T = C_TYPE[x.dtype];
      const X = ctx.ref(node.inputs[0]);
      const tgt = ctx.ref(node.inputs[1]);
      const W = weight ? ctx.ref(node.inputs[2]) : undefined;
      const Y = ctx.ref(node.outputs[0]);
      const LP = softmax && node.outputs[1] ? ctx.ref(node.outputs[1]) : undefined;
      const at = (c: string) => `(n * ${C} + ${c}) * ${D} + d`;
      // The log-probability of class t at (n, d): the input itself, or (x - max) - log(sum of exp).
      const logProb = softmax
        ? `double m = -INFINITY, s = 0.0;
    for (long c = 0; c < ${C}; c++) { const double v = ${X}[${at('c')}]; m = v > m ? v : m; }
    for (long c = 0; c < ${C}; c++) s += exp((double)${X}[${at('c')}] - m);
    const double ls = log(s);${LP ? `\n    for (long c = 0; c < ${C}; c++) ${LP}[${at('c')}] = (${T})(((double)${X}[${at('c')}] - m) - ls);` : ''}
    #define KILN_LOGP(t) (((double)${X}[${at('t')}] - m) - ls)`
        : `#define KILN_LOGP(t) ((double)${X}[${at('t')}])`;
      const skip = ignore === undefined ? '0' : `t == ${ignore}LL`;
      const store = reduction === 'none' ? `${Y}[n * ${D} + d] = (${T})l;` : 'num += l; den += w;';
      const finish = reduction === 'none' ? '' : `\n${Y}[0] = (${T})(${reduction === 'mean' ? 'num / den' : 'num'});`;
      return `double num = 0.0, den = 0.0;
for (long n = 0; n < ${N}; n++) for (long d = 0; d < ${D}; d++) {
    const long long t = (long long)${tgt}[n * ${D} + d];
    ${logProb}
    double l = 0.0, w = 0.0;
    if (!(${skip})) {
      if (t < 0 || t >= ${C}) ${ctx.indexOutOfRange()}
      w = ${W ? `(double)${W}[t]` : '1.0'};
      l = -w * KILN_LOGP(t);
    }
    #undef KILN_LOGP
    ${store}
}
(void)num; (void)den;${finish}`;
    },
  };
}

export const LOSS_OPS: OpDef[] = [loss('NegativeLogLikelihoodLoss'), loss('SoftmaxCrossEntropyLoss')];
