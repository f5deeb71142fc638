import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { KILN_CONFIG, KilnConfig } from '../src/config/config';
import { WorkerRegistry } from '../src/targets/worker-registry';
import { CompileService } from './compile/compile.service';
import { CAPABILITIES, Capabilities } from './toolchains/capabilities';

/** Announces this worker's pools and proven targets in Redis, renewed while it lives. */
@Injectable()
export class HeartbeatService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('Worker');
  private timer: NodeJS.Timeout | null = null;
  private readonly startedAt = new Date().toISOString();

  constructor(
    @Inject(KILN_CONFIG) private readonly config: KilnConfig,
    @Inject(CAPABILITIES) private readonly caps: Capabilities,
    private readonly registry: WorkerRegistry,
    private readonly compile: CompileService,
  ) {}

  private async beat(): Promise<void> {
    await this.registry.announce(
      {
        id: this.config.worker.id,
        pools: this.caps.pools,
        toolchains: this.caps.probes.map((p) => ({ key: p.key, version: p.version })),
        targets: [...this.caps.targets.values()].map((t) => ({
          name: t.name,
          toolchain: t.toolchain.key,
          cpus: t.cpus,
          features: t.features,
          languages: Object.fromEntries([...t.languages].map(([l, s]) => [l, s.toolchain.key])),
        })),
        runners: Object.fromEntries([...this.caps.runners].map(([pool, r]) => [pool, r.name])),
        startedAt: this.startedAt,
        heartbeatAt: new Date().toISOString(),
      },
      this.config.worker.heartbeatSeconds * 3,
    );
  }

  async onApplicationBootstrap(): Promise<void> {
    await this.beat();
    const released = await this.compile.releaseWaiting(this.caps.pools);
    if (released) this.logger.log(`${released} waiting build(s) queued`);
    this.timer = setInterval(() => this.beat().catch((e) => this.logger.warn(`heartbeat failed: ${(e as Error).message}`)), this.config.worker.heartbeatSeconds * 1000);
    this.timer.unref();
    this.logger.log(`worker ${this.config.worker.id} serving pools ${this.caps.pools.join(', ')}`);
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.registry.withdraw(this.config.worker.id).catch(() => undefined);
  }
}
