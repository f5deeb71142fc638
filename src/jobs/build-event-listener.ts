import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { Client } from 'pg';
import { KILN_CONFIG, KilnConfig } from '../config/config';

/** The channel a trigger on build_events notifies, with the job's id, when events are committed. */
export const BUILD_EVENTS_CHANNEL = 'kiln_build_events';

/**
 * Wakes the API's event streams when their job's build events are recorded: one connection of
 * its own LISTENs on the channel that a trigger on build_events notifies (see the
 * BuildEventNotify migration). Streams still look now and then by themselves, and poll as
 * before while this connection is down; when it comes back, every stream looks again, so
 * nothing recorded meanwhile is missed.
 */
@Injectable()
export class BuildEventListener implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(BuildEventListener.name);
  private readonly waiting = new Map<string, Set<() => void>>();
  private client: Client | null = null;
  private retry: NodeJS.Timeout | null = null;
  private closed = false;
  private failures = 0;

  constructor(@Inject(KILN_CONFIG) private readonly config: Pick<KilnConfig, 'databaseUrl'>) {}

  /** Whether notifications arrive now (streams poll while they do not). */
  get live(): boolean {
    return this.client !== null;
  }

  onApplicationBootstrap(): void {
    void this.connect();
  }

  async onApplicationShutdown(): Promise<void> {
    this.closed = true;
    if (this.retry) clearTimeout(this.retry);
    const client = this.client;
    this.client = null;
    await client?.end().catch(() => undefined);
  }

  /** Calls `wake` whenever events of the job are committed, until the returned function is called. */
  subscribe(jobId: string, wake: () => void): () => void {
    const key = jobId.toLowerCase();
    let set = this.waiting.get(key);
    if (!set) this.waiting.set(key, (set = new Set()));
    set.add(wake);
    return () => {
      set.delete(wake);
      if (set.size === 0 && this.waiting.get(key) === set) this.waiting.delete(key);
    };
  }

  private async connect(): Promise<void> {
    if (this.closed) return;
    const client = new Client({ connectionString: this.config.databaseUrl, connectionTimeoutMillis: 5000, keepAlive: true });
    let lost = false;
    const onLost = () => {
      if (lost) return;
      lost = true;
      if (this.client === client) this.client = null;
      client.end().catch(() => undefined);
      if (this.closed) return;
      // Back off up to 5 s; streams poll meanwhile.
      this.retry = setTimeout(() => void this.connect(), Math.min(5000, 250 * 2 ** Math.min(this.failures++, 5)));
      this.retry.unref();
    };
    client.on('error', onLost);
    client.on('end', onLost);
    client.on('notification', (n) => {
      if (!n.payload) return;
      for (const wake of this.waiting.get(n.payload) ?? []) wake();
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${BUILD_EVENTS_CHANNEL}`);
    } catch (e) {
      if (this.failures === 0) this.logger.warn(`build event notifications are off until PostgreSQL answers (${(e as Error).message}); event streams poll meanwhile`);
      onLost();
      return;
    }
    if (lost || this.closed) {
      await client.end().catch(() => undefined);
      return;
    }
    this.client = client;
    this.failures = 0;
    // Whatever was recorded while nobody listened: every stream looks again.
    for (const set of this.waiting.values()) for (const wake of set) wake();
  }
}
