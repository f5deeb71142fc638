import { hostname, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { DEFAULT_MAX_NODES } from '../models/onnx-prescan';
import type { S3Options } from '../storage/s3-object-store';

/**
 * Kiln's configuration, read once from the environment and validated at start-up.
 * Nothing else in the code base reads process.env: everything gets a KilnConfig.
 */
export interface KilnConfig {
  host: string;
  port: number;
  databaseUrl: string;
  redisUrl: string;
  queuePrefix: string;
  storage: StorageConfig;
  bootstrapApiKey: string | null;
  maxUploadBytes: number;
  /** Caps on what an uploaded project archive may expand to. */
  archiveLimits: { maxFiles: number; maxBytes: number };
  maxRequestBytes: number;
  downloadUrlTtlSeconds: number;
  logLevel: LogLevel;
  logFormat: 'json' | 'text';
  /** Origins allowed to call the API from a browser (CORS); empty: none. */
  corsOrigins: string[];
  /** When set, GET /metrics needs it as a bearer token. */
  metricsToken: string | null;
  webhooks: WebhookConfig;
  quotas: QuotaConfig;
  /** Requests per minute per tenant, shared across API instances through Redis; 0: no limit. */
  rateLimitPerMinute: number;
  /** Requests without a valid API key per minute per client address (through Redis); 0: no limit. */
  authFailuresPerMinute: number;
  models: ModelCheckConfig;
  /** Event streams (GET /v1/jobs/{id}/events) a tenant may hold open at once, across API instances; 0: no limit. */
  maxEventStreamsPerTenant: number;
  worker: WorkerConfig;
}

/** How the API reads uploaded models (inspection, job creation): off its event loop, within a budget. */
export interface ModelCheckConfig {
  /** Worker threads that read models at once. */
  checkThreads: number;
  /** How long reading one model may take; past it, a 422. */
  checkTimeoutMs: number;
  /** The heap of each model-reading thread in MB; a model that needs more is a 422. */
  checkMemoryMb: number;
  /** Nodes a model may have, its subgraphs and functions included; more is a 400. */
  maxNodes: number;
}

export interface WebhookConfig {
  /** Allow callback URLs that resolve to loopback, private, link-local or metadata addresses. */
  allowPrivate: boolean;
  maxAttempts: number;
  /** Delay before the first retry; each further retry waits twice as long. */
  backoffMs: number;
  timeoutMs: number;
  /** Worker: deliveries at once; 0: this worker delivers no webhooks. */
  concurrency: number;
}

/** Defaults for every tenant; a tenant's own limits (set with scripts/tenant) replace them. 0: no limit. */
export interface QuotaConfig {
  concurrentBuilds: number;
  storageBytes: number;
}

export type LogLevel = 'error' | 'warn' | 'log' | 'debug' | 'verbose';

export type StorageConfig =
  | { driver: 'fs'; dir: string }
  | ({ driver: 's3' } & S3Options & { publicEndpoint: S3Options['publicEndpoint'] });

export interface WorkerConfig {
  id: string;
  pools: string[];
  /** Pools given as "name?": served when this machine has their toolchains, skipped otherwise. */
  optionalPools: string[];
  /** How long a worker's claim on a queue job lasts unless renewed; a dead worker's jobs are retried after it. */
  jobLockMs: number;
  /** On SIGTERM, how long a worker lets its running builds finish before it exits. */
  shutdownGraceMs: number;
  /** How often a worker looks for builds whose queue entry was lost (one worker at a time). */
  sweepSeconds: number;
  /**
   * How long a compiled build waits, seconds, while no live runner serves its verify pool, when
   * its job gives no verify.deviceWaitSeconds; then it ends with verification not-run.
   */
  deviceWaitSeconds: number;
  concurrency: number;
  compileTimeoutMs: number;
  sandbox: 'bwrap' | 'none';
  workRoot: string;
  heartbeatSeconds: number;
  /**
   * The user a worker started as root runs as: it keeps a small privileged helper for what
   * needs root (the build folders' mounts, the cgroup folders) and drops root itself before it
   * touches a tenant's file. Null: run as started.
   */
  user: string | null;
  /** Limits of each build and verification run as a whole (all its processes and files). */
  limits: BuildLimitsConfig;
}

export interface BuildLimitsConfig {
  /** auto: where the host allows (root, or delegated cgroups); required: refuse to start without; off. */
  mode: 'auto' | 'required' | 'off';
  memoryBytes: number;
  processes: number;
  cpus: number;
  diskBytes: number;
}

export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(`${variable}: ${message}`);
    this.name = 'ConfigError';
  }
}

