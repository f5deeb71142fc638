import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { applyEvent, buildTimeline, jobStatusOf } from './timeline';

const ev = (to: string, at: string, from: string | null = null) => ({ from, to, at: `2026-01-01T00:00:${at}Z`, worker: 'w1', message: null });

describe('buildTimeline', () => {
  it('gives each state its duration until the next change, and none to the final state', () => {
    const steps = buildTimeline({ status: 'succeeded', events: [ev('compiling', '01.000'), ev('queued', '00.500'), ev('compiled', '02.250'), ev('verifying', '02.500'), ev('succeeded', '04.000')] } as never);
    assert.deepEqual(steps.map((s) => [s.label, s.durationMs, s.tone]), [['Queued', 500, 'done'], ['Compiling', 1250, 'done'], ['Compiled', 250, 'done'], ['Verifying', 1500, 'done'], ['Succeeded', null, 'done']]);
    assert.equal(steps[4].current, true);
  });

  it('counts the current state of a running build until now, and marks failures', () => {
    const now = Date.parse('2026-01-01T00:00:05Z');
    const running = buildTimeline({ status: 'compiling', events: [ev('queued', '00'), ev('compiling', '02')] } as never, now);
    assert.deepEqual(running.map((s) => [s.durationMs, s.tone]), [[2000, 'done'], [3000, 'active']]);
    const failed = buildTimeline({ status: 'failed', events: [ev('queued', '00'), ev('failed', '02')] } as never, now);
    assert.equal(failed[1].tone, 'failed');
  });
});

describe('live updates', () => {
  it('applies a build event to its build only', () => {
    assert.deepEqual(applyEvent([{ id: 'a', status: 'queued' }, { id: 'b', status: 'queued' }], { buildId: 'b', to: 'compiling' }), [{ id: 'a', status: 'queued' }, { id: 'b', status: 'compiling' }]);
  });
  it('derives the job status as the API does', () => {
    assert.equal(jobStatusOf(['queued', 'waiting']), 'queued');
    assert.equal(jobStatusOf(['succeeded', 'compiling']), 'running');
    assert.equal(jobStatusOf(['succeeded', 'failed', 'canceled']), 'failed');
    assert.equal(jobStatusOf(['succeeded', 'canceled']), 'canceled');
    assert.equal(jobStatusOf(['succeeded', 'succeeded']), 'succeeded');
  });
});
