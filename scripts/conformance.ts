import { writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { conformanceTable, listCases, runCases, SUITES, TARGET_RUNNERS } from '../compiler/src/conformance';

/**
 * Runs the ONNX backend test suite (Debian's libonnx-testdata) through the compiler for a target
 * and writes docs/conformance-<target>.md.   npm run conformance -- [--target T] [--filter text]
 */
async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const target = argv.includes('--target') ? argv[argv.indexOf('--target') + 1] : 'x86_64-linux-gnu';
  const filter = argv.includes('--filter') ? argv[argv.indexOf('--filter') + 1] : '';
  if (!TARGET_RUNNERS[target]) throw new Error(`--target must be one of ${Object.keys(TARGET_RUNNERS).join(', ')}`);
  const cases = (await Promise.all(SUITES.map(async (suite) => (await listCases(suite)).map((dir) => ({ dir, suite }))))).flat().filter((c) => c.dir.includes(filter));
  if (cases.length === 0) throw new Error('no cases: install libonnx-testdata (scripts/install-toolchains.sh)');
  let done = 0;
  const results = await runCases(cases, target, 2, () => {
    if (++done % 50 === 0) process.stderr.write(`${done}/${cases.length}\n`);
  });
  const table = conformanceTable(results, target);
  const path = resolve(__dirname, `../../docs/conformance-${target}.md`);
  if (!filter) await writeFile(path, table);
  console.log(table.split('\n').slice(4, 10).join('\n'));
  if (!filter) console.log(`wrote ${path}`);
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