type Env = Record<string, string | undefined>;

function str(env: Env, name: string, fallback: string): string {
  const v = env[name];
  return v === undefined || v === '' ? fallback : v;
}

function int(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!/^\d+$/.test(raw)) throw new ConfigError(name, `expected a whole number, got "${raw}"`);
  const n = Number(raw);
  if (n < min || n > max) throw new ConfigError(name, `must be between ${min} and ${max}, got ${n}`);
  return n;
}

function num(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!/^\d+(\.\d+)?$/.test(raw)) throw new ConfigError(name, `expected a number, got "${raw}"`);
  const n = Number(raw);
  if (n < min || n > max) throw new ConfigError(name, `must be between ${min} and ${max}, got ${n}`);
  return n;
}

function oneOf<T extends string>(env: Env, name: string, fallback: T, allowed: readonly T[]): T {
  const v = str(env, name, fallback);
  if (!allowed.includes(v as T)) {
    throw new ConfigError(name, `must be one of ${allowed.join(', ')}, got "${v}"`);
  }
  return v as T;
}

function bool(env: Env, name: string, fallback: boolean): boolean {
  const v = env[name];
  if (v === undefined || v === '') return fallback;
  if (/^(1|true|yes|on)$/i.test(v)) return true;
  if (/^(0|false|no|off)$/i.test(v)) return false;
  throw new ConfigError(name, `expected true or false, got "${v}"`);
}

function url(env: Env, name: string, fallback: string, protocols: string[]): string {
  const v = str(env, name, fallback);
  let parsed: URL;
  try {
    parsed = new URL(v);
  } catch {
    throw new ConfigError(name, `is not a valid URL: "${v}"`);
  }
  if (!protocols.includes(parsed.protocol)) {
    throw new ConfigError(name, `must use ${protocols.join(' or ')}, got "${parsed.protocol}"`);
  }
  return v;
}

function corsOrigins(env: Env): string[] {
  const raw = str(env, 'KILN_CORS_ORIGINS', '');
  const origins = raw.split(',').map((o) => o.trim()).filter(Boolean);
  for (const o of origins) {
    if (o !== '*' && !/^https?:\/\/[^/\s]+$/.test(o)) throw new ConfigError('KILN_CORS_ORIGINS', `"${o}" is not an origin such as https://console.example.com`);
  }
  return origins;
}

export const DEFAULT_POOLS = ['cpu', 'wasm', 'cuda?', 'rocm?', 'verify-x86_64', 'verify-aarch64', 'verify-riscv64', 'verify-armv7', 'verify-wasm32', 'verify-cuda?'];

