import { arrayView, C_TYPE, CompileError, DType, DTYPE_BYTES, isInteger, isUnsigned, makeArray, Node, numel, Tensor, TypedArray } from '../ir';
import { elementType } from '../import';
import { Value, values, wrapInt } from './arith';
import { attrInt, attrString, broadcast, broadcastStrides, EmitContext, InferContext, loops, offset, OpDef, stridesOf } from './op';

/**
 * BitShift, BitwiseAnd, BitwiseOr, BitwiseXor and BitwiseNot on integer tensors, broadcast, and
 * BitCast, at run time and folded when every input is a constant.
 */

/** The unsigned C type a shift is done in (at least 32 bits, so that nothing is promoted to int). */
function unsignedC(dtype: DType): string {
  return DTYPE_BYTES[dtype] === 8 ? 'uint64_t' : 'uint32_t';
}

interface Bitwise {
  type: string;
  /** C of `a` and `b` (elements of the inputs' type, read several times). */
  c: (dtype: DType, node: Node, a: string, b: string) => string;
  /** The same in JavaScript, exactly, on bigints (wrapped to the type after). */
  js: (dtype: DType, node: Node) => (a: bigint, b: bigint) => bigint;
  /** The opset and types it takes, or why not. */
  check?: (ctx: InferContext, node: Node, dtype: DType) => void;
}

/**
 * BitShift: LEFT moves bits toward the most significant end (those past it are lost, two's
 * complement), RIGHT toward the least, filling with the sign bit for a signed type (opset 28) and
 * with zeros otherwise. A shift that is negative or not less than the type's width gives what the
 * fill alone does, as opset 28 defines: -1 for a right shift of a negative value, 0 otherwise.
 */
function direction(node: Node): 'LEFT' | 'RIGHT' {
  const d = attrString(node, 'direction', '');
  if (d !== 'LEFT' && d !== 'RIGHT') throw new CompileError('invalid', `BitShift ${node.name}: direction must be LEFT or RIGHT, not "${d}"`);
  return d;
}

const bitShift: Bitwise = {
  type: 'BitShift',
  check(ctx, node, dtype) {
    direction(node);
    if (!isUnsigned(dtype) && ctx.opset < 28) throw new CompileError('invalid', `BitShift ${node.name}: ${dtype} is defined from opset 28 (the model's is ${ctx.opset}); before, only unsigned integers`);
  },
  c(dtype, node, a, b) {
    const bits = DTYPE_BYTES[dtype] * 8;
    const out = isUnsigned(dtype) ? `${b} >= ${bits}` : `${b} < 0 || ${b} >= ${bits}`;
    if (direction(node) === 'LEFT') return `${out} ? 0 : (${C_TYPE[dtype]})((${unsignedC(dtype)})${a} << ${b})`;
    const fill = isUnsigned(dtype) ? '0' : `(${a} < 0 ? -1 : 0)`;
    return `${out} ? ${fill} : (${C_TYPE[dtype]})(${a} >> ${b})`;
  },
  js(dtype, node) {
    const bits = BigInt(DTYPE_BYTES[dtype] * 8);
    const left = direction(node) === 'LEFT';
    return (a, b) => (b < 0n || b >= bits ? (!left && a < 0n ? -1n : 0n) : left ? a << b : a >> b);
  },
};

const BINARY: Bitwise[] = [
  bitShift,
  { type: 'BitwiseAnd', c: (d, _, a, b) => `(${C_TYPE[d]})(${a} & ${b})`, js: () => (a, b) => a & b },
  { type: 'BitwiseOr', c: (d, _, a, b) => `(${C_TYPE[d]})(${a} | ${b})`, js: () => (a, b) => a | b },
  { type: 'BitwiseXor', c: (d, _, a, b) => `(${C_TYPE[d]})(${a} ^ ${b})`, js: () => (a, b) => a ^ b },
];

function integerInput(ctx: InferContext, node: Node, i: number): Tensor {
  const t = ctx.required(node, i);
  if (!isInteger(t.dtype)) throw new CompileError('invalid', `${node.op} ${node.name}: ${t.dtype} inputs are not integers`);
  return t;
}

