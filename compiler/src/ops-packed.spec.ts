import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import * as ort from 'onnxruntime-node';
import { onnx } from 'onnx-proto';
import { ModelBuilder } from '../test/builder';
import { OrtHarness, TARGETS, X86 } from '../test/ort-harness';
import { compileModel, modelJobProblem } from './compile';
import { Float8, minifloatBits as float8Bits, minifloatValue as float8Value, roundMinifloat as roundFloat8 } from './packed';

/*
 * float8 (e4m3fn, e4m3fnuz, e5m2, e5m2fnuz), float4e2m1, int4, uint4, int2 and uint2 at a graph's
 * edges and through Cast and CastLike: compiled, built with clang for x86_64 and aarch64 (under
 * qemu), run and compared with ONNX Runtime, which takes none of them from JavaScript (its float8
 * and int4 Casts are compared through float32 and int8, the bytes with the definitions in
 * packed.ts), and, for float4e2m1 and the 2-bit types it lacks, with the values ONNX's reference
 * implementation (numpy with ml_dtypes) gives.
 */

const DT = onnx.TensorProto.DataType;
const CODE: Record<Float8 | 'float4e2m1' | 'int4' | 'uint4' | 'int2' | 'uint2', number> = { float8e4m3fn: 17, float8e4m3fnuz: 18, float8e5m2: 19, float8e5m2fnuz: 20, uint4: 21, int4: 22, float4e2m1: 23, uint2: 25, int2: 26 };
const FLOAT8: Float8[] = ['float8e4m3fn', 'float8e4m3fnuz', 'float8e5m2', 'float8e5m2fnuz'];

/** Values that exercise rounding: ties either way, subnormals, the largest finite values and just past them, infinities, NaN, zeros. */
function trickyFloats(): Float32Array {
  const v: number[] = [0, -0, NaN, Infinity, -Infinity, 1e-9, -1e-9, 448, 464, 480, 240, 248, 57344, 61440, 61441, 65536, 1e6, -1e6];
  for (let e = -20; e <= 16; e++) for (const m of [1, 1.0625, 1.125, 1.1875, 1.25, 1.375, 1.5, 1.625, 1.75, 1.875, 1.9375]) v.push(m * 2 ** e, -m * 2 ** e);
  return Float32Array.from(v);
}

/**
 * ONNX Runtime's Cast(..., saturate=0) departs from ONNX's definition ("[x] > FLT_MAX": NaN for
 * float8e4m3fn, infinity for float8e5m2) and its reference (ml_dtypes) in two places: to
 * float8e4m3fn, a value whose rounding gives 480 (the byte 0x7f, its NaN: 464 < |x| < 496) gives
 * 448; to float8e5m2, a finite value that rounds past 57344 gives NaN. Output `k` (format-major,
 * saturate 1 then 0) of the tests' Cast pairs, as ONNX defines it.
 */
function onnxDefinition(t: ort.Tensor, k: number): ort.Tensor {
  const x = trickyFloats();
  const fix = (y: number, i: number) => {
    const a = Math.abs(x[i]);
    if (k === 1 && a > 464 && a < 496) return NaN;
    if (k === 5 && Number.isFinite(a) && a >= 61440) return Math.sign(x[i]) * Infinity;
    return y;
  };
  return new ort.Tensor('float32', Float32Array.from(t.data as Float32Array, fix), t.dims);
}

