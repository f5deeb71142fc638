import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { hostLevels, ZOO, zooModel } from '../scripts/zoo';
import { Kiln, startKiln, waitForJob } from './support/harness';

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

/** Through the API: a job on every CPU target, verified on each target's runner. */
const THROUGH_API = 'mobilenet_v3_small';

describe('model zoo (subset): real exported networks match ONNX Runtime', () => {
  before(() => {
    const r = spawnSync('bash', [join(__dirname, '..', '..', 'scripts', 'zoo', 'setup.sh'), '--set', 'all', '--only', [...SUBSET.map((m) => m.name), THROUGH_API].join(',')], { stdio: 'inherit', timeout: 30 * 60_000 });
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

describe(`model zoo through the API: ${THROUGH_API} on all five CPU targets`, () => {
  let kiln: Kiln;
  before(async () => {
    kiln = await startKiln({ storage: 'fs' });
  });
  after(async () => {
    await kiln?.close();
  });

  it('compiles the exported network for x86_64, aarch64, riscv64, armv7 and wasm32 and each build proves itself against ONNX Runtime on its runner', async () => {
    const bytes = readFileSync(join(ZOO, 'models', `${THROUGH_API}.onnx`));
    const up = await kiln.http().post(`/v1/uploads?filename=${THROUGH_API}.onnx`).set(kiln.auth).set('Content-Type', 'application/octet-stream').send(bytes);
    assert.equal(up.status, 201, JSON.stringify(up.body));
    const targets = ['x86_64-linux-gnu', 'aarch64-linux-gnu', 'riscv64-linux-gnu', 'armv7-linux-gnueabihf', 'wasm32-wasi'];
    const res = await kiln.http().post('/v1/jobs').set(kiln.auth).send({ model: { uploadId: up.body.id }, targets, verify: true });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    const job = await waitForJob(kiln, res.body.id, 20 * 60_000);
    const builds = job.builds as unknown as { target: { name: string }; status: string; statusReason?: string; verification?: { status: string; summary: string } }[];
    for (const b of builds) {
      assert.equal(b.verification?.status, 'passed', `${b.target.name}: ${b.status} ${b.statusReason ?? ''} ${b.verification?.summary ?? ''}`);
    }
    assert.equal(job.status, 'succeeded');
    assert.deepEqual(builds.map((b) => b.target.name).sort(), [...targets].sort());
  });
});
