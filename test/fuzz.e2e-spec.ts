import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as fc from 'fast-check';
import { Kiln, startKiln } from './support/harness';

/**
 * Fuzzing the API from its own OpenAPI spec: for every operation, requests built from the
 * schemas (valid ones, and ones with wrong types, missing or extra fields, hostile strings and
 * random JSON) must never get a 5xx and never hang. Bounded in count and time; the seed is
 * printed so a failure can be replayed (KILN_FUZZ_SEED).
 */
type Schema = { type?: string; enum?: unknown[]; properties?: Record<string, Schema>; required?: string[]; items?: Schema; $ref?: string; oneOf?: Schema[]; anyOf?: Schema[]; allOf?: Schema[]; additionalProperties?: boolean | Schema; format?: string; nullable?: boolean; minimum?: number; maximum?: number };
type Operation = { parameters?: { name: string; in: string; schema?: Schema; required?: boolean }[]; requestBody?: { content: Record<string, { schema?: Schema }> } };

const SPEC = JSON.parse(readFileSync(join(__dirname, '../../openapi/openapi.json'), 'utf8')) as { paths: Record<string, Record<string, Operation>>; components: { schemas: Record<string, Schema> } };
const PER_OPERATION = Number(process.env.KILN_FUZZ_RUNS ?? 150);
const SEED = Number(process.env.KILN_FUZZ_SEED ?? Date.now() % 1_000_000);

const hostileString = fc.oneof(
  fc.string(),
  fc.constantFrom('', ' ', '../../etc/passwd', '/etc/passwd', '%00', '\u0000', '\uD800', 'a'.repeat(10_000), '${jndi:ldap://x}', "'; DROP TABLE jobs; --", '<script>alert(1)</script>', '-fplugin=/tmp/x.so', '@/etc/passwd', 'NaN', '-1', '1e309', '\u202e\u0644', 'x86_64-linux-gnu'),
  fc.uuid(),
);

function resolve(schema: Schema): Schema {
  if (schema.$ref) return resolve(SPEC.components.schemas[schema.$ref.split('/').pop()!]);
  return schema;
}

/** Values that follow the schema (mostly), with hostile strings where strings go. */
function valid(schemaIn: Schema, depth = 0): fc.Arbitrary<unknown> {
  const schema = resolve(schemaIn);
  if (depth > 5) return fc.constant(null);
  if (schema.enum) return fc.constantFrom(...schema.enum);
  if (schema.oneOf || schema.anyOf) return fc.oneof(...(schema.oneOf ?? schema.anyOf)!.map((s) => valid(s, depth + 1)));
  if (schema.allOf) return valid(schema.allOf[0], depth + 1);
  switch (schema.type) {
    case 'string':
      return schema.format === 'uuid' ? fc.oneof(fc.uuid(), hostileString) : hostileString;
    case 'integer':
      return fc.oneof(fc.integer({ min: schema.minimum ?? -1000, max: schema.maximum ?? 100_000 }), fc.constantFrom(0, -1, 2 ** 31, Number.MAX_SAFE_INTEGER));
    case 'number':
      return fc.oneof(fc.double({ noNaN: true }), fc.constantFrom(0, -0, 1e308, -1e-308));
    case 'boolean':
      return fc.boolean();
    case 'array':
      return fc.array(valid(schema.items ?? {}, depth + 1), { maxLength: 4 });
    case 'object':
    default: {
      if (!schema.properties) return fc.dictionary(fc.string({ maxLength: 8 }), fc.oneof(hostileString, fc.integer()), { maxKeys: 3 });
      const entries = Object.entries(schema.properties).map(([k, s]) => [k, valid(s, depth + 1)] as const);
      return fc.record(Object.fromEntries(entries), { requiredKeys: (schema.required ?? []).filter((k) => k in schema.properties!) });
    }
  }
}

