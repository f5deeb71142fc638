import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { checkCompilerOption, checkDefine, checkSourcePath, isTranslationUnit } from './source-rules';

describe('checkSourcePath', () => {
  it('accepts relative source and header paths', () => {
    for (const p of ['main.c', 'src/kernels/saxpy.c', 'include/vec.h']) assert.equal(checkSourcePath('c', p), null);
    assert.equal(checkSourcePath('c++', 'src/a.cpp'), null);
  });
  it('refuses paths that leave the project or could be options', () => {
    assert.match(checkSourcePath('c', '../etc/passwd.c')!, /\.\./);
    assert.match(checkSourcePath('c', 'a/../../b.c')!, /\.\./);
    assert.match(checkSourcePath('c', '/etc/x.c')!, /absolute/);
    assert.match(checkSourcePath('c', 'C:/x.c')!, /absolute/);
    assert.match(checkSourcePath('c', 'a\\b.c')!, /backslash/);
    assert.match(checkSourcePath('c', 'src/-fplugin.c')!, /starting with "-"/);
    assert.match(checkSourcePath('c', 'a//b.c')!, /empty/);
    assert.match(checkSourcePath('c', 'a b.c')!, /may only contain/);
    assert.match(checkSourcePath('c', 'notes.txt')!, /not a c source/);
  });
  it('tells translation units from headers', () => {
    assert.equal(isTranslationUnit('c', 'a.c'), true);
    assert.equal(isTranslationUnit('c', 'a.h'), false);
    assert.equal(isTranslationUnit('c++', 'a.cpp'), true);
    assert.equal(isTranslationUnit('c++', 'a.hpp'), false);
  });
});

describe('checkCompilerOption', () => {
  it('allows ordinary options', () => {
    for (const o of ['-O3', '-O', '-Os', '-std=c11', '-Wall', '-Wno-unused-variable', '-Werror=return-type', '-ffast-math', '-fno-exceptions', '-fvisibility=hidden', '-g', '-DN=4', '-UDEBUG', '-Iinclude', '-lm']) {
      assert.equal(checkCompilerOption('c', o), null, o);
    }
    assert.equal(checkCompilerOption('c++', '-std=c++20'), null);
  });
  it('refuses what loads code or touches paths', () => {
    for (const o of ['-fplugin=/tmp/x.so', '-fpass-plugin=x.so', '-B/tmp', '-specs=x', '@args.txt', '-wrapper', '-o', '/etc/passwd', '-MF', '-Wl,-T,script.ld', '-Xlinker', '-I/etc', '-I../..', '-include', '-fprofile-use=/x', '-Xclang', '--sysroot=/', '-fuse-ld=bfd', '-L/tmp', '-lfoo']) {
      assert.notEqual(checkCompilerOption('c', o), null, o);
    }
  });
  it('sends target choices to the descriptor', () => {
    assert.match(checkCompilerOption('c', '-march=native')!, /target descriptor/);
    assert.match(checkCompilerOption('c', '-mavx2')!, /features/);
    assert.match(checkCompilerOption('c', '-mllvm')!, /passes options straight to LLVM's code generator/);
  });
  it('checks language standards per language', () => {
    assert.match(checkCompilerOption('c', '-std=c++17')!, /not a c language standard/);
  });
});

describe('checkDefine', () => {
  it('allows macros and refuses line breaks', () => {
    assert.equal(checkDefine('N', '1024'), null);
    assert.notEqual(checkDefine('1N', '1'), null);
    assert.notEqual(checkDefine('N', '1\n#include </etc/passwd>'), null);
  });
});
