import { CompileError, makeArray, Node, numel, Tensor } from '../ir';
import { values } from './arith';
import { attrInt, attrString, OpDef } from './op';

type Move = 'DepthToSpace' | 'SpaceToDepth';

/** The block size and mode of DepthToSpace or SpaceToDepth, checked against a 4-D input: the output's shape. */
function geometry(node: Node, x: Tensor, op: Move): { b: number; crd: boolean; out: number[] } {
  const b = attrInt(node, 'blocksize', 0);
  const mode = attrString(node, 'mode', 'DCR');
  if (mode !== 'DCR' && mode !== 'CRD') throw new CompileError('invalid', `${op} ${node.name}: mode '${mode}' is not DCR or CRD`);
  if (x.shape.length !== 4) throw new CompileError('invalid', `${op} ${node.name}: the input must have rank 4, not ${x.shape.length}`);
  if (!Number.isInteger(b) || b < 1) throw new CompileError('invalid', `${op} ${node.name}: blocksize must be a positive integer, not ${b}`);
  const [N, C, H, W] = x.shape;
  if (op === 'DepthToSpace') {
    if (C % (b * b)) throw new CompileError('invalid', `DepthToSpace ${node.name}: ${C} channels are not a multiple of blocksize² (${b * b})`);
    return { b, crd: mode === 'CRD', out: [N, C / (b * b), H * b, W * b] };
  }
  if (H % b || W % b) throw new CompileError('invalid', `SpaceToDepth ${node.name}: the height ${H} and width ${W} must be multiples of blocksize ${b}`);
  return { b, crd: mode === 'CRD', out: [N, C * b * b, H / b, W / b] };
}

/**
 * The C of the input offset of output element (n, c, h, w) (`div`: integer division).
 * DepthToSpace moves channel blocks into b x b spatial blocks (DCR: the block index is the outer
 * part of the channel; CRD: the inner part); SpaceToDepth is its inverse.
 */
function source(op: Move, x: number[], g: { b: number; crd: boolean }, div: (a: string, b: number) => string): (n: string, c: string, h: string, w: string) => string {
  const [, C, H, W] = x;
  const { b, crd } = g;
  if (op === 'DepthToSpace') {
    const Cout = C / (b * b);
    return (n, c, h, w) => {
      const bh = `(${h}) % ${b}`;
      const bw = `(${w}) % ${b}`;
      const ci = crd ? `(${c}) * ${b * b} + ${bh} * ${b} + ${bw}` : `(${bh} * ${b} + ${bw}) * ${Cout} + ${c}`;
      return `(((${n}) * ${C} + ${ci}) * ${H} + ${div(h, b)}) * ${W} + ${div(w, b)}`;
    };
  }
  return (n, c, h, w) => {
    const blk = crd ? `(${c}) % ${b * b}` : div(c, C);
    const ci = crd ? div(c, b * b) : `(${c}) % ${C}`;
    return `(((${n}) * ${C} + ${ci}) * ${H} + (${h}) * ${b} + ${div(blk, b)}) * ${W} + (${w}) * ${b} + (${blk}) % ${b}`;
  };
}

/** The same offset as a JavaScript function of the indices, for folding. */
function sourceOf(op: Move, x: number[], g: { b: number; crd: boolean }): (n: number, c: number, h: number, w: number) => number {
  const [, C, H, W] = x;
  const { b, crd } = g;
  if (op === 'DepthToSpace') {
    const Cout = C / (b * b);
    return (n, c, h, w) => {
      const [bh, bw] = [h % b, w % b];
      const ci = crd ? c * b * b + bh * b + bw : (bh * b + bw) * Cout + c;
      return ((n * C + ci) * H + Math.floor(h / b)) * W + Math.floor(w / b);
    };
  }
  return (n, c, h, w) => {
    const blk = crd ? c % (b * b) : Math.floor(c / C);
    const ci = crd ? Math.floor(c / (b * b)) : c % C;
    return ((n * C + ci) * H + h * b + Math.floor(blk / b)) * W + w * b + (blk % b);
  };
}

/** DepthToSpace and SpaceToDepth (modes DCR and CRD) on 4-D tensors of any element type; folded when the input is a constant. */
function move(op: Move): OpDef {
  return {
    type: op,
    infer(ctx, node) {
      const x = ctx.required(node, 0);
      const g = geometry(node, x, op);
      let data;
      if (x.data) {
        const src = sourceOf(op, x.shape, g);
        data = makeArray(x.dtype, numel(g.out));
        const y = values(data);
        const v = values(x.data);
        const [N, C, H, W] = g.out;
        let i = 0;
        for (let n = 0; n < N; n++) for (let c = 0; c < C; c++) for (let h = 0; h < H; h++) for (let w = 0; w < W; w++) y[i++] = v[src(n, c, h, w)];
      }
      ctx.output(node, 0, { dtype: x.dtype, shape: g.out, data });
    },
    emit(ctx, node) {
      const x = ctx.tensor(node.inputs[0]);
      const g = geometry(node, x, op);
      const [N, C, H, W] = g.out;
      const at = source(op, x.shape, g, (a, b) => `(${a}) / ${b}`);
      return `for (long n = 0; n < ${N}; n++) for (long c = 0; c < ${C}; c++) for (long h = 0; h < ${H}; h++) for (long w = 0; w < ${W}; w++)
  ${ctx.ref(node.outputs[0])}[((n * ${C} + c) * ${H} + h) * ${W} + w] = ${ctx.ref(node.inputs[0])}[${at('n', 'c', 'h', 'w')}];`;
    },
  };
}

export const SPACE_OPS: OpDef[] = [move('DepthToSpace'), move('SpaceToDepth')];
