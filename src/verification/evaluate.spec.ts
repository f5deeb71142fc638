import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { stdoutDifference } from './evaluate';

describe('stdoutDifference', () => {
  it('shows the whole differing line on both sides, with its line and column', () => {
    assert.equal(stdoutDifference('41\n', '42\n'), 'standard output differs at line 1, column 2: expected "41", got "42"');
    assert.equal(stdoutDifference('a\nsum = 10\nc\n', 'a\nsum = 12\nc\n'), 'standard output differs at line 2, column 8: expected "sum = 10", got "sum = 12"');
    assert.equal(stdoutDifference('4\n', '3\n'), 'standard output differs at line 1, column 1: expected "4", got "3"');
  });

  it('says where one side ends', () => {
    assert.equal(stdoutDifference('1\n2\n', '1\n'), 'standard output differs at line 2, column 1: expected "2", got the end of the output');
    assert.equal(stdoutDifference('1\n', '1\n2\n'), 'standard output differs at line 2, column 1: expected the end of the output, got "2"');
    assert.equal(stdoutDifference('42\n', '4'), 'standard output differs at line 1, column 2: expected "42", got "4"');
    assert.equal(stdoutDifference('42\n', '42'), 'standard output differs at the end of line 1 (column 3): expected "\\n" after it, got ""');
  });

  it('shows a long line around the difference', () => {
    const e = `${'x'.repeat(300)}A${'y'.repeat(300)}\n`;
    const a = `${'x'.repeat(300)}B${'y'.repeat(300)}\n`;
    const message = stdoutDifference(e, a);
    assert.match(message, /^standard output differs at line 1, column 301: expected \.\.\."x{60}Ay{59}"\.\.\., got \.\.\."x{60}By{59}"\.\.\.$/);
  });
});
