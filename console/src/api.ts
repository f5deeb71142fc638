import createClient, { type Client } from 'openapi-fetch';
import { SseParser } from './lib/sse';
import type { paths } from './lib/types';

export type Api = Client<paths>;

/** A refusal or failure from the API, with its message exactly as the API wrote it. */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number | null,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

function messageOf(body: unknown, status: number, statusText: string): string {
  const m = (body as { message?: unknown } | undefined)?.message;
  if (Array.isArray(m)) return m.join('; ');
  if (typeof m === 'string' && m) return m;
  return `HTTP ${status}${statusText ? ` ${statusText}` : ''}`;
}

/** The API client for one key: every request carries it; a 401 anywhere signs the user out. */
export function makeApi(apiKey: string, onUnauthorized: (message: string) => void): Api {
  const api = createClient<paths>({ baseUrl: window.location.origin, headers: { Authorization: `Bearer ${apiKey}` } });
  api.use({
    async onResponse({ response }) {
      if (response.status === 401) {
        const body = await response.clone().json().catch(() => undefined);
        onUnauthorized(messageOf(body, 401, ''));
      }
      return undefined;
    },
  });
  return api;
}

/** The data of an openapi-fetch result, or an ApiError that says why there is none. */
export async function unwrap<T>(p: Promise<{ data?: T; error?: unknown; response: Response }>): Promise<T> {
  let r: { data?: T; error?: unknown; response: Response };
  try {
    r = await p;
  } catch (e) {
    if ((e as Error).name === 'AbortError') throw e;
    throw new ApiError(`Kiln cannot be reached: ${(e as Error).message}`, null);
  }
  if (r.response.ok) return r.data as T;
  throw new ApiError(messageOf(r.error, r.response.status, r.response.statusText), r.response.status);
}

/**
 * A fetch that sends its body with XMLHttpRequest, the one browser API that reports upload
 * progress; openapi-fetch takes it per request, so uploads still go through the typed client.
 */
export function progressFetch(onProgress: (sent: number, total: number) => void, signal?: AbortSignal): (req: Request) => Promise<Response> {
  return async (req: Request) => {
    const body = await req.blob();
    return new Promise<Response>((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhr.open(req.method, req.url);
      req.headers.forEach((v, k) => xhr.setRequestHeader(k, v));
      xhr.responseType = 'blob';
      xhr.upload.onprogress = (e) => onProgress(e.loaded, e.lengthComputable ? e.total : body.size);
      xhr.onload = () => {
        const headers = new Headers();
        for (const line of xhr.getAllResponseHeaders().trim().split(/[\r\n]+/)) {
          const at = line.indexOf(':');
          if (at > 0) headers.append(line.slice(0, at).trim(), line.slice(at + 1).trim());
        }
        resolve(new Response(xhr.response as Blob, { status: xhr.status, statusText: xhr.statusText, headers }));
      };
      xhr.onerror = () => reject(new TypeError('the upload was interrupted'));
      xhr.onabort = () => reject(new DOMException('aborted', 'AbortError'));
      signal?.addEventListener('abort', () => xhr.abort());
      xhr.send(body);
    });
  };
}

/** Uploads a file with progress; resolves to the upload the API made. */
export function uploadFile(api: Api, file: Blob, filename: string, onProgress: (sent: number, total: number) => void, signal?: AbortSignal) {
  return unwrap(
    api.POST('/v1/uploads', {
      params: { query: { filename } },
      body: file as unknown as string,
      bodySerializer: (b: unknown) => b as Blob,
      headers: { 'Content-Type': 'application/octet-stream' },
      fetch: progressFetch(onProgress, signal),
      signal,
    }),
  );
}

/** An artifact's bytes, streamed through the API (no redirect to storage, which a browser may not reach). */
export async function artifactBlob(api: Api, id: string): Promise<Blob> {
  return unwrap(api.GET('/v1/artifacts/{id}/content', { params: { path: { id }, query: { redirect: 'false' } }, parseAs: 'blob' })) as Promise<Blob>;
}

export interface BuildChange {
  buildId: string;
  target: string;
  from: string | null;
  to: string;
  at: string;
  worker: string | null;
  message: string | null;
}

/**
 * Follows a job's server-sent events until its `end` event. EventSource cannot send the API key,
 * so the stream is read with fetch; after a dropped connection it resumes from the last event id.
 */
export function followJob(api: Api, id: string, handlers: { onChange: (c: BuildChange) => void; onEnd: (status: string) => void; onError?: (e: Error) => void }): () => void {
  const ctrl = new AbortController();
  const parser = new SseParser();
  let failures = 0;
  const run = async () => {
    while (!ctrl.signal.aborted) {
      try {
        const lastId = parser.lastEventId;
        const r = await api.GET('/v1/jobs/{id}/events', {
          params: { path: { id }, header: lastId ? { 'Last-Event-ID': lastId } : {} },
          parseAs: 'stream',
          signal: ctrl.signal,
          headers: { Accept: 'text/event-stream' },
        });
        if (!r.response.ok) {
          const body = await r.response.json().catch(() => undefined);
          throw new ApiError(messageOf(body, r.response.status, r.response.statusText), r.response.status);
        }
        const reader = (r.data as unknown as ReadableStream<Uint8Array>).pipeThrough(new TextDecoderStream() as unknown as TransformStream<Uint8Array, string>).getReader();
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          failures = 0;
          for (const ev of parser.feed(value)) {
            if (ev.event === 'build') handlers.onChange(JSON.parse(ev.data) as BuildChange);
            else if (ev.event === 'end') {
              handlers.onEnd((JSON.parse(ev.data) as { status: string }).status);
              ctrl.abort();
              return;
            }
          }
        }
      } catch (e) {
        if (ctrl.signal.aborted) return;
        if (e instanceof ApiError && e.status !== null && e.status < 500) {
          handlers.onError?.(e);
          return;
        }
        failures++;
      }
      await new Promise((r) => setTimeout(r, Math.min(10_000, 500 * 2 ** Math.min(failures, 5))));
    }
  };
  void run();
  return () => ctrl.abort();
}

/** Saves a blob under a file name through the browser's download. */
export function saveBlob(blob: Blob, name: string): void {
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}
