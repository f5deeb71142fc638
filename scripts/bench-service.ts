import 'reflect-metadata';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import { Kiln, startKiln, waitForJob } from '../test/support/harness';

/**
 * Service overhead: submits N small C jobs for one target, one at a time, and compares the time
 * each build took end to end (created -> finished, from the database's timestamps) with the
 * raw compiler doing the same compile directly, measured in the same run.
 *
 *   npm run bench:service -- [N] [target]
 */
const N = Number(process.argv[2] ?? 40);
const TARGET = process.argv[3] ?? 'x86_64-linux-gnu';
const SOURCE = `#include <stddef.h>
void saxpy(size_t n, float a, const float *x, float *y) {
  for (size_t i = 0; i < n; i++) y[i] = a * x[i] + y[i];
}
`;

function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  const i = Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1));
  return s[i];
}
const fmt = (ms: number) => `${ms.toFixed(1)} ms`;

async function waitForWorker(kiln: Kiln): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    const res = await kiln.http().get('/v1/targets').set(kiln.auth);
    if (res.body.targets?.some((t: { name: string; available: boolean }) => t.name === TARGET && t.available)) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error('the worker did not come up within 60 s');
}

async function main(): Promise<void> {
  // The API runs here; the worker is its own process, as it is when deployed.
  const kiln = await startKiln({ storage: 'fs', worker: false });
  const worker = spawn(process.execPath, [join(__dirname, '../workers/main.js')], {
    env: { ...process.env, ...kiln.env, KILN_LOG_LEVEL: 'warn', KILN_WORKER_CONCURRENCY: '1' },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const dir = await mkdtemp(join(tmpdir(), 'kiln-bench-'));
  try {
    await waitForWorker(kiln);
    const db = kiln.api.get(DataSource);
    const triple = TARGET === 'wasm32-wasi' ? 'wasm32-wasi' : TARGET;
    await writeFile(join(dir, 'saxpy.c'), SOURCE);
    const rawCompile = () => {
      const t = performance.now();
      execFileSync('/usr/bin/clang-19', [`--target=${triple}`, '-O2', '-fno-color-diagnostics', '-c', join(dir, 'saxpy.c'), '-o', join(dir, 'saxpy.o')]);
      return performance.now() - t;
    };
    const submit = async (i: number) => {
      const res = await kiln
        .http()
        .post('/v1/jobs')
        .set(kiln.auth)
        .send({ source: { language: 'c', files: [{ path: 'saxpy.c', content: SOURCE + `// run ${i}\n` }], options: ['-O2'] }, targets: [TARGET], outputs: ['object'] });
      if (res.status !== 202) throw new Error(`POST /v1/jobs: ${res.status} ${JSON.stringify(res.body)}`);
      const job = await waitForJob(kiln, res.body.id);
      if (job.status !== 'succeeded') throw new Error(`job ${job.id} ${job.status}: ${job.builds[0].statusReason}`);
      const [row] = await db.query(
        `SELECT extract(epoch FROM (b.finished_at - j.created_at)) * 1000 AS total_ms, b.toolchain_ms,
                extract(epoch FROM (b.started_at - j.created_at)) * 1000 AS queued_ms
           FROM jobs j JOIN builds b ON b.job_id = j.id WHERE j.id = $1`,
        [job.id],
      );
      return { total: Number(row.total_ms), toolchain: Number(row.toolchain_ms), queued: Number(row.queued_ms) };
    };

    for (let i = 0; i < 3; i++) {
      rawCompile();
      await submit(-i - 1);
    }
    const raw: number[] = [];
    const totals: number[] = [];
    const sandboxed: number[] = [];
    const queued: number[] = [];
    // Interleaved, so both see the same machine state.
    for (let i = 0; i < N; i++) {
      raw.push(rawCompile());
      const r = await submit(i);
      totals.push(r.total);
      sandboxed.push(r.toolchain);
      queued.push(r.queued);
    }
    const rawMedian = quantile(raw, 0.5);
    const overhead = totals.map((t) => t - rawMedian);
    const overheadVsSandboxed = totals.map((t, i) => t - sandboxed[i]);
    console.log(`Kiln service overhead: ${N} jobs, one ${TARGET} object each, submitted one at a time`);
    console.log(`  raw clang-19 -c (direct)            median ${fmt(rawMedian)}   p95 ${fmt(quantile(raw, 0.95))}`);
    console.log(`  job created -> build finished       median ${fmt(quantile(totals, 0.5))}   p95 ${fmt(quantile(totals, 0.95))}`);
    console.log(`  job created -> worker started it     median ${fmt(quantile(queued, 0.5))}   p95 ${fmt(quantile(queued, 0.95))}`);
    console.log(`  compiler inside the sandbox         median ${fmt(quantile(sandboxed, 0.5))}   p95 ${fmt(quantile(sandboxed, 0.95))}`);
    console.log(`  overhead (end to end - raw clang)   median ${fmt(quantile(overhead, 0.5))}   p95 ${fmt(quantile(overhead, 0.95))}   goal: median < 50 ms`);
    console.log(`  of which outside the sandbox        median ${fmt(quantile(overheadVsSandboxed, 0.5))}   p95 ${fmt(quantile(overheadVsSandboxed, 0.95))}`);
    console.log(`  ratio end to end / raw clang        ${(quantile(totals, 0.5) / rawMedian).toFixed(2)}x`);
  } finally {
    worker.kill('SIGTERM');
    await new Promise((r) => worker.once('exit', r));
    await rm(dir, { recursive: true, force: true });
    await kiln.close();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
