import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { LANGUAGE_SPECS } from '../../src/jobs/languages';
import type { Job } from './index';
import { buildFolders, SOURCE_LANGUAGES } from './project';

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
});
