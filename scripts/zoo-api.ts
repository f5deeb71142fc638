import 'reflect-metadata';
import { existsSync, readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { startKiln, waitForJob } from '../test/support/harness';
import { ZOO } from './zoo';

/**
 * The model zoo through the API, as a user sends it: each exported model uploaded and compiled in
 * one job for every CPU target, each build verified on its target's runner (natively, under
 * qemu-user, or on Node's WASI) against ONNX Runtime. A Kiln stack (API and workers, local
 * folder storage) is started in this process. One row per model: each target's build and
 * verification, the largest absolute error and the verification's run time.
 *
 *   npm run zoo:api -- [--set public|extra|all] [--only NAME,...] [--targets T,...] [--markdown FILE]
 *
 * The models come from the zoo's cache (bash scripts/zoo/setup.sh, or npm run zoo, exports them).
 * Exits non-zero when any build does not verify.
 */

const CPU_TARGETS = ['x86_64-linux-gnu', 'aarch64-linux-gnu', 'riscv64-linux-gnu', 'armv7-linux-gnueabihf', 'wasm32-wasi'];
/** A job of every target for one large model under emulation: verification allows up to an hour per build. */
const JOB_TIMEOUT_MS = 3 * 60 * 60_000;

const arg = (name: string) => (process.argv.includes(`--${name}`) ? process.argv[process.argv.indexOf(`--${name}`) + 1] : undefined);

interface Cell {
  target: string;
  build: string;
  verification: string;
  maxAbsError?: number;
  runMs?: number;
  summary?: string;
}

interface BuildView {
  status: string;
  statusReason: string | null;
  target: { name: string };
  verification?: { status: string; summary: string; runMs: number; outputs?: { maxAbsError: number }[] } | null;
}

async function main(): Promise<void> {
  const set = arg('set') ?? 'public';
  const only = (arg('only') ?? '').split(',').filter(Boolean);
  const targets = arg('targets')?.split(',') ?? CPU_TARGETS;
  const listFile = join(ZOO, 'models', 'zoo.json');
  if (!existsSync(listFile)) throw new Error(`${listFile} is missing: run bash scripts/zoo/setup.sh --set ${set} first`);
  const list = JSON.parse(readFileSync(listFile, 'utf8')) as { models: { name: string; set: string }[] };
  const models = list.models.filter((m) => (set === 'all' || m.set === set) && (only.length === 0 || only.includes(m.name)) && existsSync(join(ZOO, 'models', `${m.name}.onnx`)));
  console.log(`Kiln model zoo through the API: ${models.length} models, targets ${targets.join(', ')}, verified against ONNX Runtime; ${cpus().length} CPUs`);
  const kiln = await startKiln({ storage: 'fs' });
  const rows: { name: string; cells: Cell[]; wallMs: number }[] = [];
  try {
    const inFlight: { name: string; id: string; started: number }[] = [];
    const collect = async (j: { name: string; id: string; started: number }) => {
      const job = await waitForJob(kiln, j.id, JOB_TIMEOUT_MS);
      const builds = job.builds as unknown as BuildView[];
      const cells = targets.map((t): Cell => {
        const b = builds.find((x) => x.target.name === t);
        if (!b) return { target: t, build: 'missing', verification: 'none' };
        const v = b.verification;
        return {
          target: t,
          build: b.status,
          verification: v?.status ?? 'none',
          maxAbsError: v?.outputs?.length ? Math.max(...v.outputs.map((o) => o.maxAbsError)) : undefined,
          runMs: v?.runMs,
          summary: v?.status === 'passed' ? undefined : (v?.summary ?? b.statusReason ?? undefined),
        };
      });
      rows.push({ name: j.name, cells, wallMs: Date.now() - j.started });
      console.log(`${j.name}: ${cells.map((c) => `${c.target} ${c.verification}${c.runMs !== undefined ? ` (${(c.runMs / 1000).toFixed(1)} s)` : ''}${c.summary ? ` [${c.summary}]` : ''}`).join(', ')}`);
    };
    for (const m of models) {
      const bytes = readFileSync(join(ZOO, 'models', `${m.name}.onnx`));
      const up = await kiln.http().post(`/v1/uploads?filename=${m.name}.onnx`).set(kiln.auth).set('Content-Type', 'application/octet-stream').send(bytes);
      if (up.status !== 201) throw new Error(`upload of ${m.name}: ${up.status} ${JSON.stringify(up.body)}`);
      for (;;) {
        const res = await kiln.http().post('/v1/jobs').set(kiln.auth).send({ model: { uploadId: up.body.id }, targets, verify: true });
        if (res.status === 202) {
          inFlight.push({ name: m.name, id: res.body.id, started: Date.now() });
          break;
        }
        // The tenant's concurrent builds are at their quota: wait for the oldest job, then submit again.
        if (res.status !== 429 || inFlight.length === 0) throw new Error(`job for ${m.name}: ${res.status} ${JSON.stringify(res.body)}`);
        await collect(inFlight.shift()!);
      }
    }
    while (inFlight.length) await collect(inFlight.shift()!);
  } finally {
    await kiln.close();
  }
  const head = ['model', ...targets];
  const fmt = (c: Cell) => (c.verification === 'passed' ? `passed, ${c.maxAbsError?.toExponential(1) ?? '?'}, ${((c.runMs ?? 0) / 1000).toFixed(1)} s` : `**${c.build} / ${c.verification}**`);
  const table = [`| ${head.join(' | ')} |`, `|${head.map(() => ' --- ').join('|')}|`, ...rows.map((r) => `| ${[r.name, ...r.cells.map(fmt)].join(' | ')} |`)].join('\n');
  const failing = rows.flatMap((r) => r.cells.filter((c) => c.verification !== 'passed').map((c) => `- ${r.name} on ${c.target}: ${c.build}, verification ${c.verification}: ${c.summary ?? ''}`));
  const passed = rows.reduce((a, r) => a + r.cells.filter((c) => c.verification === 'passed').length, 0);
  const md = `${table}\n\n${passed} of ${rows.length * targets.length} builds verified.\n${failing.length ? `\nNot verified:\n\n${failing.join('\n')}\n` : ''}`;
  console.log(`\n${md}`);
  const mdFile = arg('markdown');
  if (mdFile) {
    await writeFile(
      mdFile,
      `# Model zoo through the API (${set} set)

Generated by \`npm run zoo:api -- --set ${set} --markdown ${mdFile}\`; do not edit. Each model is uploaded and compiled in one
job for ${targets.join(', ')}, with verification: each build runs on its target's runner (natively, under qemu-user, or on
Node's WASI) on seeded inputs and is compared with ONNX Runtime (CPU) within the model job's default tolerance. A cell gives the
verification's status, the largest absolute error over the outputs, and the run's time on that runner (${cpus().length} CPUs shared by every
build of every job).

${md}`,
    );
  }
  if (failing.length) process.exitCode = 1;
}

main().catch((e) => {
  console.error(e);
  process.exit(2);
});
