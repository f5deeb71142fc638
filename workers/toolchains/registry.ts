import { ClangToolchain } from './clang';
import type { Toolchain } from './toolchain';

/** Every toolchain Kiln knows, by its static key. Start-up fails on a duplicate key. */
export function createToolchainRegistry(toolchains: Toolchain[] = [new ClangToolchain()]): Map<string, Toolchain> {
  const registry = new Map<string, Toolchain>();
  for (const t of toolchains) {
    if (!t.key) throw new Error(`toolchain ${t.constructor.name} has no key`);
    if (registry.has(t.key)) throw new Error(`two toolchains share the key "${t.key}"`);
    registry.set(t.key, t);
  }
  return registry;
}
