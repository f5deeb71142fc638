import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { checkLanguageTarget } from '../../src/jobs/languages';
import { checkCompilerOption, checkSourcePath, normalizeLanguage } from '../../src/jobs/source-rules';
import { fortranOrder } from './flang';
import { isaVersion } from './hip';
import { nvccOutputFlags } from './nvcc';

describe('toolchain adapters', () => {
  it('orders Fortran files so modules come before their users', () => {
    const units = [
      { path: 'main.f90', text: 'program p\n  use physics\nend program' },
      { path: 'physics.f90', text: 'module physics\n  use, intrinsic :: iso_fortran_env\n  use constants\nend module physics' },
      { path: 'constants.f90', text: '! module fake\nmodule constants\nend module constants' },
    ];
    assert.deepEqual(fortranOrder(units), ['constants.f90', 'physics.f90', 'main.f90']);
    // A cycle keeps the given order rather than looping.
    assert.deepEqual(fortranOrder([{ path: 'a.f90', text: 'module a\nuse b\nend module' }, { path: 'b.f90', text: 'module b\nuse a\nend module' }]).sort(), ['a.f90', 'b.f90']);
  });

  it('numbers AMD ISA versions as ROCm does', () => {
    assert.equal(isaVersion('gfx90a'), 9010);
    assert.equal(isaVersion('gfx942'), 9402);
    assert.equal(isaVersion('gfx1100'), 11000);
    assert.throws(() => isaVersion('sm_90'), /not an AMD GPU/);
  });

  it('asks nvcc for SASS of the arch and PTX of its virtual arch', () => {
    assert.deepEqual(nvccOutputFlags('ptx', 'sm_90'), ['-arch=compute_90', '-ptx']);
    assert.deepEqual(nvccOutputFlags('cubin', 'sm_86'), ['-arch=sm_86', '-cubin']);
    assert.deepEqual(nvccOutputFlags('fatbin', 'sm_80'), ['-gencode', 'arch=compute_80,code=[sm_80,compute_80]', '-fatbin']);
    assert.throws(() => nvccOutputFlags('shared', 'sm_80'));
  });
});

describe('language rules', () => {
  it('knows languages by name and alias', () => {
    assert.equal(normalizeLanguage('CU'), 'cuda');
    assert.equal(normalizeLanguage('golang'), 'go');
    assert.equal(normalizeLanguage('rs'), 'rust');
    assert.equal(normalizeLanguage('cobol'), null);
  });

  it('takes each language\'s own files', () => {
    assert.equal(checkSourcePath('go', 'go.mod'), null);
    assert.equal(checkSourcePath('cuda', 'include/vec.cuh'), null);
    assert.equal(checkSourcePath('fortran', 'src/solver.F90'), null);
    assert.match(checkSourcePath('rust', 'main.c')!, /not a rust source/);
  });

  it('allows each language\'s harmless options and refuses ones that run or load code', () => {
    for (const [lang, opt] of [['cuda', '--use_fast_math'], ['cuda', '-maxrregcount=64'], ['rust', '-Copt-level=3'], ['rust', '--edition=2018'], ['go', '-ldflags=-s -w'], ['fortran', '-ffixed-form'], ['hip', '-O3'], ['llvm-ir', '-O2']] as const) {
      assert.equal(checkCompilerOption(lang, opt), null, `${lang} ${opt}`);
    }
    for (const [lang, opt] of [['cuda', '-ccbin=/bin/sh'], ['cuda', '--compiler-bindir=/x'], ['rust', '-Clinker=/bin/sh'], ['rust', '--extern=x=/etc/passwd'], ['go', '-toolexec=sh'], ['go', '-ldflags=-X main.x=1'], ['fortran', '-fplugin=x.so'], ['hip', '-fplugin=x.so'], ['llvm-ir', '-std=c11']] as const) {
      assert.notEqual(checkCompilerOption(lang, opt), null, `${lang} ${opt}`);
    }
  });

  it('says what a language can do for a target', () => {
    assert.equal(checkLanguageTarget('rust', 'wasm32-wasi', ['executable']), null);
    assert.match(checkLanguageTarget('rust', 'riscv64-linux-gnu', ['executable'])!, /rust cannot be built for riscv64-linux-gnu; rust targets: x86_64-linux-gnu, wasm32-wasi/);
    assert.match(checkLanguageTarget('cuda', 'nvptx64-nvidia-cuda', ['executable'])!, /can produce ptx, cubin, fatbin, object, not executable/);
  });
});
