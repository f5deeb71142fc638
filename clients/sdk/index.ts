import { randomUUID } from 'node:crypto';
import createClient, { type Client } from 'openapi-fetch';
import type { components, paths } from './schema';

export type { components, paths } from './schema';
export type Job = components['schemas']['JobDto'];
export type Build = components['schemas']['BuildDto'];
export type Artifact = components['schemas']['ArtifactDto'];
export type CreateJob = components['schemas']['CreateJobDto'];
export type TargetCatalog = components['schemas']['TargetCatalogDto'];
export type JobList = components['schemas']['JobListDto'];
export type Upload = components['schemas']['UploadDto'];
export type ApiKey = components['schemas']['ApiKeyDto'];
export type CreatedApiKey = components['schemas']['CreatedApiKeyDto'];

export const TERMINAL_JOB_STATUSES = ['succeeded', 'failed', 'canceled'];

/**
 * What went wrong talking to Kiln. `refused`: the API answered with a 4xx (its message says
 * what to change); `unreachable`: no answer (or only 5xx/429) after the retries.
 */
export class KilnError extends Error {
  constructor(
    message: string,
    /** refused: a 4xx; unreachable: no answer, a 5xx or 429; timeout: a wait ran out while the job went on. */
    readonly kind: 'refused' | 'unreachable' | 'timeout',
    readonly status: number | null,
    readonly body?: unknown,
  ) {
    super(message);
    this.name = 'KilnError';
  }
}

export interface RetryOptions {
  /** Attempts after the first. */
  retries: number;
  minDelayMs: number;
  maxDelayMs: number;
  onRetry?: (info: { attempt: number; delayMs: number; reason: string }) => void;
  sleep?: (ms: number) => Promise<void>;
}

const RETRIABLE_STATUS = new Set([429, 500, 502, 503, 504]);

/** Seconds or an HTTP date, as Retry-After allows; null when absent or unreadable. */
export function parseRetryAfter(value: string | null, now = Date.now()): number | null {
  if (!value) return null;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? null : Math.max(0, at - now);
}

/**
 * A fetch that retries connection errors, 429 and 5xx with exponential backoff and jitter,
 * waiting at least what Retry-After asks. A POST is retried only when it carries an
 * Idempotency-Key, so a retry can never create a second job.
 */
export function retryingFetch(inner: typeof fetch, opts: RetryOptions): typeof fetch {
  const sleep = opts.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  return async (input: string | URL | Request, init?: RequestInit) => {
    const original = new Request(input, init);
    const safe = ['GET', 'HEAD', 'DELETE', 'PUT', 'OPTIONS'].includes(original.method) || original.headers.has('idempotency-key');
    for (let attempt = 0; ; attempt++) {
      const request = original.clone();
      let reason: string;
      let retryAfter: number | null = null;
      try {
        const res = await inner(request);
        if (!RETRIABLE_STATUS.has(res.status) || !safe || attempt >= opts.retries) return res;
        reason = `HTTP ${res.status}`;
        retryAfter = parseRetryAfter(res.headers.get('retry-after'));
        await res.body?.cancel().catch(() => undefined);
      } catch (e) {
        if (!safe || attempt >= opts.retries) throw e;
        reason = (e as Error & { cause?: { code?: string } }).cause?.code ?? (e as Error).message;
      }
      const backoff = Math.min(opts.maxDelayMs, opts.minDelayMs * 2 ** attempt) * (0.5 + Math.random() / 2);
      const delayMs = Math.min(Math.max(backoff, retryAfter ?? 0), Math.max(opts.maxDelayMs, retryAfter ?? 0));
      opts.onRetry?.({ attempt: attempt + 1, delayMs, reason });
      await sleep(delayMs);
    }
  };
}

export interface KilnClientOptions {
  url: string;
  apiKey: string;
  retries?: number;
  fetch?: typeof fetch;
  onRetry?: RetryOptions['onRetry'];
  userAgent?: string;
}

function messageOf(body: unknown, status: number): string {
  const m = (body as { message?: unknown } | undefined)?.message;
  if (Array.isArray(m)) return m.join('; ');
  if (typeof m === 'string') return m;
  return `HTTP ${status}`;
}

/** The Kiln API, typed from its OpenAPI spec. */
export class KilnClient {
  readonly api: Client<paths>;
  private readonly fetch: typeof fetch;
  private readonly url: string;
  private readonly headers: Record<string, string>;

  constructor(opts: KilnClientOptions) {
    this.url = opts.url.replace(/\/+$/, '');
    this.fetch = retryingFetch(opts.fetch ?? fetch, { retries: opts.retries ?? 4, minDelayMs: 250, maxDelayMs: 8000, onRetry: opts.onRetry });
    this.headers = { Authorization: `Bearer ${opts.apiKey}`, 'User-Agent': opts.userAgent ?? 'kiln-sdk' };
    this.api = createClient<paths>({ baseUrl: this.url, fetch: this.fetch, headers: this.headers });
  }

