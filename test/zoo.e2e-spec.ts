import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { hostLevels, ZOO, zooModel } from '../scripts/zoo';

/**
 * A subset of the model zoo (npm run zoo runs it whole): real networks exported from PyTorch,
 * each one a class of defect or of operator that hand-built blocks did not have, compiled at
 * every ISA level this CPU runs (and one on aarch64 under qemu) and compared with ONNX Runtime.
 * The Python environment and the exports are made by scripts/zoo/setup.sh and cached.
 */
const SUBSET: { name: string; why: string; aarch64?: boolean }[] = [
  { name: 'squeezenet1_1', why: 'Concat of parallel branches', aarch64: true },
  { name: 'regnet_x_400mf', why: 'a projection summed into a later convolution' },
  { name: 'shufflenet_v2_x1_0', why: 'inverted residuals of widths that are not a multiple of 16 (AVX-512)' },
  { name: 'bert_4l_256', why: 'token ids gathered at run time, shapes folded through Where' },
  { name: 'swin_t', why: 'ScatterND, window padding folded through a backwards Slice' },
];

describe('model zoo (subset): real exported networks match ONNX Runtime', () => {
  before(() => {
    const r = spawnSync('bash', [join(__dirname, '..', '..', 'scripts', 'zoo', 'setup.sh'), '--set', 'all', '--only', SUBSET.map((m) => m.name).join(',')], { stdio: 'inherit', timeout: 30 * 60_000 });
    assert.equal(r.status, 0, `scripts/zoo/setup.sh failed (its output is above); the zoo lives in ${ZOO}`);
  });

  for (const m of SUBSET) {
    it(`${m.name} (${m.why})`, async () => {
      const row = await zooModel(m.name, 'test', hostLevels(), m.aarch64 ?? false);
      assert.equal(row.status, 'pass', `${m.name}: ${row.status}: ${row.detail ?? ''}`);
      assert.ok((row.referenceMax ?? 0) > 1e-2, `${m.name}: the reference's outputs are all near zero (${row.referenceMax}), so the check proves nothing`);
    });
  }
});
