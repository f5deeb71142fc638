import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { bundleFile } from './bundle';

export const CLI_ENTRY = resolve(__dirname, '../../clients/cli/main.ts');
export const CLI_PACKAGE = resolve(__dirname, '../../clients/cli');
export const CLI_BUNDLE = resolve(CLI_PACKAGE, 'dist/kiln.js');

/**
 * The kiln command line as an installable package (clients/cli: kiln-cli, its one file
 * dist/kiln.js with the SDK and commander inside, no dependencies to fetch):
 *
 *   npm run build:cli && npm install -g ./clients/cli      (or npm pack ./clients/cli, and install the .tgz anywhere)
 */
export async function buildCli(out = CLI_BUNDLE): Promise<string> {
  const text = await bundleFile(CLI_ENTRY, '/* kiln command line, bundled from clients/cli/main.ts by `npm run build:cli`. */');
  await mkdir(dirname(out), { recursive: true });
  await writeFile(out, text);
  await chmod(out, 0o755);
  return out;
}

if (require.main === module) {
  buildCli()
    .then((out) => console.log(`wrote ${out}; install with: npm install -g ./clients/cli (or npm pack ./clients/cli)`))
    .catch((e) => {
      console.error(e);
      process.exit(1);
    });
}
