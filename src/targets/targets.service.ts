import { Injectable } from '@nestjs/common';
import { PRESETS, TARGETS, TargetSpec } from './catalog';
import { resolveTarget, ResolvedTarget } from './resolve';
import type { TargetInput } from './target';
import { WorkerCapabilities, WorkerRegistry } from './worker-registry';

export interface TargetAvailability {
  spec: TargetSpec;
  available: boolean;
  workers: number;
  toolchains: { key: string; version: string }[];
  cpus: string[];
  reason: string | null;
  /** Whether a live worker can run what is built for it (natively or emulated), and how. */
  verifiable: boolean;
  runners: string[];
}

/** The live target catalog: the static list of what Kiln knows, joined with what workers serve now. */
@Injectable()
export class TargetsService {
  constructor(private readonly registry: WorkerRegistry) {}

  async snapshot(): Promise<{ workers: WorkerCapabilities[]; targets: TargetAvailability[] }> {
    const workers = await this.registry.list();
    const targets = TARGETS.map((spec) => {
      const serving = workers.filter((w) => w.pools.includes(spec.pool) && w.targets.some((t) => t.name === spec.name));
      const toolchains = new Map<string, { key: string; version: string }>();
      let cpus: string[] = [];
      for (const w of serving) {
        const t = w.targets.find((x) => x.name === spec.name)!;
        const tc = w.toolchains.find((x) => x.key === t.toolchain);
        if (tc) toolchains.set(`${tc.key}@${tc.version}`, tc);
        if (t.cpus.length > cpus.length) cpus = t.cpus;
      }
      const runners = [...new Set(workers.filter((w) => w.pools.includes(spec.verifyPool)).map((w) => w.runners?.[spec.verifyPool]).filter((r): r is string => !!r))];
      return {
        spec,
        verifiable: workers.some((w) => w.pools.includes(spec.verifyPool)),
        runners,
        available: serving.length > 0,
        workers: serving.length,
        toolchains: [...toolchains.values()],
        cpus,
        reason: serving.length > 0 ? null : `no live worker serves pool "${spec.pool}"`,
      };
    });
    return { workers, targets };
  }

  presets() {
    return PRESETS;
  }

  /** Resolves a request's targets, checking cpus against what live workers' toolchains know. */
  async resolveAll(inputs: TargetInput[]): Promise<{ resolved: ResolvedTarget[]; availability: Map<string, TargetAvailability> }> {
    const { targets } = await this.snapshot();
    const availability = new Map(targets.map((t) => [t.spec.name, t]));
    const resolved = inputs.map((i) => resolveTarget(i, (spec) => availability.get(spec.name)?.cpus));
    return { resolved, availability };
  }
}
