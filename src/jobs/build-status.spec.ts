import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { deriveJobStatus } from './build-status';

describe('deriveJobStatus', () => {
  it('is queued until a build starts, running until all finish', () => {
    assert.equal(deriveJobStatus(['queued', 'waiting']), 'queued');
    assert.equal(deriveJobStatus(['queued', 'compiling']), 'running');
    assert.equal(deriveJobStatus(['succeeded', 'verifying']), 'running');
  });
  it('fails if any build failed, is canceled if any was canceled, succeeds only if all did', () => {
    assert.equal(deriveJobStatus(['succeeded', 'failed', 'canceled']), 'failed');
    assert.equal(deriveJobStatus(['succeeded', 'canceled']), 'canceled');
    assert.equal(deriveJobStatus(['succeeded', 'succeeded']), 'succeeded');
  });
});
