import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import * as ort from 'onnxruntime-node';
import { onnx } from 'onnx-proto';
import { ModelBuilder } from '../test/builder';
import { floats, OrtHarness, X86 } from '../test/ort-harness';

/*
 * DepthToSpace (DCR and CRD) and SpaceToDepth: compiled, built with clang, run and compared with
 * ONNX Runtime on awkward sizes; SpaceToDepth's CRD mode (newer than ONNX Runtime knows) is
 * checked as the inverse of DepthToSpace's, and against the element order the definition gives.
 */

const DT = onnx.TensorProto.DataType;

describe('DepthToSpace and SpaceToDepth', () => {
  const h = new OrtHarness();
  before(() => h.open());
  after(() => h.close());

  it('DepthToSpace: DCR and CRD, block sizes 1, 2 and 3, odd heights and widths', async () => {
    const f = floats(51);
    for (const [shape, blocksize] of [[[1, 4, 3, 5], 2], [[2, 18, 1, 3], 3], [[1, 3, 5, 17], 1], [[1, 8, 5, 1], 2]] as const) {
      for (const mode of ['DCR', 'CRD']) {
        const b = new ModelBuilder(13);
        b.output(b.op('DepthToSpace', [b.input('x', [...shape])], { blocksize, mode }));
        await h.assertSameAsOrt(b.build('d2s'), { x: f([...shape]) }, [X86]);
      }
    }
  });

  it('SpaceToDepth: block sizes 1, 2 and 3, int64 elements, and the inverse of DepthToSpace in both modes', async () => {
    const f = floats(52);
    for (const [shape, blocksize] of [[[1, 3, 6, 10], 2], [[2, 1, 3, 15], 3], [[1, 3, 5, 17], 1]] as const) {
      const b = new ModelBuilder(13);
      b.output(b.op('SpaceToDepth', [b.input('x', [...shape])], { blocksize }));
      await h.assertSameAsOrt(b.build('s2d'), { x: f([...shape]) }, [X86]);
    }
    // int64 elements (which ONNX Runtime's SpaceToDepth does not take): the round trip gives them back.
    const b = new ModelBuilder(13);
    b.output(b.op('DepthToSpace', [b.op('SpaceToDepth', [b.input('x', [1, 2, 4, 6], DT.INT64)], { blocksize: 2 })], { blocksize: 2 }), DT.INT64);
    const x = new ort.Tensor('int64', BigInt64Array.from({ length: 48 }, (_, i) => BigInt(i * 1000003) << 20n), [1, 2, 4, 6]);
    const bytes = b.build('s2d_int');
    await h.assertSame(bytes, { x }, { [h.outputName(bytes)]: x }, [X86]);
    for (const mode of ['DCR', 'CRD']) {
      const m = new ModelBuilder(25);
      const s = m.op('SpaceToDepth', [m.input('x', [2, 3, 6, 9])], { blocksize: 3, mode });
      m.output(s);
      m.output(m.op('DepthToSpace', [s], { blocksize: 3, mode }));
      const xv = f([2, 3, 6, 9]);
      const d = xv.data as Float32Array;
      // The definition: y[n, c', h, w] with c' = (bh * 3 + bw) * C + c (DCR) or c * 9 + bh * 3 + bw (CRD).
      const want = new Float32Array(d.length);
      for (let n = 0; n < 2; n++) for (let c = 0; c < 3; c++) for (let hh = 0; hh < 6; hh++) for (let w = 0; w < 9; w++) {
        const [bh, bw] = [hh % 3, w % 3];
        const co = mode === 'DCR' ? (bh * 3 + bw) * 3 + c : c * 9 + bh * 3 + bw;
        want[((n * 27 + co) * 2 + Math.floor(hh / 3)) * 3 + Math.floor(w / 3)] = d[((n * 3 + c) * 6 + hh) * 9 + w];
      }
      const bytes = m.build('s2d_mode');
      const r = await h.assertSame(bytes, { x: xv }, { [h.outputName(bytes, 0)]: { dims: [2, 27, 2, 3], data: want }, [h.outputName(bytes, 1)]: { dims: [2, 3, 6, 9], data: d } }, [X86]);
      assert.equal(r.metadata.outputs.length, 2);
    }
  });
});
