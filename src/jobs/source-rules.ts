/**
 * What a client may send as source: file paths, languages and compiler options. Everything a
 * client sends is hostile, so paths are confined to the project folder and options come from
 * an allow-list; anything that loads code or reads or writes other paths is refused.
 */

import { LANGUAGE_SPECS, Language } from './languages';

export { LANGUAGES } from './languages';
export type { Language } from './languages';

export const MAX_FILES = 500;
export const MAX_PATH_LENGTH = 255;

export function normalizeLanguage(lang: string): Language | null {
  const l = String(lang).toLowerCase();
  const spec = LANGUAGE_SPECS.find((x) => x.name === l || x.aliases.includes(l));
  return spec ? spec.name : null;
}

function extension(path: string): string {
  const base = path.slice(path.lastIndexOf('/') + 1);
  const dot = base.lastIndexOf('.');
  return dot > 0 ? base.slice(dot) : '';
}

export function isTranslationUnit(language: Language, path: string): boolean {
  return languageSpec(language).units.includes(extension(path));
}

export function languageSpec(language: Language) {
  return LANGUAGE_SPECS.find((l) => l.name === language)!;
}

/** Returns why a path is refused, or null when it is fine. */
export function checkSourcePath(language: Language, path: string): string | null {
  if (typeof path !== 'string' || path.length === 0) return 'a file path must not be empty';
  if (path.length > MAX_PATH_LENGTH) return `path "${path.slice(0, 40)}..." is longer than ${MAX_PATH_LENGTH} characters`;
  if (path.startsWith('/') || /^[A-Za-z]:/.test(path)) return `path "${path}" is absolute; use a path relative to the project folder`;
  if (path.includes('\\')) return `path "${path}" contains a backslash; use / between folders`;
  const parts = path.split('/');
  if (parts.some((p) => p === '..')) return `path "${path}" contains "..": files must stay inside the project folder`;
  if (parts.some((p) => p === '' || p === '.')) return `path "${path}" has an empty or "." component`;
  if (!/^[A-Za-z0-9._+\-/]+$/.test(path)) return `path "${path}" may only contain letters, digits and . _ + - /`;
  if (parts.some((p) => p.startsWith('-'))) return `path "${path}" has a component starting with "-"`;
  const ext = extension(path);
  const spec = languageSpec(language);
  const base = path.slice(path.lastIndexOf('/') + 1);
  if (!spec.units.includes(ext) && !spec.headers.includes(ext) && !spec.files.includes(base)) {
    return `"${path}" is not a ${language} source or header file (expected ${[...spec.units, ...spec.headers, ...spec.files].join(', ')})`;
  }
  return null;
}

const C_STD = /^-std=(c|gnu)(89|90|99|9x|11|1x|17|18|2x|23)$/;
const CXX_STD = /^-std=(c|gnu)\+\+(98|03|11|0x|14|1y|17|1z|20|2a|23|2b|26|2c)$/;
const SIMPLE = new Set(['-w', '-g', '-g0', '-g1', '-g2', '-g3', '-pedantic', '-pedantic-errors', '-ansi', '-pthread', '-v']);
const OPT = /^-O([0-3]|s|z|g|fast)?$/;
const WARNING = /^-W(no-)?(error=)?[a-z0-9][a-z0-9+_=-]*$/;
const FEATURE = /^-f(no-)?[a-z0-9][a-z0-9+_-]*(=[A-Za-z0-9_.,+-]+)?$/;
const DEFINE = /^-D[A-Za-z_][A-Za-z0-9_]*(=[^\n\r]*)?$/;
const UNDEF = /^-U[A-Za-z_][A-Za-z0-9_]*$/;
const INCLUDE = /^-I([A-Za-z0-9._+\-/]+)$/;
const LIBS = new Set(['-lm', '-lpthread', '-ldl', '-lrt', '-lc++', '-lstdc++']);
const GDWARF = /^-gdwarf(-[2-5])?$/;

/** -f options that load code, read or write paths, or drop the sandbox's guarantees. */
const REFUSED_F = /^-f(no-)?(plugin|pass-plugin|profile|crash-diagnostics|save-optimization-record|record-command-line|debug-prefix-map|file-prefix-map|macro-prefix-map|coverage-prefix-map|diagnostics-format|modules|module-|prebuilt-module|implicit-module|pch|embed|sanitize-(ignorelist|blacklist)|xray|lto-|thinlto|time-trace|proc-stat|stack-usage|dump|save-temps|driver-only|integrated-as|use-ld|ld-path|sysroot|rtlib|response|color-diagnostics|instrument-functions-exclude|visibility-ms-compat|ms-|diagnostics-|caret-diagnostics|show-column|show-source-location|message-length|optimization-record|sanitize-coverage|sanitize-(address|memory|thread)-.*file|profile-|coverage-|crash-|module-map|debug-compilation-dir|coverage-compilation-dir|working-directory|ast-dump|syntax-only)/;

