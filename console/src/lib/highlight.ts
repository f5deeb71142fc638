/** A run of text and what it is, for syntax highlighting. */
export interface Token {
  type: 'plain' | 'keyword' | 'type' | 'string' | 'number' | 'comment' | 'preprocessor' | 'label' | 'directive' | 'register' | 'function';
  text: string;
}

export type Language = 'c' | 'asm' | 'llvm' | 'ptx' | 'json' | 'text';

const C_KEYWORDS = new Set('auto break case const continue default do else enum extern for goto if inline register restrict return sizeof static struct switch typedef union volatile while class namespace template typename public private protected virtual override new delete this using constexpr nullptr true false noexcept operator try catch throw static_assert _Static_assert alignas alignof'.split(' '));
const C_TYPES = new Set('void char short int long float double signed unsigned bool _Bool size_t ssize_t ptrdiff_t uint8_t uint16_t uint32_t uint64_t int8_t int16_t int32_t int64_t uintptr_t intptr_t FILE'.split(' '));
const LLVM_KEYWORDS = new Set('define declare global constant private internal external dso_local local_unnamed_addr unnamed_addr align to ret br label call tail store load alloca getelementptr inbounds icmp fcmp phi select add sub mul fadd fsub fmul fdiv sdiv udiv and or xor shl lshr ashr zext sext trunc fpext fptrunc bitcast sitofp uitofp fptosi fptoui nsw nuw nnan ninf contract reassoc fast eq ne slt sle sgt sge ult ule ugt uge oeq one olt ole ogt oge attributes source_filename target datalayout triple noundef nocapture readonly writeonly'.split(' '));
const PTX_KEYWORDS = new Set('ld st mov add sub mul mad fma div rem setp selp bra ret cvt cvta shl shr and or xor not neg abs min max exit bar call'.split(' '));

/** Tokenizes source or compiler output for display; unknown text stays plain, so nothing is lost. */
export function tokenize(code: string, lang: Language): Token[] {
  if (lang === 'text') return [{ type: 'plain', text: code }];
  const rules = RULES[lang];
  const out: Token[] = [];
  let i = 0;
  let plain = '';
  const flush = () => {
    if (plain) out.push({ type: 'plain', text: plain });
    plain = '';
  };
  outer: while (i < code.length) {
    for (const [re, type] of rules) {
      re.lastIndex = i;
      const m = re.exec(code);
      if (m && m.index === i && m[0].length > 0) {
        flush();
        out.push({ type: classify(type, m[0], lang), text: m[0] });
        i += m[0].length;
        continue outer;
      }
    }
    plain += code[i++];
  }
  flush();
  return out;
}

type Rule = [RegExp, Token['type'] | 'word'];

function classify(type: Token['type'] | 'word', word: string, lang: Language): Token['type'] {
  if (type !== 'word') return type;
  if (lang === 'c') return C_KEYWORDS.has(word) ? 'keyword' : C_TYPES.has(word) ? 'type' : 'plain';
  if (lang === 'llvm') return LLVM_KEYWORDS.has(word) ? 'keyword' : /^(i\d+|float|double|half|void|ptr|label)$/.test(word) ? 'type' : 'plain';
  if (lang === 'ptx') return PTX_KEYWORDS.has(word.split('.')[0]) ? 'keyword' : 'plain';
  if (lang === 'asm') return 'keyword';
  return 'plain';
}

const RULES: Record<Exclude<Language, 'text'>, Rule[]> = {
  c: [
    [/\/\/[^\n]*/y, 'comment'],
    [/\/\*[\s\S]*?(\*\/|$)/y, 'comment'],
    [/(?<=^[ \t]*)#[ \t]*\w+[^\n]*/my, 'preprocessor'],
    [/"(?:[^"\\\n]|\\.)*"?|'(?:[^'\\\n]|\\.)*'?/y, 'string'],
    [/\b(?:0[xX][0-9a-fA-F]+|\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)[uUlLfF]*\b/y, 'number'],
    [/\b[A-Za-z_]\w*(?=\s*\()/y, 'function'],
    [/\b[A-Za-z_]\w*\b/y, 'word'],
  ],
  asm: [
    [/(?:#|\/\/|;|@ )[^\n]*/y, 'comment'],
    [/(?<=^[ \t]*)[.$\w]+:/my, 'label'],
    [/(?<=^[ \t]*)\.[\w.]+/my, 'directive'],
    [/"(?:[^"\\\n]|\\.)*"/y, 'string'],
    [/%[a-z]\w*|\$?\b(?:[xwvqsdb]\d{1,2}|[re]?[abcd]x|[re]?[sd]i|[re]?[sb]p|r\d{1,2}[dwb]?|[xy]mm\d{1,2}|zmm\d{1,2}|sp|lr|pc|ra|zero|[ast]\d{1,2}|f[ast]?\d{1,2})\b/y, 'register'],
    [/\$?-?\b(?:0x[0-9a-fA-F]+|\d+)\b/y, 'number'],
    [/(?<=^[ \t]+)[a-z][\w.]*/my, 'word'],
  ],
  llvm: [
    [/;[^\n]*/y, 'comment'],
    [/"(?:[^"\\\n]|\\.)*"/y, 'string'],
    [/[@%][-\w.$]+/y, 'register'],
    [/^[\w.]+:/my, 'label'],
    [/\b-?\d+(?:\.\d+)?(?:e[+-]?\d+)?\b|0x[0-9A-Fa-f]+/y, 'number'],
    [/\b[a-z_][\w]*\b/y, 'word'],
  ],
  ptx: [
    [/\/\/[^\n]*/y, 'comment'],
    [/\/\*[\s\S]*?(\*\/|$)/y, 'comment'],
    [/\.[a-z][\w]*/y, 'directive'],
    [/%[\w.]+/y, 'register'],
    [/(?<=^[ \t]*)\$?[\w$]+:/my, 'label'],
    [/\b(?:0[xXfFdD][0-9a-fA-F]+|\d+)\b/y, 'number'],
    [/\b[a-z][\w.]*\b/y, 'word'],
  ],
  json: [
    [/"(?:[^"\\\n]|\\.)*"(?=\s*:)/y, 'keyword'],
    [/"(?:[^"\\\n]|\\.)*"/y, 'string'],
    [/-?\b\d+(?:\.\d+)?(?:[eE][+-]?\d+)?\b/y, 'number'],
    [/\b(?:true|false|null)\b/y, 'type'],
  ],
};

/** Which highlighter fits an artifact or file, from its name and kind. */
export function languageOf(name: string, kind?: string): Language {
  if (kind === 'llvm-ir' || /\.ll$/.test(name)) return 'llvm';
  if (kind === 'ptx' || /\.ptx$/.test(name)) return 'ptx';
  if (kind === 'assembly' || /\.(s|S|asm)$/.test(name)) return 'asm';
  if (/\.(c|h|cc|cpp|cxx|hpp|hh|hxx|inl|cu)$/.test(name)) return 'c';
  if (/\.json$/.test(name)) return 'json';
  return 'text';
}
