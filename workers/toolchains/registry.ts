import { LANGUAGE_SPECS } from '../../src/jobs/languages';
import { ClangToolchain } from './clang';
import { FlangToolchain } from './flang';
import { GccToolchain } from './gcc';
import { GoToolchain } from './go';
import { HipToolchain } from './hip';
import { NvccToolchain } from './nvcc';
import { RustToolchain } from './rust';
import type { Toolchain } from './toolchain';

export function defaultToolchains(): Toolchain[] {
  return [new ClangToolchain(), new GccToolchain(), new FlangToolchain(), new GoToolchain(), new RustToolchain(), new NvccToolchain(), new HipToolchain()];
}

/**
 * Every toolchain Kiln knows, by its static key. Start-up fails on a duplicate key, and on a
 * language of the catalog that names a toolchain nobody registered.
 */
export function createToolchainRegistry(toolchains: Toolchain[] = defaultToolchains(), languages = LANGUAGE_SPECS): Map<string, Toolchain> {
  const registry = new Map<string, Toolchain>();
  for (const t of toolchains) {
    if (!t.key) throw new Error(`toolchain ${t.constructor.name} has no key`);
    if (registry.has(t.key)) throw new Error(`two toolchains share the key "${t.key}"`);
    registry.set(t.key, t);
  }
  for (const l of languages) {
    for (const key of [l.toolchain, ...(l.alternatives ?? []).map((a) => a.toolchain)]) {
      const t = registry.get(key);
      if (!t) throw new Error(`language "${l.name}" is built by toolchain "${key}", which is not registered`);
      if (!t.languages.includes(l.name)) throw new Error(`toolchain "${t.key}" does not declare language "${l.name}"`);
    }
  }
  return registry;
}
