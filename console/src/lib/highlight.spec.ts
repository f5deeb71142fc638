import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { languageOf, tokenize } from './highlight';

const kinds = (code: string, lang: Parameters<typeof tokenize>[1]) => tokenize(code, lang).filter((t) => t.type !== 'plain').map((t) => `${t.type}:${t.text}`);

describe('tokenize', () => {
  it('never loses or reorders text', () => {
    const code = '#include <stdio.h>\n  #if X\n/* a\n b */ int main(void) { printf("%d\\n", 0x1F); return 0; } // end\n';
    for (const lang of ['c', 'asm', 'llvm', 'ptx', 'json', 'text'] as const) assert.equal(tokenize(code, lang).map((t) => t.text).join(''), code);
  });

  it('highlights C: preprocessor lines (indented too), comments, strings, keywords, types, calls, numbers', () => {
    assert.deepEqual(kinds('#include <x.h>\n  #if A\nstatic int f(void) { return g("s", 0x1F, 2.5f); } // c', 'c'), [
      'preprocessor:#include <x.h>', 'preprocessor:#if A', 'keyword:static', 'type:int', 'function:f', 'type:void', 'keyword:return', 'function:g', 'string:"s"', 'number:0x1F', 'number:2.5f', 'comment:// c',
    ]);
  });

  it('highlights assembly: labels, directives, mnemonics, registers, comments', () => {
    assert.deepEqual(kinds('saxpy:\n\t.p2align 4\n\tmovss\t(%rdi), %xmm0  # load\n', 'asm'), ['label:saxpy:', 'directive:.p2align', 'number:4', 'keyword:movss', 'register:%rdi', 'register:%xmm0', 'comment:# load']);
  });

  it('picks the language from the artifact', () => {
    assert.deepEqual([languageOf('model.s', 'assembly'), languageOf('model.ll', 'llvm-ir'), languageOf('k.ptx'), languageOf('model.c'), languageOf('model.json'), languageOf('a.out')], ['asm', 'llvm', 'ptx', 'c', 'json', 'text']);
  });
});
