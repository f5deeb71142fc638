import 'reflect-metadata';
import { randomBytes, randomUUID } from 'node:crypto';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { Client } from 'pg';
import S3rver from 's3rver';
import request from 'supertest';
import { migrate } from '../../scripts/migrate';
import { createApi } from '../../src/bootstrap';
import { createLogger } from '../../src/common/logger';
import { KilnConfig, loadConfig } from '../../src/config/config';
import { WorkerModule } from '../../workers/worker.module';

export const ADMIN_DATABASE_URL = process.env.KILN_TEST_DATABASE_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
export const REDIS_URL = process.env.KILN_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** Whether a process with this id is running (on this machine). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Drops the test databases of processes that have exited without dropping theirs (a test run
 * or load script killed midway): their names carry the process id that made them.
 */
async function dropAbandonedDatabases(adminUrl: string): Promise<void> {
  const c = new Client({ connectionString: adminUrl });
  await c.connect();
  try {
    const { rows } = await c.query<{ datname: string }>(`SELECT datname FROM pg_database WHERE datname ~ '^kiln_test_[0-9]+_[0-9a-f]+$'`);
    for (const { datname } of rows) {
      if (!alive(Number(datname.split('_')[2]))) await c.query(`DROP DATABASE IF EXISTS "${datname}" WITH (FORCE)`);
    }
  } finally {
    await c.end();
  }
}

/** A database of its own for one test file, migrated; dropped at the end (or by a later run, if this process is killed first). */
export async function createTestDatabase(adminUrl = ADMIN_DATABASE_URL): Promise<{ url: string; drop: () => Promise<void> }> {
  await dropAbandonedDatabases(adminUrl);
  const name = `kiln_test_${process.pid}_${randomBytes(6).toString('hex')}`;
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  await migrate(url.toString(), () => undefined);
  return {
    url: url.toString(),
    drop: async () => {
      const c = new Client({ connectionString: adminUrl });
      await c.connect();
      try {
        await c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      } finally {
        await c.end();
      }
    },
  };
}

export interface S3Server {
  env: Record<string, string>;
  directory: string;
  /** Stops answering (connections are refused), keeping what it stores. */
  stop: () => Promise<void>;
  /** Answers again on the same port, with what it stored. */
  start: () => Promise<void>;
  close: () => Promise<void>;
}

/** A real S3 protocol server on loopback, with its own directory. */
export async function startS3(): Promise<S3Server> {
  const directory = await mkdtemp(join(tmpdir(), 'kiln-s3-'));
  let server = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory, vhostBuckets: false });
  const { port } = await server.run();
  let running = true;
  return {
    directory,
    stop: async () => {
      if (running) await server.close();
      running = false;
    },
    start: async () => {
      if (running) return;
      server = new S3rver({ address: '127.0.0.1', port, silent: true, directory, vhostBuckets: false });
      await server.run();
      running = true;
    },
    env: {
      KILN_STORAGE: 's3',
      KILN_S3_ENDPOINT: `http://127.0.0.1:${port}`,
      KILN_S3_ACCESS_KEY: 'S3RVER',
      KILN_S3_SECRET_KEY: 'S3RVER',
      KILN_S3_BUCKET: `kiln-${randomBytes(4).toString('hex')}`,
    },
    close: async () => {
      if (running) await server.close();
      await rm(directory, { recursive: true, force: true });
    },
  };
}

export interface Kiln {
  config: KilnConfig;
  /** The environment the API was configured from, for starting workers as separate processes. */
  env: Record<string, string>;
  api: NestExpressApplication;
  baseUrl: string;
  apiKey: string;
  http: () => ReturnType<typeof request>;
  auth: { Authorization: string };
  startWorker: (overrides?: Record<string, string>) => Promise<INestApplicationContext>;
  /** The S3 protocol server, when storage is s3. */
  s3: S3Server | null;
  close: () => Promise<void>;
}

/**
 * Starts the API (and, unless told otherwise, one worker) against real Postgres, Redis and
 * object storage, isolated from other tests by their own database, queue prefix and storage.
 */
