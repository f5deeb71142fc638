import 'reflect-metadata';
import { ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startKiln } from '../test/support/harness';
import { freePort } from '../test/support/servers';
import { busyMs, cpuOfCommMs, processCpuMs, quantile, waitForTarget } from './bench-support';

/**
 * Load on loopback: the API and a worker run as their own processes, as deployed; C concurrent
 * clients each submit a fresh C build and follow it to the end, for D seconds. The translation
 * unit holds F functions (F=1: a tiny file, where Kiln's fixed cost per build shows most;
 * F=200: a file of a few hundred lines, closer to real work). Printed: requests
 * per second held, API latency p50/p99, 5xx count, builds per second next to the raw compiler's
 * throughput with the same parallelism (measured in the same run, before and after Kiln's
 * part, so that a machine whose speed drifts does not favour either), where the CPU went
 * while Kiln was loaded, and the end-to-end latency of a cached build (POST, which answers
 * from the cache, then GET).
 *
 *   npm run load -- [clients=8] [seconds=20] [parallelism=2] [functions=1]
 */
const CLIENTS = Number(process.argv[2] ?? 8);
const SECONDS = Number(process.argv[3] ?? 20);
const PARALLEL = Number(process.argv[4] ?? 2);
const FUNCTIONS = Number(process.argv[5] ?? 1);
const run = promisify(execFile);

const source = (i: number) =>
  `#include <stddef.h>\n` +
  Array.from(
    { length: FUNCTIONS },
    (_, f) => `void saxpy_${i < 0 ? `ref${-i}` : i}_${f}(size_t n, float a, const float *x, float *y) {
  for (size_t k = 0; k < n; k++) y[k] = a * x[k] + y[k] * ${f + 1}.0f;
}
`,
  ).join('');



/**
 * The raw compiler's throughput: PARALLEL loops of clang-19 -c started for the given time,
 * counted over the time until the last one finished (as Kiln's builds are counted), and the
 * machine's busy CPU time per compile meanwhile.
 */
async function rawThroughput(dir: string, seconds: number): Promise<{ rate: number; cpuMs: number }> {
  let n = 0;
  const end = Date.now() + seconds * 1000;
  const t0 = performance.now();
  const busy0 = busyMs();
  await Promise.all(
    Array.from({ length: PARALLEL }, async (_, w) => {
      for (let i = 0; Date.now() < end; i++) {
        const file = join(dir, `raw-${w}-${i}.c`);
        await writeFile(file, source(i));
        await run('/usr/bin/clang-19', ['--target=x86_64-linux-gnu', '-O2', '-fno-color-diagnostics', '-c', file, '-o', `${file}.o`]);
        n++;
      }
    }),
  );
  return { rate: n / ((performance.now() - t0) / 1000), cpuMs: (busyMs() - busy0) / n };
}