  /** Unwraps an openapi-fetch result into its data, or throws a KilnError that says why. */
  private async call<T>(p: Promise<{ data?: T; error?: unknown; response: Response }>): Promise<T> {
    let result: { data?: T; error?: unknown; response: Response };
    try {
      result = await p;
    } catch (e) {
      const cause = (e as Error & { cause?: { code?: string; message?: string } }).cause;
      throw new KilnError(`cannot reach Kiln at ${this.url}: ${cause?.code ?? cause?.message ?? (e as Error).message}`, 'unreachable', null);
    }
    const { data, error, response } = result;
    if (response.ok) return data as T;
    if (response.status >= 500 || response.status === 429) {
      throw new KilnError(`Kiln at ${this.url} is unavailable: ${messageOf(error, response.status)} (HTTP ${response.status})`, 'unreachable', response.status, error);
    }
    throw new KilnError(messageOf(error, response.status), 'refused', response.status, error);
  }

  targets(): Promise<TargetCatalog> {
    return this.call(this.api.GET('/v1/targets'));
  }

  /** Creates a job. An idempotency key is always sent, so retries return the same job. */
  createJob(body: CreateJob, idempotencyKey: string = randomUUID()): Promise<Job> {
    return this.call(this.api.POST('/v1/jobs', { body, params: { header: { 'Idempotency-Key': idempotencyKey } } }));
  }

  getJob(id: string): Promise<Job> {
    return this.call(this.api.GET('/v1/jobs/{id}', { params: { path: { id } } }));
  }

  listJobs(query: { status?: 'queued' | 'running' | 'succeeded' | 'failed' | 'canceled'; limit?: number; cursor?: string; idPrefix?: string } = {}): Promise<JobList> {
    return this.call(this.api.GET('/v1/jobs', { params: { query } }));
  }

  cancelJob(id: string): Promise<Job> {
    return this.call(this.api.DELETE('/v1/jobs/{id}', { params: { path: { id } } }));
  }

  /** Deletes a finished job with its builds, artifacts and reports (a 409 while builds run: cancel first). */
  async deleteJob(id: string): Promise<void> {
    await this.call(this.api.DELETE('/v1/jobs/{id}', { params: { path: { id }, query: { purge: true } } }));
  }

  /** The tenant's uploads, newest first. */
  listUploads(query: { limit?: number; cursor?: string } = {}) {
    return this.call(this.api.GET('/v1/uploads', { params: { query } }));
  }

  /** Deletes an upload (a 409 while an unfinished job needs it). */
  async deleteUpload(id: string): Promise<void> {
    await this.call(this.api.DELETE('/v1/uploads/{id}', { params: { path: { id } } }));
  }

  upload(filename: string, bytes: Uint8Array, contentType = 'application/octet-stream'): Promise<Upload> {
    return this.call(
      this.api.POST('/v1/uploads', {
        params: { query: { filename } },
        body: bytes as unknown as string,
        bodySerializer: (b) => b as unknown as string,
        headers: { 'Content-Type': contentType },
      }),
    );
  }

  /** An artifact's bytes, following the redirect to presigned storage when there is one. */
  async download(artifactId: string): Promise<Buffer> {
    let res: Response;
    try {
      res = await this.fetch(`${this.url}/v1/artifacts/${encodeURIComponent(artifactId)}/content`, { headers: this.headers });
    } catch (e) {
      throw new KilnError(`cannot reach Kiln at ${this.url}: ${(e as Error).message}`, 'unreachable', null);
    }
    if (!res.ok) {
      const body = await res.json().catch(() => undefined);
      throw new KilnError(messageOf(body, res.status), res.status >= 500 ? 'unreachable' : 'refused', res.status, body);
    }
    return Buffer.from(await res.arrayBuffer());
  }

  listKeys() {
    return this.call(this.api.GET('/v1/keys'));
  }

  /** A new key; scopes default to read and build on the server. */
  createKey(name: string, scopes?: ('read' | 'build' | 'admin')[]): Promise<CreatedApiKey> {
    return this.call(this.api.POST('/v1/keys', { body: scopes ? { name, scopes } : { name } }));
  }

  async revokeKey(id: string): Promise<void> {
    await this.call(this.api.DELETE('/v1/keys/{id}', { params: { path: { id } } }));
  }

  /** The caller: its tenant and the key it used. */
  whoami() {
    return this.call(this.api.GET('/v1/whoami'));
  }

  /**
   * Polls a job until every build has finished, reporting each change. timeoutMs (default 30
   * minutes; Infinity for none) bounds the wait: past it, a KilnError of kind 'timeout', and the
   * job goes on.
   */
  async waitForJob(id: string, opts: { pollMs?: number; timeoutMs?: number; onUpdate?: (job: Job) => void } = {}): Promise<Job> {
    const deadline = Date.now() + (opts.timeoutMs ?? 30 * 60_000);
    let last = '';
    for (;;) {
      const job = await this.getJob(id);
      const fingerprint = JSON.stringify(job.builds.map((b) => [b.status, b.statusReason]));
      if (fingerprint !== last) {
        last = fingerprint;
        opts.onUpdate?.(job);
      }
      if (TERMINAL_JOB_STATUSES.includes(job.status)) return job;
      if (Date.now() > deadline) throw new KilnError(`job ${id} is still ${job.status} after ${Math.round((opts.timeoutMs ?? 0) / 1000)} s`, 'timeout', null);
      await new Promise((r) => setTimeout(r, opts.pollMs ?? 500));
    }
  }
}
