import { Injectable } from '@nestjs/common';
import { PgNotifications } from '../database/notifications';

/** The channel a trigger on build_events notifies, with the job's id, when events are committed. */
export const BUILD_EVENTS_CHANNEL = 'kiln_build_events';

/**
 * Wakes the API's event streams when their job's build events are recorded: the API's
 * listening connection (PgNotifications) hears the channel that a trigger on build_events
 * notifies (see the BuildEventNotify migration). Streams still look now and then by
 * themselves, and poll as before while that connection is down; when it comes back, every
 * stream looks again, so nothing recorded meanwhile is missed.
 */
@Injectable()
export class BuildEventListener {
  private readonly waiting = new Map<string, Set<() => void>>();

  constructor(private readonly notifications: PgNotifications) {
    notifications.listen(BUILD_EVENTS_CHANNEL, {
      notification: (jobId) => {
        for (const wake of this.waiting.get(jobId) ?? []) wake();
      },
      // Whatever was recorded while nobody listened: every stream looks again.
      up: () => {
        for (const set of this.waiting.values()) for (const wake of set) wake();
      },
    });
  }

  /** Whether notifications arrive now (streams poll while they do not). */
  get live(): boolean {
    return this.notifications.live;
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
}
