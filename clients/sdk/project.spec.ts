import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { LANGUAGE_SPECS } from '../../src/jobs/languages';
import type { Job } from './index';
import { buildFolders, outcomeOf, SOURCE_LANGUAGES } from './project';

describe('the SDK\'s source collection', () => {
  it('knows the files of every language the service builds, as the service\'s language table has them', () => {
    assert.deepEqual(Object.keys(SOURCE_LANGUAGES).sort(), LANGUAGE_SPECS.map((l) => l.name).sort());
    for (const l of LANGUAGE_SPECS) {
      const mine = SOURCE_LANGUAGES[l.name];
      assert.deepEqual({ units: mine.units, headers: [...mine.headers].sort(), files: mine.files, aliases: mine.aliases }, { units: l.units, headers: [...l.headers].sort(), files: l.files, aliases: l.aliases }, l.name);
    }
  });
});

describe('buildFolders', () => {
  it('gives each build its own folder: the requested name, then the CPU and features where two share it, then the position', () => {
    const build = (requested: string, cpu: string | null, features: string[] = []) => ({ target: { requested, cpu, features } });
    const job = { builds: [build('x86_64-linux-gnu', null), build('aarch64-linux-gnu', 'cortex-a72'), build('aarch64-linux-gnu', 'cortex-a76'), build('aarch64-linux-gnu', 'cortex-a76'), build('graviton3', 'neoverse-v1')] } as unknown as Job;
    assert.deepEqual(buildFolders(job), ['x86_64-linux-gnu', 'aarch64-linux-gnu@cortex-a72', 'aarch64-linux-gnu@cortex-a76_3', 'aarch64-linux-gnu@cortex-a76_4', 'graviton3']);
  });

  it('tells what a finished job means: a job whose builds succeeded with a verification that did not run is not verified', () => {
    const build = (status: string, verification: { status: string } | null) => ({ status, verification });
    const job = (status: string, builds: ReturnType<typeof build>[]) => ({ status, builds }) as unknown as Job;
    assert.equal(outcomeOf(job('succeeded', [build('succeeded', { status: 'passed' }), build('succeeded', null)])), 'succeeded');
    assert.equal(outcomeOf(job('succeeded', [build('succeeded', { status: 'passed' }), build('succeeded', { status: 'not-run' })])), 'not-verified');
    assert.equal(outcomeOf(job('failed', [build('failed', null)])), 'build-failed');
    assert.equal(outcomeOf(job('failed', [build('failed', { status: 'unfinished' })])), 'verification-failed');
    assert.equal(outcomeOf(job('canceled', [build('canceled', null)])), 'canceled');
  });
});