function binaryOp(op: Bitwise): OpDef {
  return {
    type: op.type,
    infer(ctx, node) {
      const x = integerInput(ctx, node, 0);
      const y = integerInput(ctx, node, 1);
      if (x.dtype !== y.dtype) throw new CompileError('invalid', `${op.type} ${node.name}: the inputs' types differ (${x.dtype}, ${y.dtype})`);
      op.check?.(ctx, node, x.dtype);
      const shape = broadcast([x.shape, y.shape], node);
      let data: TypedArray | undefined;
      if (x.data && y.data) {
        data = makeArray(x.dtype, numel(shape));
        const f = op.js(x.dtype, node);
        const [xv, yv, out] = [values(x.data), values(y.data), values(data)];
        const [sx, sy] = [x, y].map((t) => broadcastStrides(t.shape, shape));
        const os = stridesOf(shape);
        for (let i = 0; i < out.length; i++) {
          let ix = 0;
          let iy = 0;
          for (let k = 0; k < shape.length; k++) {
            const d = Math.floor(i / os[k]) % shape[k];
            ix += d * sx[k];
            iy += d * sy[k];
          }
          out[i] = wrapInt(x.dtype, f(BigInt(xv[ix]), BigInt(yv[iy])));
        }
      }
      ctx.output(node, 0, { dtype: x.dtype, shape, data });
    },
    emit(ctx: EmitContext, node) {
      const out = ctx.tensor(node.outputs[0]);
      const [A, B] = node.inputs;
      const bs = (n: string) => broadcastStrides(ctx.tensor(n).shape, out.shape);
      const T = C_TYPE[out.dtype];
      return loops(out.shape, (idx) => `const ${T} a = ${ctx.ref(A)}[${offset(idx, bs(A))}], b = ${ctx.ref(B)}[${offset(idx, bs(B))}];
${ctx.ref(node.outputs[0])}[${offset(idx, stridesOf(out.shape))}] = ${op.c(out.dtype, node, 'a', 'b')};`);
    },
  };
}

const bitwiseNot: OpDef = {
  type: 'BitwiseNot',
  infer(ctx, node) {
    const x = integerInput(ctx, node, 0);
    let data: TypedArray | undefined;
    if (x.data) {
      data = makeArray(x.dtype, numel(x.shape));
      const [xv, out] = [values(x.data), values(data)];
      for (let i = 0; i < out.length; i++) out[i] = wrapInt(x.dtype, ~BigInt(xv[i] as Value));
    }
    ctx.output(node, 0, { dtype: x.dtype, shape: [...x.shape], data });
  },
  emit(ctx, node) {
    const out = ctx.tensor(node.outputs[0]);
    return `for (long i = 0; i < ${numel(out.shape)}; i++) ${ctx.ref(node.outputs[0])}[i] = (${C_TYPE[out.dtype]})~${ctx.ref(node.inputs[0])}[i];`;
  },
};

/**
 * BitCast (opset 26): the same bytes read as another type of the same width (little-endian).
 * float16 and bfloat16 are held as float32 inside, so they are refused here.
 */
const bitCast: OpDef = {
  type: 'BitCast',
  infer(ctx, node) {
    const x = ctx.required(node, 0);
    const to = elementType(attrInt(node, 'to', 0));
    if (!to || to.half || x.half || to.dtype === 'string' || x.dtype === 'string') {
      throw new CompileError('unsupported', `BitCast ${node.name}: from ${x.half ?? x.dtype} to ${to?.half ?? to?.dtype ?? attrInt(node, 'to', 0)} is not supported (numeric types other than float16 and bfloat16 are)`);
    }
    if (DTYPE_BYTES[to.dtype] !== DTYPE_BYTES[x.dtype]) throw new CompileError('invalid', `BitCast ${node.name}: ${x.dtype} and ${to.dtype} differ in width`);
    let data: TypedArray | undefined;
    if (x.data) data = arrayView(to.dtype, x.data.buffer.slice(x.data.byteOffset, x.data.byteOffset + x.data.byteLength) as ArrayBuffer);
    ctx.output(node, 0, { dtype: to.dtype, shape: [...x.shape], data, half: undefined });
  },
  emit(ctx, node) {
    // Copied, never aliased: a buffer's C pointer has its own element type.
    const out = ctx.tensor(node.outputs[0]);
    return `memcpy(${ctx.ref(node.outputs[0])}, ${ctx.ref(node.inputs[0])}, ${numel(out.shape) * DTYPE_BYTES[out.dtype]});`;
  },
};

export const BITWISE_OPS: OpDef[] = [...BINARY.map(binaryOp), bitwiseNot, bitCast];
