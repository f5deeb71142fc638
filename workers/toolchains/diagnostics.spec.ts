import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { parseDiagnostics } from './diagnostics';

describe('parseDiagnostics', () => {
  it('parses located clang errors and warnings with their flag', () => {
    const out = [
      'saxpy.c:4:3: error: use of undeclared identifier \'y\'',
      '    4 |   y[i] = a * x[i];',
      '      |   ^',
      'saxpy.c:2:7: warning: unused variable \'k\' [-Wunused-variable]',
      '2 errors generated.',
    ].join('\n');
    assert.deepEqual(parseDiagnostics(out), [
      { file: 'saxpy.c', line: 4, column: 3, severity: 'error', message: "use of undeclared identifier 'y'" },
      { file: 'saxpy.c', line: 2, column: 7, severity: 'warning', message: "unused variable 'k'", option: '-Wunused-variable' },
    ]);
  });

  it('parses notes, fatal errors and paths in folders', () => {
    const out = [
      'In file included from src/main.cpp:1:',
      'include/vec.hpp:10:1: fatal error: \'missing.h\' file not found',
      'src/main.cpp:7:12: note: candidate function not viable',
    ].join('\n');
    const d = parseDiagnostics(out);
    assert.equal(d.length, 2);
    assert.equal(d[0].severity, 'fatal');
    assert.equal(d[0].file, 'include/vec.hpp');
    assert.equal(d[1].severity, 'note');
  });

  it('parses linker errors without a location and drops repeats', () => {
    const out = 'ld.lld: error: undefined symbol: helper\nld.lld: error: undefined symbol: helper\nclang: error: linker command failed with exit code 1 (use -v to see invocation)\n';
    const d = parseDiagnostics(out);
    assert.equal(d.length, 2);
    assert.deepEqual(d[0], { file: null, line: null, column: null, severity: 'error', message: 'undefined symbol: helper' });
    assert.equal(d[1].message, 'linker command failed with exit code 1 (use -v to see invocation)');
  });

  it('parses messages that name no tool and no file', () => {
    assert.deepEqual(parseDiagnostics("error: unable to open output file 'a.o': 'Permission denied'\n1 error generated.\n"), [
      { file: null, line: null, column: null, severity: 'error', message: "unable to open output file 'a.o': 'Permission denied'" },
    ]);
  });

  it('does not mistake source excerpts for diagnostics', () => {
    assert.deepEqual(parseDiagnostics('   12 |   puts("a.c:1:1: error: no");\n'), []);
  });
});