export async function startKiln(opts: { storage?: 'fs' | 's3'; worker?: boolean; env?: Record<string, string>; adminDatabaseUrl?: string } = {}): Promise<Kiln> {
  const db = await createTestDatabase(opts.adminDatabaseUrl);
  const s3 = opts.storage === 's3' ? await startS3() : null;
  const scratch = await mkdtemp(join(tmpdir(), 'kiln-test-'));
  await chmod(scratch, 0o711); // the sandbox user must reach the work folder below it
  const apiKey = `test-${randomUUID()}`;
  const env: Record<string, string> = {
    KILN_DATABASE_URL: db.url,
    KILN_REDIS_URL: REDIS_URL,
    KILN_QUEUE_PREFIX: `kiln-test-${randomBytes(4).toString('hex')}`,
    KILN_STORAGE_DIR: join(scratch, 'objects'),
    KILN_WORK_DIR: join(scratch, 'work'),
    KILN_BOOTSTRAP_API_KEY: apiKey,
    KILN_PORT: '0',
    KILN_LOG_LEVEL: process.env.KILN_TEST_LOG_LEVEL ?? 'error',
    KILN_HEARTBEAT_SECONDS: '1',
    // Test receivers listen on loopback; polling helpers would trip the rate limit, and tests
    // of bad keys the limit of requests without a valid key (all from 127.0.0.1). Tests of
    // those features set their own values.
    KILN_WEBHOOK_ALLOW_PRIVATE: 'true',
    KILN_RATE_LIMIT_PER_MINUTE: '0',
    KILN_AUTH_FAILURES_PER_MINUTE: '0',
    ...(s3?.env ?? {}),
    ...opts.env,
  };
  const config = loadConfig(env);
  const api = await createApi(config);
  await api.listen(0, '127.0.0.1');
  const address = api.getHttpServer().address() as { port: number };
  const baseUrl = `http://127.0.0.1:${address.port}`;
  const workers: INestApplicationContext[] = [];
  const startWorker = async (overrides: Record<string, string> = {}) => {
    const wconfig = loadConfig({ ...env, KILN_WORKER_ID: `test-worker-${randomBytes(3).toString('hex')}`, ...overrides });
    const w = await NestFactory.createApplicationContext(WorkerModule.register(wconfig), { logger: createLogger(wconfig) });
    await w.init();
    workers.push(w);
    return w;
  };
  if (opts.worker !== false) await startWorker();
  return {
    config,
    env,
    api,
    baseUrl,
    apiKey,
    http: () => request(baseUrl),
    auth: { Authorization: `Bearer ${apiKey}` },
    startWorker,
    s3,
    close: async () => {
      for (const w of workers.reverse()) await w.close().catch(() => undefined);
      await api.close();
      await s3?.close();
      await db.drop();
      await rm(scratch, { recursive: true, force: true });
    },
  };
}

export interface JobView {
  id: string;
  status: string;
  builds: {
    id: string;
    status: string;
    statusReason: string | null;
    target: { name: string; requested: string; triple: string; cpu: string | null };
    toolchain: { key: string; version: string } | null;
    diagnostics: { file: string | null; line: number | null; column: number | null; severity: string; message: string }[];
    artifacts: { id: string; kind: string; name: string; size: number; sha256: string; contentUrl: string }[];
    events: { from: string | null; to: string; worker: string | null }[];
    timings: Record<string, number | null>;
    verification?: { status: string; summary: string; runner: string } | null;
  }[];
}

/** Polls a job until it reaches a terminal status. */
export async function waitForJob(kiln: Kiln, id: string, timeoutMs = 120_000): Promise<JobView> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const res = await kiln.http().get(`/v1/jobs/${id}`).set(kiln.auth);
    if (res.status !== 200) throw new Error(`GET /v1/jobs/${id}: ${res.status} ${JSON.stringify(res.body)}`);
    if (['succeeded', 'failed', 'canceled'].includes(res.body.status)) return res.body as JobView;
    if (Date.now() > deadline) throw new Error(`job ${id} still ${res.body.status} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Downloads an artifact's bytes, following a redirect to presigned storage if there is one. */
export async function download(kiln: Kiln, artifactId: string): Promise<Buffer> {
  const res = await kiln.http().get(`/v1/artifacts/${artifactId}/content`).set(kiln.auth).buffer(true).parse(binaryParser);
  if (res.status === 302) {
    const direct = await fetch(res.headers.location);
    if (!direct.ok) throw new Error(`presigned download failed: ${direct.status}`);
    return Buffer.from(await direct.arrayBuffer());
  }
  if (res.status !== 200) throw new Error(`download ${artifactId}: ${res.status}`);
  return res.body as Buffer;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function binaryParser(res: any, cb: (err: Error | null, body: Buffer) => void): void {
  const chunks: Buffer[] = [];
  res.on('data', (c: Buffer) => chunks.push(Buffer.from(c)));
  res.on('end', () => cb(null, Buffer.concat(chunks)));
}

/** ELF e_machine values, for checking what an artifact was built for. */
export const ELF_MACHINE = { x86_64: 62, aarch64: 183, riscv: 243, arm: 40 } as const;

export function elfMachine(bytes: Buffer): number {
  if (bytes.subarray(0, 4).toString('latin1') !== '\x7fELF') throw new Error('not an ELF file');
  return bytes.readUInt16LE(18);
}