async function main(): Promise<void> {
  const kiln = await startKiln({ storage: 'fs', worker: false });
  const port = await freePort();
  // As deployed: the test harness's short heartbeat and its switched-off limits are put back
  // to the defaults, except the tenant's rate limit, which is raised (not switched off, so its
  // Redis step still runs on every request) for the clients to be able to load Kiln at all.
  const { KILN_HEARTBEAT_SECONDS: _h, KILN_AUTH_FAILURES_PER_MINUTE: _a, ...harnessEnv } = kiln.env;
  const env = { ...process.env, ...harnessEnv, KILN_LOG_LEVEL: 'warn', KILN_RATE_LIMIT_PER_MINUTE: '10000000' };
  const [api, worker]: ChildProcess[] = [
    spawn(process.execPath, [join(__dirname, '../src/main.js')], { env: { ...env, KILN_PORT: String(port) }, stdio: ['ignore', 'inherit', 'inherit'] }),
    spawn(process.execPath, [join(__dirname, '../workers/main.js')], { env: { ...env, KILN_POOLS: 'cpu', KILN_WORKER_CONCURRENCY: String(PARALLEL) }, stdio: ['ignore', 'inherit', 'inherit'] }),
  ];
  const children = [api, worker];
  const base = `http://127.0.0.1:${port}`;
  const headers = { Authorization: `Bearer ${kiln.apiKey}`, 'Content-Type': 'application/json' };
  const dir = await mkdtemp(join(tmpdir(), 'kiln-load-'));
  const latencies: number[] = [];
  let requests = 0;
  let errors5xx = 0;
  const call = async (method: string, path: string, body?: object) => {
    const t = performance.now();
    const res = await fetch(base + path, { method, headers, body: body ? JSON.stringify(body) : undefined });
    const json = (await res.json()) as { id: string; status: string };
    latencies.push(performance.now() - t);
    requests++;
    if (res.status >= 500) errors5xx++;
    return { status: res.status, body: json };
  };
  try {
    // Up when the worker announces the target.
    await waitForTarget(base, headers);
    // Half the time before Kiln's part, half after; at least 10 s each for a steady figure.
    const rawSeconds = Math.max(10, SECONDS / 2);
    const rawBefore = await rawThroughput(dir, rawSeconds);

    /** Reads the job's server-sent events until its `end` event. */
    // (A stream lasts as long as its build: it is not counted in the API's latency.)
    const follow = async (id: string) => {
      const res = await fetch(`${base}/v1/jobs/${id}/events`, { headers: { ...headers, Accept: 'text/event-stream' } });
      requests++;
      if (res.status >= 500) errors5xx++;
      const reader = res.body!.getReader();
      let text = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        text += Buffer.from(value).toString('utf8');
        if (/(^|\n)event: end\n/.test(text)) {
          await reader.cancel();
          break;
        }
      }
    };

    let built = 0;
    let seq = 0;
    const end = Date.now() + SECONDS * 1000;
    const t0 = performance.now();
    const cpu0 = { busy: busyMs(), api: processCpuMs(api.pid!), worker: processCpuMs(worker.pid!), postgres: cpuOfCommMs('postgres'), redis: cpuOfCommMs('redis-server'), clients: processCpuMs(process.pid) };
    await Promise.all(
      Array.from({ length: CLIENTS }, async () => {
        while (Date.now() < end) {
          const i = seq++;
          const created = await call('POST', '/v1/jobs', { source: { language: 'c', files: [{ path: 'saxpy.c', content: source(i) }], options: ['-O2'] }, targets: ['x86_64-linux-gnu'] });
          if (created.status !== 202) continue;
          // Followed as an efficient client does: the job's event stream, then one GET.
          await follow(created.body.id);
          const job = await call('GET', `/v1/jobs/${created.body.id}`);
          if (job.body.status === 'succeeded') built++;
        }
      }),
    );
    const elapsed = (performance.now() - t0) / 1000;
    const cpu1 = { busy: busyMs(), api: processCpuMs(api.pid!), worker: processCpuMs(worker.pid!), postgres: cpuOfCommMs('postgres'), redis: cpuOfCommMs('redis-server'), clients: processCpuMs(process.pid) };
    const rawAfter = await rawThroughput(dir, rawSeconds);
    const raw = (rawBefore.rate + rawAfter.rate) / 2;
    const rawCpu = (rawBefore.cpuMs + rawAfter.cpuMs) / 2;

    // Cached builds: the same request again is answered from the cache.
    const cachedBody = { source: { language: 'c', files: [{ path: 'saxpy.c', content: source(-1) }], options: ['-O2'] }, targets: ['x86_64-linux-gnu'] };
    const first = await call('POST', '/v1/jobs', cachedBody);
    while (!['succeeded', 'failed'].includes((await call('GET', `/v1/jobs/${first.body.id}`)).body.status)) await new Promise((r) => setTimeout(r, 50));
    const cached: number[] = [];
    for (let i = 0; i < 50; i++) {
      const t = performance.now();
      const r = await call('POST', '/v1/jobs', cachedBody);
      let status = r.body.status;
      while (!['succeeded', 'failed'].includes(status)) status = (await call('GET', `/v1/jobs/${r.body.id}`)).body.status;
      await call('GET', `/v1/jobs/${r.body.id}`);
      cached.push(performance.now() - t);
    }

    const rate = built / elapsed;
    // Where the CPU went while Kiln was loaded, per build. What no Kiln process, PostgreSQL,
    // Redis or the clients account for is the sandboxed toolchain runs (bubblewrap, prlimit,
    // clang), plus kernel work charged to no process (loopback networking in softirqs, kernel
    // threads) and whatever else the machine ran.
    const per = (k: keyof typeof cpu0) => (cpu1[k] - cpu0[k]) / Math.max(1, built);
    const parts = { api: per('api'), worker: per('worker'), postgres: per('postgres'), redis: per('redis'), clients: per('clients') };
    const toolchain = per('busy') - Object.values(parts).reduce((a, b) => a + b, 0);
    const share = (ms: number) => `${((100 * ms) / per('busy')).toFixed(0)}%`;
    console.log(`Kiln under load: ${CLIENTS} clients for ${SECONDS} s on loopback, worker parallelism ${PARALLEL}, x86_64 C objects of ${FUNCTIONS} function(s)`);
    console.log(`  requests                ${requests} (${(requests / elapsed).toFixed(0)} per second held)`);
    console.log(`  API latency             p50 ${quantile(latencies, 0.5).toFixed(1)} ms   p99 ${quantile(latencies, 0.99).toFixed(1)} ms`);
    console.log(`  5xx responses           ${errors5xx}   goal: 0`);
    console.log(`  builds per second       ${rate.toFixed(2)} through Kiln   vs ${raw.toFixed(2)} raw clang-19 -c with ${PARALLEL} in parallel (${rawBefore.rate.toFixed(2)} before, ${rawAfter.rate.toFixed(2)} after)`);
    console.log(`  throughput ratio        ${(rate / raw).toFixed(2)}   goal: at least 0.90`);
    console.log(`  CPU per build           ${per('busy').toFixed(1)} ms, all processes (raw: ${rawCpu.toFixed(1)} ms per compile, its loop included)`);
    console.log(`    toolchain and rest    ${toolchain.toFixed(1)} ms (${share(toolchain)}; bubblewrap, prlimit and clang, and kernel work charged to no process)`);
    console.log(`    worker                ${parts.worker.toFixed(1)} ms (${share(parts.worker)})`);
    console.log(`    API                   ${parts.api.toFixed(1)} ms (${share(parts.api)})`);
    console.log(`    PostgreSQL            ${parts.postgres.toFixed(1)} ms (${share(parts.postgres)})`);
    console.log(`    Redis                 ${parts.redis.toFixed(1)} ms (${share(parts.redis)})`);
    console.log(`    load clients          ${parts.clients.toFixed(1)} ms (${share(parts.clients)}; this process, which shares the cores with Kiln as a real client would not)`);
    console.log(`  cached build end to end median ${quantile(cached, 0.5).toFixed(1)} ms   p99 ${quantile(cached, 0.99).toFixed(1)} ms (POST + GET)   goal: median under 15 ms`);
  } finally {
    for (const c of children) c.kill('SIGTERM');
    await Promise.all(children.map((c) => new Promise((r) => (c.exitCode !== null ? r(null) : c.once('exit', r)))));
    await rm(dir, { recursive: true, force: true });
    await kiln.close();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