/** Returns why an option is refused, or null when it is allowed. */
export function checkCompilerOption(language: Language, opt: string): string | null {
  if (typeof opt !== 'string' || opt.length === 0) return 'an option must not be empty';
  if (opt.length > 200) return `option "${opt.slice(0, 40)}..." is too long`;
  switch (language) {
    case 'c':
    case 'c++':
    case 'hip':
      return checkClangOption(language, opt);
    case 'llvm-ir':
      return /^-std=/.test(opt) ? `"${opt}": LLVM IR has no language standard` : checkClangOption(language, opt);
    case 'cuda':
      return checkListed(language, opt, CUDA_OPTIONS);
    case 'fortran':
      return checkListed(language, opt, FORTRAN_OPTIONS);
    case 'rust':
      return checkListed(language, opt, RUST_OPTIONS);
    case 'go':
      return checkListed(language, opt, GO_OPTIONS);
  }
}

interface ListedOption {
  re: RegExp;
  example: string;
}

function include(opt: string): string | null {
  const inc = INCLUDE.exec(opt);
  if (!inc) return null;
  const p = inc[1];
  return p.startsWith('/') || p.split('/').includes('..') ? `"${opt}": include folders must be inside the project (no absolute paths or "..")` : '';
}

/** Languages whose driver is not clang take options from a short list of exact forms. */
function checkListed(language: Language, opt: string, allowed: ListedOption[]): string | null {
  const inc = include(opt);
  if (inc !== null && allowed.some((a) => a.example.startsWith('-I'))) return inc || null;
  if (allowed.some((a) => a.re.test(opt))) return null;
  return `"${opt}" is not an allowed ${language} option; allowed: ${allowed.map((a) => a.example).join(', ')}`;
}

const CUDA_OPTIONS: ListedOption[] = [
  { re: OPT, example: '-O0..-O3' },
  { re: /^-std=c\+\+(11|14|17|20)$/, example: '-std=c++17' },
  { re: DEFINE, example: '-DNAME=value' },
  { re: UNDEF, example: '-UNAME' },
  { re: /^-I/, example: '-I<project folder>' },
  { re: /^(-g|-lineinfo|-G|--use_fast_math|--extra-device-vectorization|-w|--restrict|-Xptxas=-v|--resource-usage)$/, example: '-g, -lineinfo, -G, --use_fast_math, --extra-device-vectorization, --restrict, --resource-usage, -w' },
  { re: /^--(ftz|prec-div|prec-sqrt|fmad)=(true|false)$/, example: '--ftz=true|false (also --prec-div, --prec-sqrt, --fmad)' },
  { re: /^-maxrregcount=\d{1,3}$/, example: '-maxrregcount=N' },
];

const FORTRAN_OPTIONS: ListedOption[] = [
  { re: /^-O([0-3]|s|z|fast)?$/, example: '-O0..-O3, -Ofast' },
  { re: /^-std=f2018$/, example: '-std=f2018' },
  { re: DEFINE, example: '-DNAME=value' },
  { re: UNDEF, example: '-UNAME' },
  { re: /^-I/, example: '-I<project folder>' },
  { re: /^(-g|-w|-pedantic|-cpp|-nocpp|-ffree-form|-ffixed-form|-fimplicit-none|-fbackslash|-fno-backslash|-flarge-sizes|-fdefault-real-8|-fdefault-integer-8|-fdefault-double-8|-ffast-math|-fno-fast-math|-funderscoring|-fno-underscoring)$/, example: '-g, -w, -pedantic, -cpp, -ffree-form, -ffixed-form, -fimplicit-none, -fdefault-real-8, -fdefault-integer-8, -ffast-math' },
  { re: /^-ffixed-line-length=(72|132|none)$/, example: '-ffixed-line-length=72|132|none' },
];

