import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import react from '@vitejs/plugin-react';
import { defineConfig, type Plugin } from 'vite';

const root = fileURLToPath(new URL('.', import.meta.url));
const outDir = join(root, 'dist');

/** Prints the whole bundle's size once it is written, so growth shows in every build. */
function bundleSize(): Plugin {
  return {
    name: 'kiln-bundle-size',
    apply: 'build',
    closeBundle() {
      const files: string[] = [];
      const walk = (d: string) => {
        for (const f of readdirSync(d)) {
          const p = join(d, f);
          if (statSync(p).isDirectory()) walk(p);
          else files.push(p);
        }
      };
      walk(join(outDir, 'assets'));
      let raw = 0;
      let gz = 0;
      for (const f of files.filter((x) => /\.(js|css)$/.test(x))) {
        const b = readFileSync(f);
        raw += b.length;
        gz += gzipSync(b).length;
      }
      console.log(`console bundle: ${(raw / 1000).toFixed(1)} kB of JS and CSS, ${(gz / 1000).toFixed(1)} kB gzipped`);
    },
  };
}

export default defineConfig({
  root,
  base: '/',
  plugins: [react(), bundleSize()],
  build: { outDir, emptyOutDir: true, target: 'es2022', sourcemap: false, modulePreload: { polyfill: false } },
  server: { proxy: { '/v1': 'http://127.0.0.1:8080', '/openapi.json': 'http://127.0.0.1:8080' } },
});
