import { chmod, mkdir } from 'node:fs/promises';
import { Logger } from '@nestjs/common';
import { isVerifyPool } from '../../src/queue/queue.types';
import { CUDA_VERIFY_ANY, CUDA_VERIFY_PREFIX, POOLS, TARGETS, targetSpec, VERIFY_POOLS } from '../../src/targets/catalog';
import { LANGUAGE_SPECS, languageToolchain, servedLanguageKey, toolchainsFor } from '../../src/jobs/languages';
import { archOfVerifyPool, localGpus, probeRunner, Runner, runnerFor } from '../verify/runners';
import type { SandboxExecutor } from '../sandbox/executor';
import type { Toolchain, ToolchainProbe } from './toolchain';

export const CAPABILITIES = Symbol('CAPABILITIES');

export interface ServedTarget {
  name: string;
  toolchain: Toolchain;
  version: string;
  cpus: string[];
  features: string[];
  /** Each language this worker builds for the target, with its toolchain. */
  languages: Map<string, { toolchain: Toolchain; version: string }>;
}

export interface Capabilities {
  /** The pools this worker serves (optional ones it cannot serve are left out). */
  pools: string[];
  probes: ToolchainProbe[];
  targets: Map<string, ServedTarget>;
  /** The runner of each verify pool this worker serves. */
  runners: Map<string, Runner>;
}

/**
 * Probes every toolchain on this machine, inside the sandbox, and checks that each pool the
 * worker was asked to serve can build all of its targets. A pool it cannot serve fully is
 * refused at start-up, with what is missing, rather than failing builds later.
 */
export async function probeCapabilities(requested: string[], registry: Map<string, Toolchain>, exec: SandboxExecutor, workRoot: string, requestedOptional: string[] = []): Promise<Capabilities> {
  // The sandbox user must reach the work root: create it open to traverse, not to list.
  await mkdir(workRoot, { recursive: true, mode: 0o711 });
  await chmod(workRoot, 0o711);
  const logger = new Logger('Toolchains');
  const problems: { pool: string; text: string }[] = [];
  // "verify-cuda" is the verify pool of whatever NVIDIA GPU this machine has (verify-cuda-sm_90 on an H100).
  const pools: string[] = [];
  const optionalPools = [...requestedOptional];
  for (const p of requested) {
    if (p !== CUDA_VERIFY_ANY) {
      pools.push(p);
      continue;
    }
    const gpus = localGpus();
    const mine = [...new Set(gpus.map((g) => `${CUDA_VERIFY_PREFIX}${g.arch}`).filter((x) => VERIFY_POOLS.includes(x)))];
    if (mine.length === 0) {
      pools.push(p);
      problems.push({ pool: p, text: `pool "${p}" needs an NVIDIA GPU of an architecture Kiln builds for: ${gpus.length ? `this machine has ${gpus.map((g) => `${g.name} (${g.arch})`).join(', ')}` : 'nvidia-smi lists none'}` });
    } else {
      pools.push(...mine);
      if (requestedOptional.includes(p)) optionalPools.push(...mine);
    }
  }
  const probes: ToolchainProbe[] = [];
  const targets = new Map<string, ServedTarget>();
  const compiles = pools.some((p) => !isVerifyPool(p));
  // Probed side by side; their results are then taken in registry order (clang first).
  const tools = compiles ? [...registry.values()] : [];
  const results = await Promise.all(tools.map((t) => t.probe(exec, workRoot)));
  for (const [i, toolchain] of tools.entries()) {
    const probe = results[i];
    if (!probe) {
      logger.warn(`${toolchain.key}: not installed`);
      continue;
    }
    probes.push(probe);
    for (const t of probe.targets) {
      if (!t.available) continue;
      let served = targets.get(t.target);
      if (!served) {
        served = { name: t.target, toolchain, version: probe.version, cpus: t.cpus, features: t.features ?? [], languages: new Map() };
        targets.set(t.target, served);
      }
      for (const l of LANGUAGE_SPECS) {
        for (const name of toolchainsFor(l.name)) {
          const tc = languageToolchain(l.name, name)!;
          const key = servedLanguageKey(l.name, name, tc.isDefault);
          if (name === toolchain.key && t.target in tc.targets && !served.languages.has(key)) served.languages.set(key, { toolchain, version: probe.version });
        }
      }
    }
    logger.log(`${toolchain.key} ${probe.version}: ${probe.targets.filter((t) => t.available).map((t) => t.target).join(', ') || 'no targets'}`);
  }
  const runners = new Map<string, Runner>();
  for (const pool of pools.filter((p) => isVerifyPool(p) && !problems.some((x) => x.pool === p))) {
    const arch = archOfVerifyPool(pool);
    if (!arch) {
      problems.push({ pool, text: `pool "${pool}" is unknown (known verify pools: ${VERIFY_POOLS.join(', ')})` });
      continue;
    }
    const runner = runnerFor(arch);
    if (!runner) {
      problems.push({ pool, text: arch.startsWith('cuda-') ? `pool "${pool}" needs an NVIDIA GPU of architecture ${arch.slice(5)} on this machine` : `pool "${pool}" needs a runner for ${arch}: install qemu-user (or run this pool on a ${arch} machine)` });
      continue;
    }
    const why = await probeRunner(runner, exec, workRoot);
    if (why) problems.push({ pool, text: `pool "${pool}": ${why}` });
    else runners.set(pool, runner);
    logger.log(`${pool}: ${runner.name}`);
  }
  for (const pool of pools.filter((p) => !isVerifyPool(p))) {
    const specs = TARGETS.filter((t) => t.pool === pool);
    if (specs.length === 0) {
      problems.push({ pool, text: `pool "${pool}" is unknown (known pools: ${POOLS.join(', ')})` });
      continue;
    }
    for (const spec of specs) {
      if (targets.has(spec.name)) continue;
      const reasons = probes.flatMap((p) => p.targets.filter((t) => t.target === spec.name && t.reason).map((t) => t.reason!));
      problems.push({ pool, text: `pool "${pool}" needs ${spec.name}: ${reasons[0] ?? 'no installed toolchain builds it (run scripts/install-toolchains.sh)'}` });
    }
  }
  for (const p of problems.filter((x) => optionalPools.includes(x.pool))) logger.warn(`not serving optional ${p.text}`);
  const fatal = problems.filter((x) => !optionalPools.includes(x.pool));
  if (fatal.length) throw new Error(`this worker cannot serve the pools it was given (KILN_POOLS):\n  - ${fatal.map((x) => x.text).join('\n  - ')}`);
  const served = pools.filter((p) => !problems.some((x) => x.pool === p));
  for (const t of [...targets.keys()]) if (!served.includes(targetSpec(t).pool)) targets.delete(t);
  return { pools: served, probes, targets, runners };
}
