import 'reflect-metadata';
import { execFileSync, spawn } from 'node:child_process';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import { TARGETS } from '../src/targets/catalog';
import { BUNDLE_FILES } from '../src/verification/bundle';
import { download, Kiln, startKiln, waitForJob } from '../test/support/harness';
import { runnerFor } from '../workers/verify/runners';

/**
 * Verification overhead per runner: for each target, the time from "compiled" to "verified"
 * (hand-over, fetching the bundle, the sandboxed run, the comparison, the report) and the time
 * the harness and reference builds add to the compile, next to the bare run of the same
 * program with the same runner and no Kiln around it, measured in the same run.
 *
 *   npm run bench:verify -- [runs per target] [n]
 */
const RUNS = Number(process.argv[2] ?? 5);
const N = Number(process.argv[3] ?? 200_000);
const SOURCE = 'void saxpy(int n, float a, const float *x, float *y) { for (int i = 0; i < n; i++) y[i] = a * x[i] + y[i]; }\n';
const ARGS = [
  { name: 'n', type: 'int32', value: N },
  { name: 'a', type: 'float32', value: 2.5 },
  { name: 'x', type: 'float32*', shape: [N] },
  { name: 'y', type: 'float32*', shape: [N], dir: 'inout' },
];

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const ms = (x: number) => `${x.toFixed(0).padStart(6)} ms`;

async function main(): Promise<void> {
  const kiln = await startKiln({ storage: 'fs', worker: false });
  const worker = spawn(process.execPath, [join(__dirname, '../workers/main.js')], {
    env: { ...process.env, ...kiln.env, KILN_LOG_LEVEL: 'warn', KILN_WORKER_CONCURRENCY: '1' },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const scratch = await mkdtemp(join(tmpdir(), 'kiln-bench-verify-'));
  try {
    await waitForWorkers(kiln);
    const db = kiln.api.get(DataSource);
    console.log(`Verification overhead: SAXPY on ${N} floats, ${RUNS} runs per target, one build at a time`);
    console.log('target                   runner              bare run   verify step   overhead  bundle build (harness + reference)');
    for (const spec of TARGETS) {
      const verifyMs: number[] = [];
      const bundleMs: number[] = [];
      let bundleIds: { id: string; name: string }[] = [];
      for (let i = 0; i < RUNS; i++) {
        const base = { source: { language: 'c', files: [{ path: 'saxpy.c', content: `${SOURCE}/* ${i} */\n` }], options: ['-O2'] }, targets: [spec.name] };
        const plain = await submit(kiln, base);
        const checked = await submit(kiln, { ...base, verify: { entry: 'saxpy', args: ARGS, seed: i } });
        const [row] = await db.query(
          `SELECT extract(epoch FROM (b.verified_at - b.compiled_at)) * 1000 AS verify_ms,
                  extract(epoch FROM (b.compiled_at - b.started_at)) * 1000 AS compile_ms,
                  (SELECT extract(epoch FROM (p.compiled_at - p.started_at)) * 1000 FROM builds p WHERE p.job_id = $2) AS plain_ms
             FROM builds b WHERE b.job_id = $1`,
          [checked.id, plain.id],
        );
        verifyMs.push(Number(row.verify_ms));
        bundleMs.push(Number(row.compile_ms) - Number(row.plain_ms));
        bundleIds = checked.builds[0].artifacts.filter((a) => a.kind === 'bundle').map((a) => ({ id: a.id, name: a.name.replace('verify/', '') }));
      }
      // The same program with the same runner, straight from a shell: no sandbox, no Kiln.
      const dir = join(scratch, spec.name);
      await mkdir(dir, { recursive: true });
      for (const f of bundleIds) await writeFile(join(dir, f.name), await download(kiln, f.id));
      const runner = runnerFor(spec.arch)!;
      for (const [name, text] of Object.entries(runner.files)) await writeFile(join(dir, name), text);
      const program = spec.family === 'wasm' ? 'program.wasm' : 'program';
      await chmod(join(dir, program), 0o755);
      const bare: number[] = [];
      for (let i = 0; i < RUNS; i++) {
        const [cmd, ...args] = runner.argv(`./${program}`, [BUNDLE_FILES.inputs, BUNDLE_FILES.outputs]);
        const t = performance.now();
        execFileSync(cmd, args, { cwd: dir });
        bare.push(performance.now() - t);
      }
      const b = median(bare);
      const v = median(verifyMs);
      console.log(`${spec.name.padEnd(24)} ${runner.name.padEnd(18)} ${ms(b)}   ${ms(v)}   ${ms(v - b)} (${(v / b).toFixed(2)}x)   ${ms(median(bundleMs))}`);
    }
  } finally {
    worker.kill('SIGTERM');
    await new Promise((r) => worker.once('exit', r));
    await rm(scratch, { recursive: true, force: true });
    await kiln.close();
  }
}

async function submit(kiln: Kiln, body: object) {
  const res = await kiln.http().post('/v1/jobs').set(kiln.auth).send(body);
  if (res.status !== 202) throw new Error(`POST /v1/jobs: ${res.status} ${JSON.stringify(res.body)}`);
  const job = await waitForJob(kiln, res.body.id, 300_000);
  if (job.status !== 'succeeded') throw new Error(`job ${job.id} ${job.status}: ${job.builds[0].statusReason}`);
  return job;
}

async function waitForWorkers(kiln: Kiln): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    const res = await kiln.http().get('/v1/targets').set(kiln.auth);
    if (res.body.targets?.every((t: { available: boolean; verifiable: boolean }) => t.available && t.verifiable)) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error('the worker did not come up within 60 s');
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
