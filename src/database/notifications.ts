import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { Client } from 'pg';
import { KILN_CONFIG, KilnConfig } from '../config/config';

/** What a listener of one channel is told: each notification, and when the connection comes and goes. */
export interface ChannelHandlers {
  notification: (payload: string) => void;
  /** The connection listens (again): whatever was notified while nobody listened was missed. */
  up?: () => void;
  /** The connection is lost: no notification arrives until up() is called. */
  down?: () => void;
}

const CHANNEL_RE = /^[a-z_][a-z0-9_]*$/;

/**
 * The API's one PostgreSQL connection that LISTENs, for every channel a part of the API asks
 * for (build events, API key changes): triggers notify on commit, so the API hears of changes
 * instead of polling for them. The connection comes back by itself (backing off up to 5 s)
 * when it is lost; listeners are told when it goes and when it is back.
 */
@Injectable()
export class PgNotifications implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(PgNotifications.name);
  private readonly channels = new Map<string, ChannelHandlers[]>();
  private client: Client | null = null;
  private retry: NodeJS.Timeout | null = null;
  private closed = false;
  private failures = 0;

  constructor(@Inject(KILN_CONFIG) private readonly config: Pick<KilnConfig, 'databaseUrl'>) {}

  /** Whether notifications arrive now. */
  get live(): boolean {
    return this.client !== null;
  }

  /** Listens on a channel from the next connection on; call it before the application starts. */
  listen(channel: string, handlers: ChannelHandlers): void {
    if (!CHANNEL_RE.test(channel)) throw new Error(`not a channel name: ${channel}`);
    this.channels.set(channel, [...(this.channels.get(channel) ?? []), handlers]);
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

  private each(fn: (h: ChannelHandlers) => void): void {
    for (const list of this.channels.values()) for (const h of list) fn(h);
  }

  private async connect(): Promise<void> {
    if (this.closed) return;
    const client = new Client({ connectionString: this.config.databaseUrl, connectionTimeoutMillis: 5000, keepAlive: true });
    let lost = false;
    const onLost = () => {
      if (lost) return;
      lost = true;
      const wasLive = this.client === client;
      if (wasLive) this.client = null;
      client.end().catch(() => undefined);
      if (wasLive) this.each((h) => h.down?.());
      if (this.closed) return;
      this.retry = setTimeout(() => void this.connect(), Math.min(5000, 250 * 2 ** Math.min(this.failures++, 5)));
      this.retry.unref();
    };
    client.on('error', onLost);
    client.on('end', onLost);
    client.on('notification', (n) => {
      for (const h of this.channels.get(n.channel) ?? []) h.notification(n.payload ?? '');
    });
    try {
      await client.connect();
      await client.query([...this.channels.keys()].map((c) => `LISTEN ${c}`).join('; '));
    } catch (e) {
      if (this.failures === 0) this.logger.warn(`notifications from PostgreSQL (${[...this.channels.keys()].join(', ')}) are off until it answers (${(e as Error).message})`);
      onLost();
      return;
    }
    if (lost || this.closed) {
      await client.end().catch(() => undefined);
      return;
    }
    this.client = client;
    this.failures = 0;
    this.each((h) => h.up?.());
  }
}
