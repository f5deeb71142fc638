import { readFile, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { bundleFile } from './bundle';

export const ACTION_ENTRY = resolve(__dirname, '../../clients/action/main.ts');
export const ACTION_BUNDLE = resolve(__dirname, '../../clients/action/dist/index.js');

/** The GitHub Action as one file, as GitHub runs it: no node_modules at run time. */
export function bundleAction(): Promise<string> {
  return bundleFile(ACTION_ENTRY, '/* Kiln GitHub Action, bundled from clients/action/main.ts by `npm run build:action`; do not edit. */');
}

async function main(): Promise<void> {
  const text = await bundleAction();
  if (process.argv.includes('--check')) {
    const committed = await readFile(ACTION_BUNDLE, 'utf8').catch(() => '');
    if (committed !== text) {
      console.error('clients/action/dist/index.js is stale: run `npm run build:action` and commit it');
      process.exit(1);
    }
    console.log('clients/action/dist/index.js is current');
    return;
  }
  await writeFile(ACTION_BUNDLE, text);
  console.log(`wrote ${ACTION_BUNDLE} (${text.length} bytes)`);
}

if (require.main === module) {
  main().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