export function loadConfig(env: Env = process.env): KilnConfig {
  const driver = oneOf(env, 'KILN_STORAGE', 'fs', ['fs', 's3'] as const);
  let storage: StorageConfig;
  if (driver === 'fs') {
    storage = { driver, dir: resolve(str(env, 'KILN_STORAGE_DIR', 'data/objects')) };
  } else {
    const endpoint = url(env, 'KILN_S3_ENDPOINT', 'http://127.0.0.1:9000', ['http:', 'https:']);
    const u = new URL(endpoint);
    const accessKey = str(env, 'KILN_S3_ACCESS_KEY', '');
    const secretKey = str(env, 'KILN_S3_SECRET_KEY', '');
    if (!accessKey) throw new ConfigError('KILN_S3_ACCESS_KEY', 'is required when KILN_STORAGE=s3');
    if (!secretKey) throw new ConfigError('KILN_S3_SECRET_KEY', 'is required when KILN_STORAGE=s3');
    const bucket = str(env, 'KILN_S3_BUCKET', 'kiln');
    if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) {
      throw new ConfigError('KILN_S3_BUCKET', `"${bucket}" is not a valid bucket name`);
    }
    storage = {
      driver,
      endPoint: u.hostname,
      port: u.port ? Number(u.port) : u.protocol === 'https:' ? 443 : 80,
      useSSL: u.protocol === 'https:',
      accessKey,
      secretKey,
      bucket,
      region: str(env, 'KILN_S3_REGION', 'us-east-1'),
      pathStyle: bool(env, 'KILN_S3_PATH_STYLE', true),
      publicEndpoint: null,
    };
    const pub = env.KILN_S3_PUBLIC_ENDPOINT;
    if (pub) {
      const p = new URL(url(env, 'KILN_S3_PUBLIC_ENDPOINT', pub, ['http:', 'https:']));
      storage.publicEndpoint = { endPoint: p.hostname, port: p.port ? Number(p.port) : p.protocol === 'https:' ? 443 : 80, useSSL: p.protocol === 'https:' };
    }
  }

  const poolList = str(env, 'KILN_POOLS', DEFAULT_POOLS.join(','))
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean);
  for (const p of poolList) {
    if (!/^[a-z0-9][a-z0-9_-]*\??$/.test(p)) throw new ConfigError('KILN_POOLS', `"${p}" is not a valid pool name (a trailing ? marks a pool served only where its toolchains are installed)`);
  }
  const pools = poolList.map((p) => p.replace(/\?$/, ''));
  const optionalPools = poolList.filter((p) => p.endsWith('?')).map((p) => p.slice(0, -1));

  const bootstrap = str(env, 'KILN_BOOTSTRAP_API_KEY', '');
  if (bootstrap && bootstrap.length < 16) {
    throw new ConfigError('KILN_BOOTSTRAP_API_KEY', 'must be at least 16 characters long');
  }

  return {
    host: str(env, 'KILN_HOST', '127.0.0.1'),
    port: int(env, 'KILN_PORT', 8080, 0, 65535),
    databaseUrl: url(env, 'KILN_DATABASE_URL', 'postgres://postgres@127.0.0.1:5432/kiln', ['postgres:', 'postgresql:']),
    redisUrl: url(env, 'KILN_REDIS_URL', 'redis://127.0.0.1:6379', ['redis:', 'rediss:']),
    queuePrefix: str(env, 'KILN_QUEUE_PREFIX', 'kiln'),
    storage,
    bootstrapApiKey: bootstrap || null,
    maxUploadBytes: int(env, 'KILN_MAX_UPLOAD_BYTES', 512 * 1024 * 1024, 1, 2 ** 40),
    archiveLimits: {
      maxFiles: int(env, 'KILN_ARCHIVE_MAX_FILES', 2000, 1, 1_000_000),
      maxBytes: int(env, 'KILN_ARCHIVE_MAX_BYTES', 256 * 1024 * 1024, 1, 2 ** 40),
    },
    maxRequestBytes: int(env, 'KILN_MAX_REQUEST_BYTES', 4 * 1024 * 1024, 1024, 2 ** 30),
    downloadUrlTtlSeconds: int(env, 'KILN_DOWNLOAD_URL_TTL_SECONDS', 300, 1, 7 * 24 * 3600),
    logLevel: oneOf(env, 'KILN_LOG_LEVEL', 'log', ['error', 'warn', 'log', 'debug', 'verbose'] as const),
    logFormat: oneOf(env, 'KILN_LOG_FORMAT', 'text', ['json', 'text'] as const),
    corsOrigins: corsOrigins(env),
    metricsToken: str(env, 'KILN_METRICS_TOKEN', '') || null,
    webhooks: {
      allowPrivate: bool(env, 'KILN_WEBHOOK_ALLOW_PRIVATE', false),
      maxAttempts: int(env, 'KILN_WEBHOOK_MAX_ATTEMPTS', 10, 1, 100),
      backoffMs: int(env, 'KILN_WEBHOOK_BACKOFF_MS', 30_000, 10, 24 * 3600 * 1000),
      timeoutMs: int(env, 'KILN_WEBHOOK_TIMEOUT_MS', 10_000, 100, 120_000),
      concurrency: int(env, 'KILN_WEBHOOK_CONCURRENCY', 4, 0, 256),
    },
    quotas: {
      concurrentBuilds: int(env, 'KILN_QUOTA_CONCURRENT_BUILDS', 64, 0, 1_000_000),
      storageBytes: int(env, 'KILN_QUOTA_STORAGE_BYTES', 10 * 1024 ** 3, 0, 2 ** 50),
    },
    rateLimitPerMinute: int(env, 'KILN_RATE_LIMIT_PER_MINUTE', 1200, 0, 10_000_000),
    authFailuresPerMinute: int(env, 'KILN_AUTH_FAILURES_PER_MINUTE', 30, 0, 10_000_000),
    models: {
      checkThreads: int(env, 'KILN_MODEL_CHECK_THREADS', 2, 1, 64),
      checkTimeoutMs: int(env, 'KILN_MODEL_CHECK_TIMEOUT_MS', 10_000, 100, 600_000),
      checkMemoryMb: int(env, 'KILN_MODEL_CHECK_MEMORY_MB', 512, 64, 65_536),
      maxNodes: int(env, 'KILN_MODEL_MAX_NODES', DEFAULT_MAX_NODES, 1, 10_000_000),
    },
    maxEventStreamsPerTenant: int(env, 'KILN_MAX_EVENT_STREAMS_PER_TENANT', 20, 0, 1_000_000),
    worker: {
      id: str(env, 'KILN_WORKER_ID', `${hostname()}-${process.pid}`),
      pools,
      optionalPools,
      jobLockMs: int(env, 'KILN_JOB_LOCK_MS', 60_000, 2_000, 3_600_000),
      shutdownGraceMs: int(env, 'KILN_SHUTDOWN_GRACE_MS', 70_000, 0, 3_600_000),
      sweepSeconds: int(env, 'KILN_SWEEP_SECONDS', 30, 1, 86_400),
      deviceWaitSeconds: int(env, 'KILN_VERIFY_DEVICE_WAIT_SECONDS', 900, 0, 7 * 24 * 3600),
      concurrency: int(env, 'KILN_WORKER_CONCURRENCY', 2, 1, 256),
      compileTimeoutMs: int(env, 'KILN_COMPILE_TIMEOUT_MS', 60_000, 100, 3_600_000),
      sandbox: oneOf(env, 'KILN_SANDBOX', 'bwrap', ['bwrap', 'none'] as const),
      // Under the system temp folder by default: the sandbox user must be able to reach it.
      workRoot: resolve(str(env, 'KILN_WORK_DIR', join(tmpdir(), 'kiln-work'))),
      user: str(env, 'KILN_WORKER_USER', '') || null,
      limits: {
        mode: oneOf(env, 'KILN_BUILD_LIMITS', 'auto', ['auto', 'required', 'off'] as const),
        memoryBytes: int(env, 'KILN_BUILD_MEMORY_BYTES', 4 * 1024 ** 3, 16 * 1024 ** 2, 2 ** 44),
        processes: int(env, 'KILN_BUILD_PROCESSES', 256, 8, 100_000),
        cpus: num(env, 'KILN_BUILD_CPUS', 2, 0.05, 1024),
        diskBytes: int(env, 'KILN_BUILD_DISK_BYTES', 4 * 1024 ** 3, 16 * 1024 ** 2, 2 ** 44),
      },
      heartbeatSeconds: int(env, 'KILN_HEARTBEAT_SECONDS', 5, 1, 300),
    },
  };
}

export const KILN_CONFIG = Symbol('KILN_CONFIG');
