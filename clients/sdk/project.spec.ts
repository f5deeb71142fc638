import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { LANGUAGE_SPECS } from '../../src/jobs/languages';
import { SOURCE_LANGUAGES } from './project';

describe('the SDK\'s source collection', () => {
  it('knows the files of every language the service builds, as the service\'s language table has them', () => {
    assert.deepEqual(Object.keys(SOURCE_LANGUAGES).sort(), LANGUAGE_SPECS.map((l) => l.name).sort());
    for (const l of LANGUAGE_SPECS) {
      const mine = SOURCE_LANGUAGES[l.name];
      assert.deepEqual({ units: mine.units, headers: [...mine.headers].sort(), files: mine.files, aliases: mine.aliases }, { units: l.units, headers: [...l.headers].sort(), files: l.files, aliases: l.aliases }, l.name);
    }
  });
});
