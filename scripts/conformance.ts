import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { conformanceReport, ConformanceResult, DEFECTS, listCases, runCases, SUITE_SETS, tally, TARGET_RUNNERS, VERDICTS } from '../compiler/src/conformance';

/**
 * Runs ONNX backend test cases through the compiler for a target and writes the table to docs/:
 * Debian's libonnx-testdata (--suite debian, the default) to docs/conformance-<target>.md, or the
 * ONNX 1.23 backend node suite (--suite onnx-1.23, made by scripts/onnx-suite.sh) to
 * docs/conformance-onnx-1.23-<target>.md.
 *   npm run conformance -- [--suite debian|onnx-1.23] [--target T] [--filter text] [--parallel N] [--json FILE]
 * With --filter nothing is written to docs/. --json writes every case's result.
 */
async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const arg = (name: string, fallback: string) => (argv.includes(name) ? argv[argv.indexOf(name) + 1] : fallback);
  const target = arg('--target', 'x86_64-linux-gnu');
  const filter = arg('--filter', '');
  const parallel = Number(arg('--parallel', '2'));
  const json = arg('--json', '');
  const set = SUITE_SETS[arg('--suite', 'debian')];
  if (!set) throw new Error(`--suite must be one of ${Object.keys(SUITE_SETS).join(', ')}`);
  if (!TARGET_RUNNERS[target]) throw new Error(`--target must be one of ${Object.keys(TARGET_RUNNERS).join(', ')}`);
  if (!(parallel >= 1)) throw new Error('--parallel must be a positive number');
  const cases = (await Promise.all(set.suites.map(async ({ suite, root }) => (await listCases(suite, root)).map((dir) => ({ dir, suite }))))).flat().filter((c) => c.dir.includes(filter));
  if (cases.length === 0) throw new Error(`no cases${filter ? ` match ${filter}` : ''}: ${set.missing}`);
  let done = 0;
  const started = Date.now();
  const results = await runCases(cases, target, parallel, (r) => {
    if (DEFECTS.includes(r.status)) process.stderr.write(`${r.status}: ${r.suite}/${r.name}: ${r.detail.slice(0, 200)}\n`);
    if (++done % 50 === 0 || done === cases.length) process.stderr.write(`${done}/${cases.length} (${Math.round((Date.now() - started) / 1000)} s)\n`);
  });
  if (json) {
    await mkdir(dirname(resolve(json)), { recursive: true });
    await writeFile(json, JSON.stringify(results, null, 1) + '\n');
  }
  const t = tally(results);
  console.log(`${set.title}, ${target}: ${VERDICTS.map((v) => `${t[v]} ${v}`).join(', ')} of ${t.total}`);
  for (const suite of new Set(results.map((r: ConformanceResult) => r.suite))) {
    const s = tally(results.filter((r) => r.suite === suite));
    console.log(`  ${suite}: ${VERDICTS.map((v) => `${s[v]} ${v}`).join(', ')} of ${s.total}`);
  }
  if (!filter) {
    const path = resolve(__dirname, '../../docs', set.doc(target));
    await writeFile(path, conformanceReport(results, set, target));
    console.log(`wrote ${path}`);
  }
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
