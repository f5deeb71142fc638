import 'reflect-metadata';
import { ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { startKiln } from '../test/support/harness';
import { freePort } from '../test/support/servers';
import { cpuOfCommMs, processCpuMs, quantile, waitForTarget } from './bench-support';

/**
 * The end-to-end latency of a cached build, alone: the API and a worker run as their own
 * processes, configured as scripts/load.ts configures them (the defaults, with the tenant's
 * rate limit raised but on); one build of load.ts's cached file (F functions) is made and
 * waited for, then the same request is sent
 * again N times in sequence (after 20 not timed), each POST (answered from the cache) followed
 * by one GET of the job. Printed: median and p99 of the pair, and of the POST and the GET alone,
 * and the CPU time per pair of the API process, PostgreSQL, Redis and this client. Light enough
 * to run while other work goes on (one client, one request at a time; well under a minute).
 *
 * With B builds of other inputs made first (4 clients at a time), the database holds about as
 * much as after scripts/load.ts's loaded part when the cached builds are timed.
 *
 *   npm run bench:cached -- [pairs=100] [builds-before=0] [functions=200]
 *
 * BENCH_API_NODE_ARGS passes node options to the API process (--cpu-prof, say).
 */
const PAIRS = Number(process.argv[2] ?? 100);
const BEFORE = Number(process.argv[3] ?? 0);
const FUNCTIONS = Number(process.argv[4] ?? 200);

/** The file scripts/load.ts times its cached builds with (its `functions` argument: 200 in the README's runs). */
const cachedSource = () =>
  `#include <stddef.h>\n` +
  Array.from(
    { length: FUNCTIONS },
    (_, f) => `void saxpy_ref1_${f}(size_t n, float a, const float *x, float *y) {
  for (size_t k = 0; k < n; k++) y[k] = a * x[k] + y[k] * ${f + 1}.0f;
}
`,
  ).join('');



async function main(): Promise<void> {
  const kiln = await startKiln({ storage: 'fs', worker: false });
  const port = await freePort();
  const { KILN_HEARTBEAT_SECONDS: _h, KILN_AUTH_FAILURES_PER_MINUTE: _a, ...harnessEnv } = kiln.env;
  const env = { ...process.env, ...harnessEnv, KILN_LOG_LEVEL: 'warn', KILN_RATE_LIMIT_PER_MINUTE: '10000000' };
  const children: ChildProcess[] = [
    spawn(process.execPath, [...(process.env.BENCH_API_NODE_ARGS?.split(' ').filter(Boolean) ?? []), join(__dirname, '../src/main.js')], { env: { ...env, KILN_PORT: String(port) }, stdio: ['ignore', 'inherit', 'inherit'] }),
    spawn(process.execPath, [join(__dirname, '../workers/main.js')], { env: { ...env, KILN_POOLS: 'cpu', KILN_WORKER_CONCURRENCY: '1' }, stdio: ['ignore', 'inherit', 'inherit'] }),
  ];
  const base = `http://127.0.0.1:${port}`;
  const headers = { Authorization: `Bearer ${kiln.apiKey}`, 'Content-Type': 'application/json' };
  const call = async (method: string, path: string, body?: object) => {
    const res = await fetch(base + path, { method, headers, body: body ? JSON.stringify(body) : undefined });
    return { status: res.status, body: (await res.json()) as { id: string; status: string; builds?: { cache?: { status: string } | null }[] } };
  };
  try {
    await waitForTarget(base, headers);
    // As after scripts/load.ts's loaded part: builds of other inputs made first, 4 at a time.
    const fillBody = (i: number) => ({ source: { language: 'c', files: [{ path: 'fill.c', content: `int fill_${i}(int x) { return x + ${i}; }\n` }], options: ['-O2'] }, targets: ['x86_64-linux-gnu'] });
    let next = 0;
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        for (let i = next++; i < BEFORE; i = next++) {
          const r = await call('POST', '/v1/jobs', fillBody(i));
          for (let s = r.body.status; !['succeeded', 'failed'].includes(s); s = (await call('GET', `/v1/jobs/${r.body.id}`)).body.status) await new Promise((r) => setTimeout(r, 100));
        }
      }),
    );
    const body = {
      source: { language: 'c', files: [{ path: 'saxpy.c', content: cachedSource() }], options: ['-O2'] },
      targets: ['x86_64-linux-gnu'],
    };
    const first = await call('POST', '/v1/jobs', body);
    if (first.status !== 202) throw new Error(`POST /v1/jobs: ${first.status} ${JSON.stringify(first.body)}`);
    for (let s = first.body.status; !['succeeded', 'failed'].includes(s); s = (await call('GET', `/v1/jobs/${first.body.id}`)).body.status) await new Promise((r) => setTimeout(r, 50));
    // Warm-up: connections, prepared statements, JIT.
    for (let i = 0; i < 20; i++) await call('GET', `/v1/jobs/${(await call('POST', '/v1/jobs', body)).body.id}`);
    const pair: number[] = [];
    const post: number[] = [];
    const get: number[] = [];
    let notCached = 0;
    const [api] = children;
    const cpu = () => ({ api: processCpuMs(api.pid!), postgres: cpuOfCommMs('postgres'), redis: cpuOfCommMs('redis-server'), client: processCpuMs(process.pid) });
    const cpu0 = cpu();
    for (let i = 0; i < PAIRS; i++) {
      const t0 = performance.now();
      const r = await call('POST', '/v1/jobs', body);
      const t1 = performance.now();
      const g = await call('GET', `/v1/jobs/${r.body.id}`);
      const t2 = performance.now();
      if (r.status !== 202 || g.body.status !== 'succeeded' || g.body.builds?.[0]?.cache?.status !== 'hit') notCached++;
      pair.push(t2 - t0);
      post.push(t1 - t0);
      get.push(t2 - t1);
    }
    const cpu1 = cpu();
    const f = (xs: number[]) => `median ${quantile(xs, 0.5).toFixed(1)} ms   p99 ${quantile(xs, 0.99).toFixed(1)} ms`;
    console.log(`cached build of ${FUNCTIONS} function(s), ${PAIRS} sequential POST + GET pairs${BEFORE ? ` after ${BEFORE} other builds` : ''} (not answered from the cache: ${notCached})`);
    console.log(`  POST + GET   ${f(pair)}   goal: median under 15 ms`);
    console.log(`  POST         ${f(post)}`);
    console.log(`  GET          ${f(get)}`);
    const per = (k: keyof typeof cpu0) => `${k} ${((cpu1[k] - cpu0[k]) / PAIRS).toFixed(1)} ms`;
    console.log(`  CPU per pair ${per('api')}, ${per('postgres')} (all backends, other work on the machine included), ${per('redis')}, ${per('client')}`);
  } finally {
    for (const c of children) c.kill('SIGTERM');
    await Promise.all(children.map((c) => new Promise((r) => (c.exitCode !== null ? r(null) : c.once('exit', r)))));
    await kiln.close();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