const RUST_OPTIONS: ListedOption[] = [
  { re: /^(-O|-g)$/, example: '-O, -g' },
  { re: /^--edition=(2015|2018|2021)$/, example: '--edition=2021' },
  { re: /^-Copt-level=([0-3]|s|z)$/, example: '-Copt-level=3' },
  { re: /^-Cdebuginfo=[0-2]$/, example: '-Cdebuginfo=2' },
  { re: /^-Cpanic=(abort|unwind)$/, example: '-Cpanic=abort' },
  { re: /^-Coverflow-checks=(on|off|yes|no)$/, example: '-Coverflow-checks=on' },
  { re: /^-Ccodegen-units=\d{1,3}$/, example: '-Ccodegen-units=1' },
  { re: /^-Clto=(on|off|thin|fat|yes|no)$/, example: '-Clto=fat' },
  { re: /^--cfg=[A-Za-z_][A-Za-z0-9_]{0,63}$/, example: '--cfg=NAME' },
  { re: /^--crate-name=[A-Za-z_][A-Za-z0-9_]{0,63}$/, example: '--crate-name=NAME' },
  { re: /^-[AWD](warnings|[a-z][a-z0-9_]{0,63})$/, example: '-Wwarnings, -Aunused, -Ddead_code' },
];

const GO_OPTIONS: ListedOption[] = [
  { re: /^-tags=[A-Za-z0-9_.,]{1,200}$/, example: '-tags=a,b' },
  { re: /^-gcflags=-[NlB]( -[NlB])*$/, example: '-gcflags=-N -l' },
  { re: /^-ldflags=-[sw]( -[sw])?$/, example: '-ldflags=-s -w' },
];

/** Options for clang-driven languages: C, C++, HIP and LLVM IR. */
function checkClangOption(language: Language, opt: string): string | null {
  if (SIMPLE.has(opt) || OPT.test(opt) || GDWARF.test(opt) || LIBS.has(opt)) return null;
  if (opt.startsWith('-std=')) {
    const ok = language === 'c' ? C_STD.test(opt) : CXX_STD.test(opt);
    if (language === 'llvm-ir') return `"${opt}": LLVM IR has no language standard`;
    return ok ? null : `"${opt}" is not a ${language} language standard`;
  }
  if (/^-W[lap],/.test(opt)) return `"${opt}" passes options to the linker, assembler or preprocessor, which is not allowed`;
  if (WARNING.test(opt)) return null;
  if (DEFINE.test(opt) || UNDEF.test(opt)) return null;
  const inc = INCLUDE.exec(opt);
  if (inc) {
    const p = inc[1];
    if (p.startsWith('/') || p.split('/').includes('..')) return `"${opt}": include folders must be inside the project (no absolute paths or "..")`;
    return null;
  }
  if (opt.startsWith('-f')) {
    if (REFUSED_F.test(opt)) return `"${opt}" is not allowed: it can load code, touch paths outside the build, or change how Kiln runs the toolchain`;
    if (FEATURE.test(opt)) return null;
    return `"${opt}" is not a valid -f option`;
  }
  if (/^-m(arch|cpu|tune|float-abi|fpu|abi)=/.test(opt) || opt === '-march' || opt === '-mcpu') {
    return `"${opt}" is set by the target descriptor: use its "cpu", "features" or "floatAbi" fields instead`;
  }
  if (opt === '-mllvm') return `"${opt}" is not allowed: it passes options straight to LLVM's code generator`;
  if (/^-m/.test(opt)) return `"${opt}": target features are set by the target descriptor's "features" (for example "+avx2")`;
  if (/^-(o|c|S|E|M|MM|MD|MMD|MF|MT|MQ|shared|static|emit-llvm|x)$/.test(opt) || /^-(o|MF|MT|MQ|x)./.test(opt)) {
    return `"${opt}" controls outputs, which are chosen with the "outputs" field`;
  }
  if (/^(@|-B|-specs|--specs|-wrapper|--sysroot|-isysroot|-isystem|-iquote|-idirafter|-include|-imacros|-T|-Xlinker|-Xclang|-Xassembler|-Xpreprocessor|-L|--target|-target|-no-canonical-prefixes|-cc1|-fuse-ld|--config|-###)/.test(opt)) {
    return `"${opt}" is not allowed: it can load code or read or write paths outside the build`;
  }
  return `"${opt}" is not in the list of allowed options (optimisation -O*, -std=, -W*, -f*, -g*, -D/-U, -I<project folder>, -l<system library>)`;
}

export function checkDefine(name: string, value: string): string | null {
  if (!/^[A-Za-z_][A-Za-z0-9_]{0,127}$/.test(name)) return `define "${name}" is not a valid macro name`;
  if (typeof value !== 'string') return `define "${name}" must have a string value`;
  if (/[\r\n\0]/.test(value)) return `define "${name}" must not contain line breaks`;
  if (value.length > 1024) return `define "${name}" is longer than 1024 characters`;
  return null;
}