/** Valid values, or a mutation of them, or anything at all. */
function fuzzed(schema: Schema): fc.Arbitrary<unknown> {
  return fc.oneof(
    { weight: 3, arbitrary: valid(schema) },
    { weight: 1, arbitrary: fc.anything({ maxDepth: 3 }) },
    { weight: 1, arbitrary: valid(schema).map((v) => (v && typeof v === 'object' && !Array.isArray(v) ? { ...v, unexpectedField: 1 } : [v])) },
  );
}

/** Percent-encodes; a lone surrogate (which encodeURIComponent refuses) becomes invalid UTF-8. */
function encode(s: string): string {
  try {
    return encodeURIComponent(s);
  } catch {
    return '%ED%A0%80';
  }
}

describe('fuzzing the API from its OpenAPI spec', () => {
  let kiln: Kiln;
  const failures: string[] = [];
  before(async () => {
    // No worker: jobs the fuzzer manages to create wait, and nothing is compiled.
    kiln = await startKiln({ storage: 'fs', worker: false });
    console.log(`fuzz seed ${SEED} (replay with KILN_FUZZ_SEED=${SEED})`);
  });
  after(async () => {
    await kiln?.close();
  });

  for (const [path, ops] of Object.entries(SPEC.paths)) {
    for (const [method, op] of Object.entries(ops)) {
      it(`${method.toUpperCase()} ${path} never answers 5xx or hangs`, async () => {
        const params = op.parameters ?? [];
        const bodySchema = op.requestBody?.content['application/json']?.schema;
        const octet = op.requestBody?.content['application/octet-stream'] !== undefined;
        const request = fc.record({
          path: fc.record(Object.fromEntries(params.filter((p) => p.in === 'path').map((p) => [p.name, fc.oneof(fc.uuid(), hostileString)]))),
          query: fc.record(Object.fromEntries(params.filter((p) => p.in === 'query').map((p) => [p.name, fuzzed(p.schema ?? { type: 'string' })])), { requiredKeys: [] }),
          headers: fc.record(Object.fromEntries(params.filter((p) => p.in === 'header').map((p) => [p.name, fc.string({ maxLength: 300 }).filter((s) => /^[\x20-\x7e]*$/.test(s))])), { requiredKeys: [] }),
          body: bodySchema ? fuzzed(bodySchema) : octet ? fc.uint8Array({ maxLength: 2048 }) : fc.constant(undefined),
          auth: fc.constantFrom('key', 'key', 'key', 'none', 'garbage'),
        });
        await fc.assert(
          fc.asyncProperty(request, async (r) => {
            let url = path.replace(/\{(\w+)\}/g, (_, name) => encode(String((r.path as Record<string, unknown>)[name])));
            const q = new URLSearchParams();
            for (const [k, v] of Object.entries(r.query)) q.set(k, typeof v === 'string' ? v : JSON.stringify(v));
            if ([...q].length) url += `?${q}`;
            const headers: Record<string, string> = { ...(r.headers as Record<string, string>) };
            if (r.auth === 'key') headers.Authorization = `Bearer ${kiln.apiKey}`;
            if (r.auth === 'garbage') headers.Authorization = 'Bearer \u00ff\u00fe-not-a-key';
            let body: string | Uint8Array | undefined;
            if (r.body instanceof Uint8Array) {
              headers['Content-Type'] = 'application/octet-stream';
              body = r.body;
            } else if (r.body !== undefined) {
              headers['Content-Type'] = 'application/json';
              body = JSON.stringify(r.body);
            }
            const res = await fetch(kiln.baseUrl + url, { method: method.toUpperCase(), headers, body, signal: AbortSignal.timeout(10_000) });
            const text = res.headers.get('content-type')?.includes('text/event-stream') ? '' : await res.text();
            if (res.status >= 500) failures.push(`${method.toUpperCase()} ${url} -> ${res.status} ${text.slice(0, 200)}`);
            return res.status < 500;
          }),
          { numRuns: PER_OPERATION, seed: SEED, endOnFailure: true, interruptAfterTimeLimit: 60_000 },
        );
      });
    }
  }

  it('and the API still answers normally afterwards', async () => {
    assert.deepEqual(failures, []);
    assert.equal((await kiln.http().get('/v1/targets').set(kiln.auth)).status, 200);
  });
});
