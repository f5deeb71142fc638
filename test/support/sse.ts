import { strict as assert } from 'node:assert';
import type { Kiln } from './harness';

export interface StreamEvent {
  id?: string;
  event: string;
  data: Record<string, unknown>;
}

/** Reads a server-sent event stream of the API (GET `path`) to its end, returning its events. */
export async function readEvents(kiln: Kiln, path: string, headers: Record<string, string> = {}): Promise<StreamEvent[]> {
  const res = await fetch(`${kiln.baseUrl}${path}`, { headers: { ...kiln.auth, ...headers } });
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /text\/event-stream/);
  const text = await res.text();
  return text
    .split('\n\n')
    .filter((block) => block.includes('data:'))
    .map((block) => {
      const field = (name: string) => block.split('\n').find((l) => l.startsWith(`${name}:`))?.slice(name.length + 1).trim();
      return { id: field('id'), event: field('event') ?? 'message', data: JSON.parse(field('data') ?? '{}') };
    });
}
