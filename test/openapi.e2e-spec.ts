import { strict as assert } from 'node:assert';
import { readFile } from 'node:fs/promises';
import { describe, it } from 'node:test';
import { generateSdkSchema, generateSpec, SDK_SCHEMA_PATH, SPEC_PATH } from '../scripts/openapi';

describe('the committed OpenAPI spec', () => {
  it('matches what the code generates (run `npm run openapi` when this fails)', async () => {
    const committed = await readFile(SPEC_PATH, 'utf8');
    assert.equal(committed, await generateSpec());
  });

  it('has SDK types generated from it (run `npm run openapi` when this fails)', async () => {
    const committed = await readFile(SDK_SCHEMA_PATH, 'utf8');
    assert.equal(committed, await generateSdkSchema(await readFile(SPEC_PATH, 'utf8')));
  });

  it('documents every resource with its errors', async () => {
    const spec = JSON.parse(await readFile(SPEC_PATH, 'utf8'));
    for (const path of ['/v1/jobs', '/v1/jobs/{id}', '/v1/uploads', '/v1/artifacts/{id}', '/v1/artifacts/{id}/content', '/v1/targets', '/v1/keys']) {
      assert.ok(spec.paths[path], `${path} is documented`);
    }
    assert.ok(spec.paths['/v1/jobs'].post.responses['400']);
    assert.ok(spec.paths['/v1/jobs'].post.responses['415'], 'a JSON body of another type is a 415');
    assert.equal(spec.paths['/v1/uploads'].post.responses['415'], undefined, 'uploads take any bytes');
    assert.ok(spec.components.securitySchemes.bearer);
  });
});
