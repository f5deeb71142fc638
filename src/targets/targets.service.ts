import { Injectable } from '@nestjs/common';
import { PRESETS, TARGETS, TargetSpec, verifyPoolOf } from './catalog';
import { resolveTarget, ResolvedTarget } from './resolve';
import type { TargetInput } from './target';
import { WorkerCapabilities, WorkerRegistry } from './worker-registry';

export interface TargetAvailability {
  spec: TargetSpec;
  available: boolean;
  workers: number;
  toolchains: { key: string; version: string }[];
  cpus: string[];
  /** Target features the live toolchain knows (empty when no worker said). */
  features: string[];
  /** Languages a live worker builds for it. */
  languages: string[];
  reason: string | null;
  /** Whether a live worker can run what is built for it (natively or emulated), and how. */
  verifiable: boolean;
  runners: string[];
  /** The verify pools of the target that live workers serve (one per GPU architecture for NVIDIA GPUs). */
  verifyPools: string[];
}

/** The live target catalog: the static list of what Kiln knows, joined with what workers serve now. */
@Injectable()
export class TargetsService {
  /**
   * The last snapshot, reused for a moment: every job creation reads the catalog, and workers
   * renew their announcements only every few seconds anyway.
   */
  private cached: { at: number; value: Promise<{ workers: WorkerCapabilities[]; targets: TargetAvailability[] }> } | null = null;
  static readonly SNAPSHOT_TTL_MS = 500;

  constructor(private readonly registry: WorkerRegistry) {}

  snapshot(fresh = false): Promise<{ workers: WorkerCapabilities[]; targets: TargetAvailability[] }> {
    const now = Date.now();
    if (!fresh && this.cached && now - this.cached.at < TargetsService.SNAPSHOT_TTL_MS) return this.cached.value;
    const value = this.build();
    this.cached = { at: now, value };
    value.catch(() => {
      if (this.cached?.value === value) this.cached = null; // a failed read is not remembered
    });
    return value;
  }

  private async build(): Promise<{ workers: WorkerCapabilities[]; targets: TargetAvailability[] }> {
    const workers = await this.registry.list();
    const targets = TARGETS.map((spec) => {
      const serving = workers.filter((w) => w.pools.includes(spec.pool) && w.targets.some((t) => t.name === spec.name));
      const toolchains = new Map<string, { key: string; version: string }>();
      let cpus: string[] = [];
      let features: string[] = [];
      const languages = new Set<string>();
      for (const w of serving) {
        const t = w.targets.find((x) => x.name === spec.name)!;
        const keys = new Set([t.toolchain, ...Object.values(t.languages ?? {})]);
        for (const tc of w.toolchains.filter((x) => keys.has(x.key))) toolchains.set(`${tc.key}@${tc.version}`, tc);
        if (t.cpus.length > cpus.length) cpus = t.cpus;
        if ((t.features?.length ?? 0) > features.length) features = t.features!;
        // Workers from before languages were announced build C and C++ with clang.
        for (const l of Object.keys(t.languages ?? { c: 'clang', 'c++': 'clang' })) languages.add(l);
      }
      const pools = spec.family === 'nvptx' ? spec.gpu!.arches.map((a) => verifyPoolOf(spec, a)!) : spec.verifyPool ? [spec.verifyPool] : [];
      const verifyPools = pools.filter((p) => workers.some((w) => w.pools.includes(p)));
      const runners = [...new Set(workers.flatMap((w) => verifyPools.filter((p) => w.pools.includes(p)).map((p) => w.runners?.[p])).filter((r): r is string => !!r))];
      return {
        spec,
        features,
        languages: [...languages].sort(),
        verifiable: verifyPools.length > 0,
        verifyPools,
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
    for (const fresh of [false, true]) {
      const { targets } = await this.snapshot(fresh);
      const availability = new Map(targets.map((t) => [t.spec.name, t]));
      const resolved = inputs.map((i) => resolveTarget(i, (spec) => availability.get(spec.name)?.cpus, (spec) => availability.get(spec.name)?.features));
      // A remembered snapshot may predate a worker that just connected: a build is only
      // marked waiting on a fresh read.
      if (fresh || resolved.every((r) => availability.get(r.spec.name)?.available)) return { resolved, availability };
    }
    throw new Error('unreachable');
  }
}
