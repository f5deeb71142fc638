import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig } from './config';

describe('loadConfig', () => {
  it('has embedded defaults for a single machine', () => {
    const c = loadConfig({});
    assert.equal(c.port, 8080);
    assert.equal(c.host, '127.0.0.1');
    assert.equal(c.storage.driver, 'fs');
    assert.deepEqual(c.worker.pools, ['cpu', 'wasm', 'cuda', 'rocm', 'verify-x86_64', 'verify-aarch64', 'verify-riscv64', 'verify-armv7', 'verify-wasm32', 'verify-cuda']);
    // GPU pools are served where their toolchains are installed, and GPU verification where a GPU is.
    assert.deepEqual(c.worker.optionalPools, ['cuda', 'rocm', 'verify-cuda']);
    assert.equal(c.worker.sandbox, 'bwrap');
    assert.equal(c.bootstrapApiKey, null);
    // Webhooks may not reach private addresses unless allowed; quotas and the rate limit are on.
    assert.equal(c.webhooks.allowPrivate, false);
    assert.deepEqual(c.quotas, { concurrentBuilds: 64, storageBytes: 10 * 1024 ** 3 });
    assert.equal(c.rateLimitPerMinute, 1200);
    assert.equal(c.authFailuresPerMinute, 30);
  });

  it('has a budget for reading models and a cap on event streams, and reads them', () => {
    const c = loadConfig({});
    assert.deepEqual(c.models, { checkThreads: 2, checkTimeoutMs: 10_000, checkMemoryMb: 512, maxNodes: 100_000 });
    assert.equal(c.maxEventStreamsPerTenant, 20);
    const set = loadConfig({ KILN_MODEL_CHECK_THREADS: '4', KILN_MODEL_CHECK_TIMEOUT_MS: '2500', KILN_MODEL_CHECK_MEMORY_MB: '1024', KILN_MODEL_MAX_NODES: '5000', KILN_MAX_EVENT_STREAMS_PER_TENANT: '0' });
    assert.deepEqual(set.models, { checkThreads: 4, checkTimeoutMs: 2500, checkMemoryMb: 1024, maxNodes: 5000 });
    assert.equal(set.maxEventStreamsPerTenant, 0);
    assert.throws(() => loadConfig({ KILN_MODEL_CHECK_MEMORY_MB: '16' }), (e: unknown) => e instanceof ConfigError && e.variable === 'KILN_MODEL_CHECK_MEMORY_MB');
  });

  it('reads the S3 settings', () => {
    const c = loadConfig({ KILN_STORAGE: 's3', KILN_S3_ENDPOINT: 'https://minio.internal:9443', KILN_S3_ACCESS_KEY: 'a', KILN_S3_SECRET_KEY: 'b', KILN_S3_BUCKET: 'artifacts' });
    assert.deepEqual(c.storage, { driver: 's3', endPoint: 'minio.internal', port: 9443, useSSL: true, accessKey: 'a', secretKey: 'b', bucket: 'artifacts', region: 'us-east-1', pathStyle: true, publicEndpoint: null });
  });

  it('fails fast and names the bad variable', () => {
    const cases: [Record<string, string>, string, RegExp][] = [
      [{ KILN_PORT: 'eighty' }, 'KILN_PORT', /whole number/],
      [{ KILN_PORT: '70000' }, 'KILN_PORT', /between/],
      [{ KILN_STORAGE: 'ftp' }, 'KILN_STORAGE', /one of fs, s3/],
      [{ KILN_STORAGE: 's3' }, 'KILN_S3_ACCESS_KEY', /required/],
      [{ KILN_DATABASE_URL: 'mysql://x' }, 'KILN_DATABASE_URL', /postgres/],
      [{ KILN_REDIS_URL: 'not a url' }, 'KILN_REDIS_URL', /not a valid URL/],
      [{ KILN_POOLS: 'cpu,Bad Pool' }, 'KILN_POOLS', /not a valid pool/],
      [{ KILN_BOOTSTRAP_API_KEY: 'short' }, 'KILN_BOOTSTRAP_API_KEY', /16 characters/],
      [{ KILN_SANDBOX: 'docker' }, 'KILN_SANDBOX', /bwrap, none/],
      [{ KILN_CORS_ORIGINS: 'console.example.com' }, 'KILN_CORS_ORIGINS', /not an origin/],
      [{ KILN_WEBHOOK_ALLOW_PRIVATE: 'maybe' }, 'KILN_WEBHOOK_ALLOW_PRIVATE', /true or false/],
      [{ KILN_WEBHOOK_MAX_ATTEMPTS: '0' }, 'KILN_WEBHOOK_MAX_ATTEMPTS', /between 1 and 100/],
      [{ KILN_QUOTA_CONCURRENT_BUILDS: '-1' }, 'KILN_QUOTA_CONCURRENT_BUILDS', /whole number/],
      [{ KILN_RATE_LIMIT_PER_MINUTE: 'lots' }, 'KILN_RATE_LIMIT_PER_MINUTE', /whole number/],
    ];
    for (const [env, variable, message] of cases) {
      assert.throws(() => loadConfig(env), (e: unknown) => e instanceof ConfigError && e.variable === variable && message.test(e.message), variable);
    }
  });
});