describe('float8, int4 and uint4 through Cast and CastLike, against ONNX Runtime', () => {
  const h = new OrtHarness();
  before(() => h.open());
  after(() => h.close());

  it('Cast to each float8 format and back to float32, saturating or not, gives ONNX Runtime\'s values, at run time and folded', async () => {
    const x = trickyFloats();
    for (const constant of [false, true]) {
      const b = new ModelBuilder(21);
      const src = constant ? b.op('Constant', [], { value: { tensor: { dims: [x.length], dataType: DT.FLOAT, rawData: new Uint8Array(x.buffer) } } }) : b.input('x', [x.length]);
      for (const f of FLOAT8) for (const saturate of [1, 0]) b.output(b.op('Cast', [b.op('Cast', [src], { to: CODE[f], saturate })], { to: DT.FLOAT }));
      const ref = new ModelBuilder(21);
      const rx = ref.input('x', [x.length]);
      for (const f of FLOAT8) for (const saturate of [1, 0]) ref.output(ref.op('Cast', [ref.op('Cast', [rx], { to: CODE[f], saturate })], { to: DT.FLOAT }));
      const want = Object.values(await h.ortRun(ref.build(), { x: new ort.Tensor('float32', x, [x.length]) })).map(onnxDefinition);
      const names = onnx.ModelProto.decode(b.build()).graph!.output!.map((o) => o.name!);
      const expected = Object.fromEntries(names.map((n, i) => [n, want[i]]));
      await h.assertSame(b.build(), constant ? {} : { x: new ort.Tensor('float32', x, [x.length]) }, expected, constant ? [X86] : TARGETS, { rtol: 0, atol: 0 });
    }
    // The JavaScript definitions agree with ONNX Runtime too (but for the same divergence).
    const want = await h.ortRun(
      (() => {
        const r = new ModelBuilder(21);
        const rx = r.input('x', [x.length]);
        for (const f of FLOAT8) for (const saturate of [1, 0]) r.output(r.op('Cast', [r.op('Cast', [rx], { to: CODE[f], saturate })], { to: DT.FLOAT }));
        return r.build();
      })(),
      { x: new ort.Tensor('float32', x, [x.length]) },
    );
    let k = 0;
    for (const f of FLOAT8) {
      for (const saturate of [true, false]) {
        const got = Array.from(x, (v) => roundFloat8(f, v, saturate));
        assert.deepEqual(got, Array.from(onnxDefinition(Object.values(want)[k], k++).data as Float32Array), `${f} saturate=${saturate}`);
      }
    }
  });

  it('float8 at the edges: every byte of each format read as an input, and values written as its bytes', async () => {
    const bytes = Uint8Array.from({ length: 256 }, (_, i) => i);
    const x = trickyFloats();
    const b = new ModelBuilder(21);
    for (const f of FLOAT8) b.output(b.op('Cast', [b.input(`b_${f}`, [256], CODE[f])], { to: DT.FLOAT }));
    const xf = b.input('x', [x.length]);
    for (const f of FLOAT8) {
      b.output(b.op('Cast', [xf], { to: CODE[f] }), CODE[f]);
      b.output(b.op('Cast', [xf], { to: CODE[f], saturate: 0 }), CODE[f]);
    }
    const model = b.build();
    for (const target of TARGETS) {
      const r = await h.runRaw(model, [...FLOAT8.map(() => bytes), x], target);
      assert.equal(r.status, 0, r.stderr);
      FLOAT8.forEach((f, k) => {
        const got = new Float32Array(r.outputs[k].buffer, r.outputs[k].byteOffset, 256);
        assert.deepEqual(Array.from(got), Array.from(bytes, (v) => Math.fround(float8Value(f, v))), `${f} read on ${target.triple}`);
        for (const [j, saturate] of [true, false].entries()) {
          const out = r.outputs[FLOAT8.length + 2 * k + j];
          assert.deepEqual([...out], Array.from(x, (v) => float8Bits(f, roundFloat8(f, v, saturate))), `${f} written (saturate ${saturate}) on ${target.triple}`);
        }
      });
      assert.equal(r.metadata.inputs[0].dtype, 'float8e4m3fn');
      assert.match(r.header, /\[0\] b_float8e4m3fn: float8e4m3fn \(uint8_t, the format's bits\) \[256\]/);
    }
    // Each value a byte decodes to is one ONNX Runtime's Cast keeps.
    const values = Float32Array.from(FLOAT8.flatMap((f) => Array.from(bytes, (v) => float8Value(f, v))));
    const rb = new ModelBuilder(21);
    const rx = rb.input('x', [1024]);
    const outs = FLOAT8.map((f) => rb.op('Cast', [rb.op('Cast', [rx], { to: CODE[f], saturate: 0 })], { to: DT.FLOAT }));
    outs.forEach((o) => rb.output(o));
    const back = await h.ortRun(rb.build(), { x: new ort.Tensor('float32', values, [1024]) });
    FLOAT8.forEach((f, k) => {
      const mine = values.subarray(k * 256, (k + 1) * 256);
      const theirs = (back[outs[k]].data as Float32Array).subarray(k * 256, (k + 1) * 256);
      assert.deepEqual(Array.from(theirs), Array.from(mine), `${f}: a decoded value is kept`);
    });
  });

  it('int4 and uint4: packed two to a byte at the edges (odd counts), Cast and CastLike to and from them keep the low four bits', async () => {
    // ONNX Runtime takes no int4 tensors from JavaScript: its reference reads and gives their values as int8, cast inside.
    const i4 = [7, -8, 0, -1, 6];
    const u4 = [0, 1, 14, 15, 10, 7];
    const fv = [-9, -8, -1.5, 0.5, 7.9, 8, 23];
    const i8 = [-128, -9, -8, -1, 0, 7, 8, 15, 127];
    const nibbles = (v: number[]) => Uint8Array.from({ length: Math.ceil(v.length / 2) }, (_, k) => (v[2 * k] & 15) | ((v[2 * k + 1] ?? 0) & 15) << 4);
    const graph = (reference: boolean) => {
      const b = new ModelBuilder(21);
      const as = (x: string, code: number) => (reference ? b.op('Cast', [x], { to: code }) : x);
      const out = (x: string, code: number) => (reference ? b.output(b.op('Cast', [x], { to: DT.INT8 }), DT.INT8) : b.output(x, code));
      const a = as(b.input('i4', [5], reference ? DT.INT8 : CODE.int4), CODE.int4);
      const u = as(b.input('u4', [2, 3], reference ? DT.INT8 : CODE.uint4), CODE.uint4);
      const f = b.input('f', [7]);
      const c = b.input('i8', [9], DT.INT8);
      b.output(b.op('Cast', [a], { to: DT.FLOAT }));
      b.output(b.op('Cast', [u], { to: DT.INT32 }), DT.INT32);
      // ONNX's reference truncates a float toward zero on its way to int4 (ml_dtypes); ONNX Runtime rounds it to the nearest: its reference goes through int32.
      out(b.op('Cast', [reference ? b.op('Cast', [f], { to: DT.INT32 }) : f], { to: CODE.int4 }), CODE.int4);
      out(b.op('Cast', [c], { to: CODE.uint4 }), CODE.uint4);
      out(b.op('CastLike', [c, a]), CODE.int4);
      out(b.op('Cast', [a], { to: CODE.uint4 }), CODE.uint4);
      return b.build();
    };
    const want = Object.values(
      await h.ortRun(graph(true), {
        i4: new ort.Tensor('int8', Int8Array.from(i4), [5]),
        u4: new ort.Tensor('int8', Int8Array.from(u4), [2, 3]),
        f: new ort.Tensor('float32', Float32Array.from(fv), [7]),
        i8: new ort.Tensor('int8', Int8Array.from(i8), [9]),
      }),
    ).map((t) => Array.from(t.data as ArrayLike<number>, Number));
    for (const target of TARGETS) {
      const r = await h.runRaw(graph(false), [nibbles(i4), nibbles(u4), Float32Array.from(fv), Int8Array.from(i8)], target);
      assert.equal(r.status, 0, r.stderr);
      assert.deepEqual(r.metadata.outputs.map((t) => t.dtype), ['float32', 'int32', 'int4', 'uint4', 'int4', 'uint4']);
      assert.deepEqual(Array.from(new Float32Array(r.outputs[0].buffer, r.outputs[0].byteOffset, 5)), want[0], target.triple);
      assert.deepEqual(Array.from(new Int32Array(r.outputs[1].buffer, r.outputs[1].byteOffset, 6)), want[1], target.triple);
      [2, 3, 4, 5].forEach((k) => {
        const signed = r.metadata.outputs[k].dtype === 'int4';
        assert.deepEqual([...r.outputs[k]], [...nibbles(want[k])], `output ${k} on ${target.triple}`);
        assert.ok(want[k].every((v) => (signed ? v >= -8 && v <= 7 : v >= 0 && v <= 15)));
      });
    }
  });

  it('float4e2m1, int2 and uint2 at the edges and through Cast, as ONNX\'s reference gives them (rounded to even and saturated; the low two bits of the truncated value)', async () => {
    // Values and what numpy with ml_dtypes 0.6 (ONNX's reference) makes of them.
    const x = [0.48, 0.25, 1.05, -3.5, -8, 9, 1e6, 1e-7, NaN, Infinity, -Infinity, -4, 0.01, 0, -0, 0.75, 1.25, 1.75, 2.5, 3.5, 5, 7, -0.25, -0.26, 0.26, 5.0001, 4.9999];
    const f4 = [1, 0, 2, 14, 15, 7, 7, 0, 8, 7, 15, 14, 0, 0, 8, 2, 2, 4, 4, 6, 6, 7, 8, 9, 1, 7, 6];
    const f4Values = [0, 0.5, 1, 1.5, 2, 3, 4, 6, -0, -0.5, -1, -1.5, -2, -3, -4, -6];
    const y = [-5, -3, -2, -1, 0, 1, 2, 3, 4, 5, 1.5, -1.5, 2.9];
    const i2 = [-1, 1, -2, -1, 0, 1, -2, -1, 0, 1, 1, -1, -2];
    const u2 = [3, 1, 2, 3, 0, 1, 2, 3, 0, 1, 1, 3, 2];
    const pack = (v: number[], bits: number) => {
      const out = new Uint8Array(Math.ceil((v.length * bits) / 8));
      v.forEach((e, i) => (out[Math.floor((i * bits) / 8)] |= (e & ((1 << bits) - 1)) << ((i * bits) % 8)));
      return out;
    };
    for (const constant of [false, true]) {
      const b = new ModelBuilder(23);
      const xs = constant ? b.op('Constant', [], { value: { tensor: { dims: [x.length], dataType: DT.FLOAT, rawData: new Uint8Array(Float32Array.from(x).buffer) } } }) : b.input('x', [x.length]);
      const ys = constant ? b.op('Constant', [], { value: { tensor: { dims: [y.length], dataType: DT.FLOAT, rawData: new Uint8Array(Float32Array.from(y).buffer) } } }) : b.input('y', [y.length]);
      b.output(b.op('Cast', [xs], { to: CODE.float4e2m1 }), CODE.float4e2m1);
      b.output(b.op('Cast', [ys], { to: CODE.int2 }), CODE.int2);
      b.output(b.op('CastLike', [ys, b.op('Constant', [], { value: { tensor: { dims: [1], dataType: CODE.uint2, rawData: Uint8Array.of(1) } } })]), CODE.uint2);
      const codes = b.input('codes', [16], CODE.float4e2m1);
      b.output(b.op('Cast', [codes], { to: DT.FLOAT }));
      b.output(b.op('Cast', [b.input('i2', [13], CODE.int2)], { to: DT.INT32 }), DT.INT32);
      b.output(b.op('Cast', [b.input('u2', [13], CODE.uint2)], { to: DT.INT8 }), DT.INT8);
      const inputs = [...(constant ? [] : [Float32Array.from(x), Float32Array.from(y)]), pack(Array.from({ length: 16 }, (_, i) => i), 4), pack(i2, 2), pack(u2, 2)];
      for (const target of constant ? [X86] : TARGETS) {
        const r = await h.runRaw(b.build(), inputs, target);
        assert.equal(r.status, 0, r.stderr);
        const where = `${constant ? 'folded' : 'at run time'} on ${target.triple}`;
        assert.deepEqual([...r.outputs[0]], [...pack(f4, 4)], `float4e2m1 ${where}`);
        assert.deepEqual([...r.outputs[1]], [...pack(i2, 2)], `int2 ${where}`);
        assert.deepEqual([...r.outputs[2]], [...pack(u2, 2)], `uint2 ${where}`);
        assert.deepEqual(Array.from(new Float32Array(r.outputs[3].buffer, r.outputs[3].byteOffset, 16)), f4Values, `float4e2m1 read ${where}`);
        assert.deepEqual(Array.from(new Int32Array(r.outputs[4].buffer, r.outputs[4].byteOffset, 13)), i2, `int2 read ${where}`);
        assert.deepEqual(Array.from(new Int8Array(r.outputs[5].buffer, r.outputs[5].byteOffset, 13)), u2, `uint2 read ${where}`);
        assert.match(r.header, /int2 \(four to a uint8_t, the first in its low two bits\) \[13\]/);
      }
    }
  });

  it('other operators refuse them by name, and model jobs refuse them at the edges', () => {
    const b = new ModelBuilder(21);
    const x = b.input('x', [4], CODE.int4);
    b.output(b.op('Add', [x, x]), CODE.int4);
    assert.throws(() => compileModel(b.build()), /Add Add_\d+: int4 tensors are supported by Cast and CastLike only/);
    const q = new ModelBuilder(21);
    q.output(q.op('DequantizeLinear', [q.input('x', [4], CODE.float8e4m3fn), q.weight('s', [], [1])]));
    assert.throws(() => compileModel(q.build()), /DequantizeLinear DequantizeLinear_\d+: float8e4m3fn tensors are supported by Cast and CastLike only/);
    const c = new ModelBuilder(21);
    c.output(c.op('Cast', [c.input('x', [4])], { to: CODE.float8e5m2 }), CODE.float8e5m2);
    const { metadata } = compileModel(c.build());
    assert.match(modelJobProblem(metadata) ?? '', /float8, float4, int4, uint4, int2 and uint2 inputs and outputs \(cast_0 \(float8e5m2\)\) are compiled by the compiler library and CLI/);
  });
});
