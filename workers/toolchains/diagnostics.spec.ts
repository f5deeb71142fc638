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
    assert.equal(d.length, 3);
    assert.deepEqual(d[0], { file: null, line: null, column: null, severity: 'error', message: 'undefined symbol: helper' });
    assert.equal(d[1].severity, 'note');
    assert.match(d[1].message, /nothing compiled or linked defines helper: .*-l<name>/);
    assert.equal(d[2].message, 'linker command failed with exit code 1 (use -v to see invocation)');
  });

  it('follows an undefined symbol with the library that defines it', () => {
    const note = (sym: string) => parseDiagnostics(`ld.lld: error: undefined symbol: ${sym}\n`)[1].message;
    assert.match(note('pthread_create'), /-pthread/);
    assert.match(note('dlopen'), /-ldl/);
    assert.match(note('omp_get_num_threads'), /-fopenmp/);
    assert.match(note('std::__1::cout'), /compile the sources as C\+\+/);
    assert.match(note('operator new(unsigned long)'), /as C\+\+/);
    assert.match(note('sqrtf'), /-lm/);
    assert.match(note('deflate'), /zlib/);
    assert.match(note('sqrtish'), /nothing compiled or linked defines sqrtish/);
  });

  it('parses messages that name no tool and no file', () => {
    assert.deepEqual(parseDiagnostics("error: unable to open output file 'a.o': 'Permission denied'\n1 error generated.\n"), [
      { file: null, line: null, column: null, severity: 'error', message: "unable to open output file 'a.o': 'Permission denied'" },
    ]);
  });

  it('does not mistake source excerpts for diagnostics', () => {
    assert.deepEqual(parseDiagnostics('   12 |   puts("a.c:1:1: error: no");\n'), []);
  });

  it('parses nvcc, rustc and go messages', () => {
    const nvcc = ['k.cu(3): error: identifier "z" is undefined', 'k.cu(5): warning #177-D: variable "y" was declared but never referenced', '1 error detected in the compilation of "k.cu".'].join('\n');
    assert.deepEqual(parseDiagnostics(nvcc), [
      { file: 'k.cu', line: 3, column: null, severity: 'error', message: 'identifier "z" is undefined' },
      { file: 'k.cu', line: 5, column: null, severity: 'warning', message: 'variable "y" was declared but never referenced', option: '#177' },
    ]);
    const rust = ['error[E0425]: cannot find value `x` in this scope', ' --> src/main.rs:2:13', '  |', 'warning: unused variable: `y`', ' --> src/main.rs:3:9', 'error: aborting due to previous error'].join('\n');
    assert.deepEqual(parseDiagnostics(rust), [
      { file: 'src/main.rs', line: 2, column: 13, severity: 'error', message: 'cannot find value `x` in this scope', option: 'E0425' },
      { file: 'src/main.rs', line: 3, column: 9, severity: 'warning', message: 'unused variable: `y`' },
    ]);
    // flang names files with ./ and closes with a summary, which is not an error of its own.
    const flang = ["./m.f90:3:2: error: No explicit type declared for 'x'", 'error: Semantic errors in ./m.f90'].join('\n');
    assert.deepEqual(parseDiagnostics(flang), [{ file: 'm.f90', line: 3, column: 2, severity: 'error', message: "No explicit type declared for 'x'" }]);
    assert.deepEqual(parseDiagnostics('# command-line-arguments\n./main.go:5:2: undefined: x'), [{ file: 'main.go', line: 5, column: 2, severity: 'error', message: 'undefined: x' }]);
  });
});
