import { build } from 'esbuild';

/** A Node program as one CommonJS file with its dependencies inside: what runs where there is no node_modules. */
export async function bundleFile(entry: string, banner: string): Promise<string> {
  const result = await build({
    entryPoints: [entry],
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    write: false,
    legalComments: 'none',
    minify: false,
    sourcemap: false,
    logLevel: 'silent',
    banner: { js: banner },
  });
  return result.outputFiles[0].text;
}
