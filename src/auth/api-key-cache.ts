import { Injectable } from '@nestjs/common';
import { PgNotifications } from '../database/notifications';
import type { Caller } from './auth.service';

/** The channel a trigger on api_keys and tenants notifies when a key is revoked or changed (ApiKeyNotify migration). */
export const API_KEYS_CHANNEL = 'kiln_api_keys';

/**
 * Who a valid API key is (by the key's sha256), remembered so that a request need not ask
 * PostgreSQL each time. Revocation still takes effect at once: every statement that changes
 * or deletes a key or a tenant notifies on commit (a trigger, whoever runs the statement: the
 * API, `npm run tenant`, an operator's SQL), and the notification empties the cache. The cache
 * is only used while the API's listening connection is up (it is emptied when that is lost
 * and again when it is back), a lookup that a notification overtook is not remembered, and an
 * entry is trusted for TTL_MS at most, which bounds how long a revocation could go unheard if
 * the connection died without anyone noticing. Unknown keys are never remembered, so guesses
 * cannot fill it.
 */
@Injectable()
export class ApiKeyCache {
  static readonly TTL_MS = 5_000;
  static readonly MAX_ENTRIES = 10_000;
  private readonly entries = new Map<string, { caller: Caller; expires: number }>();
  /** Changes whenever the cache is emptied, so a lookup that started before is not remembered. */
  private generation = 0;

  constructor(private readonly notifications: PgNotifications) {
    const clear = () => this.clear();
    notifications.listen(API_KEYS_CHANNEL, { notification: clear, up: clear, down: clear });
  }

  /** The caller of a key remembered as valid, or null (then ask PostgreSQL). */
  get(keyHash: string): Caller | null {
    const entry = this.entries.get(keyHash);
    if (!entry) return null;
    if (entry.expires <= Date.now() || !this.notifications.live) {
      this.entries.delete(keyHash);
      return null;
    }
    return { ...entry.caller, scopes: [...entry.caller.scopes] };
  }

  /** Taken before asking PostgreSQL about a key; remember() wants it back. Null: nothing is remembered now. */
  ticket(): number | null {
    return this.notifications.live ? this.generation : null;
  }

  /** Remembers what PostgreSQL said about a key, unless the cache was emptied since the ticket was taken. */
  remember(ticket: number | null, keyHash: string, caller: Caller): void {
    if (ticket === null || ticket !== this.generation || !this.notifications.live) return;
    if (this.entries.size >= ApiKeyCache.MAX_ENTRIES) this.entries.delete(this.entries.keys().next().value!);
    this.entries.set(keyHash, { caller: { ...caller, scopes: [...caller.scopes] }, expires: Date.now() + ApiKeyCache.TTL_MS });
  }

  clear(): void {
    this.generation++;
    this.entries.clear();
  }
}
