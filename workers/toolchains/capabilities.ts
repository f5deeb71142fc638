import { chmod, mkdir } from 'node:fs/promises';
import { Logger } from '@nestjs/common';
import { TARGETS } from '../../src/targets/catalog';
import type { SandboxExecutor } from '../sandbox/executor';
import type { Toolchain, ToolchainProbe } from './toolchain';

export const CAPABILITIES = Symbol('CAPABILITIES');

export interface ServedTarget {
  name: string;
  toolchain: Toolchain;
  version: string;
  cpus: string[];
}

export interface Capabilities {
  pools: string[];
  probes: ToolchainProbe[];
  targets: Map<string, ServedTarget>;
}

/**
 * Probes every toolchain on this machine, inside the sandbox, and checks that each pool the
 * worker was asked to serve can build all of its targets. A pool it cannot serve fully is
 * refused at start-up, with what is missing, rather than failing builds later.
 */
export async function probeCapabilities(pools: string[], registry: Map<string, Toolchain>, exec: SandboxExecutor, workRoot: string): Promise<Capabilities> {
  // The sandbox user must reach the work root: create it open to traverse, not to list.
  await mkdir(workRoot, { recursive: true, mode: 0o711 });
  await chmod(workRoot, 0o711);
  const logger = new Logger('Toolchains');
  const probes: ToolchainProbe[] = [];
  const targets = new Map<string, ServedTarget>();
  for (const toolchain of registry.values()) {
    const probe = await toolchain.probe(exec, workRoot);
    if (!probe) {
      logger.warn(`${toolchain.key}: not installed`);
      continue;
    }
    probes.push(probe);
    for (const t of probe.targets) {
      if (t.available && !targets.has(t.target)) targets.set(t.target, { name: t.target, toolchain, version: probe.version, cpus: t.cpus });
    }
    logger.log(`${toolchain.key} ${probe.version}: ${probe.targets.filter((t) => t.available).map((t) => t.target).join(', ') || 'no targets'}`);
  }
  const problems: string[] = [];
  for (const pool of pools) {
    const specs = TARGETS.filter((t) => t.pool === pool);
    if (specs.length === 0) {
      problems.push(`pool "${pool}" is unknown (known pools: ${[...new Set(TARGETS.map((t) => t.pool))].join(', ')})`);
      continue;
    }
    for (const spec of specs) {
      if (targets.has(spec.name)) continue;
      const reasons = probes.flatMap((p) => p.targets.filter((t) => t.target === spec.name && t.reason).map((t) => t.reason!));
      problems.push(`pool "${pool}" needs ${spec.name}: ${reasons[0] ?? 'no installed toolchain builds it (run scripts/install-toolchains.sh)'}`);
    }
  }
  if (problems.length) throw new Error(`this worker cannot serve the pools it was given (KILN_POOLS):\n  - ${problems.join('\n  - ')}`);
  return { pools, probes, targets };
}
