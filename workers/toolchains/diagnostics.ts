import type { Diagnostic, DiagnosticSeverity } from '../../src/jobs/diagnostic';

// file:line:col: severity: message [-Wflag]   (clang and gcc; column optional)
const LOCATED = /^([^\s:][^:\n]*?):(\d+):(?:(\d+):)? (fatal error|error|warning|note|remark): (.*?)(?: \[([^\]\s]+)\])?$/;
// tool: severity: message   (driver and linker messages without a location)
const UNLOCATED = /^([\w.+-]+(?:-\d+)?): (fatal error|error|warning|note|remark): (.*)$/;
// error: unable to open output file ...   (clang's own messages with no tool name)
const BARE = /^(fatal error|error|warning): (.*)$/;
// ld.lld / wasm-ld: error: undefined symbol: foo
const LINKER = /^(?:ld\.lld|wasm-ld|ld|lld)(?:-\d+)?: (error|warning): (.*)$/;

// k.cu(3): error: identifier "x" is undefined      k.cu(5): warning #177-D: variable "y" was declared...   (nvcc)
const EDG = /^([^\s(][^(\n]*)\((\d+)\): (error|warning|remark|catastrophic error)(?: #(\d+)(?:-D)?)?: (.*)$/;
// error[E0425]: cannot find value `x`, then  --> src/main.rs:2:13   (rustc)
const RUST_HEAD = /^(error|warning)(?:\[(E\d{4})\])?: (.*)$/;
const RUST_AT = /^\s*--> ([^\s:][^:\n]*):(\d+):(\d+)$/;
// ./main.go:5:2: undefined: x   (go: no severity, always an error)
const GO = /^(?:\.\/)?([^\s:][^:\n]*\.go):(\d+):(\d+): (.*)$/;

// Closing summaries that repeat what the located messages said: rustc's "aborting due to previous error",
// flang's "Semantic errors in ./m.f90". Counting them would say a build failed with one error more.
const SUMMARY = /^(?:aborting due to (?:previous error|\d+ previous errors)|Semantic errors in )/;

/** Libraries a C or C++ program commonly forgets, by the symbols they define. */
const LIBRARY_HINTS: [RegExp, string][] = [
  [/^(?:sqrt|cbrt|pow|exp2?|expm1|log(?:2|10|1p)?|sin|cos|tan|a(?:sin|cos|tan2?)|sinh|cosh|tanh|a(?:sinh|cosh|tanh)|hypot|fmod|remainder|floor|ceil|trunc|l?l?round|l?l?rint|nearbyint|fma|fmin|fmax|fdim|copysign|frexp|ldexp|modf|erfc?|[lt]gamma|nan)[fl]?$/, 'the C math library (-lm, linked by default)'],
  [/^pthread_/, 'POSIX threads: add -pthread to options'],
  [/^(?:dlopen|dlsym|dlclose|dlerror)$/, 'the dynamic loader library: add -ldl to options'],
  [/^(?:omp_|GOMP_|__kmpc_)/, 'OpenMP: add -fopenmp to options'],
  [/^__atomic_/, 'the atomics library: add -latomic to options'],
  [/^(?:std::|operator new|operator delete|__cxa_|__gxx_personality|vtable for |typeinfo for )/, "the C++ standard library: compile the sources as C++ (language 'c++'), not C"],
  [/^(?:deflate|inflate|compress2?|uncompress|crc32|adler32|gz\w+)$/, 'zlib (-lz), which the target sysroots do not include: add its sources to the build'],
];

/** A note for an undefined symbol: the library that defines it, or what to check. */
export function undefinedSymbolNote(symbol: string): string {
  const bare = symbol.replace(/^'|'$/g, '');
  const hit = LIBRARY_HINTS.find(([re]) => re.test(bare));
  if (hit) return `${bare} is defined in ${hit[1]}`;
  return `nothing compiled or linked defines ${bare}: check its spelling, add the file that defines it, or name its library with -l<name> in options`;
}

function severity(s: string): DiagnosticSeverity {
  return s === 'fatal error' ? 'fatal' : (s as DiagnosticSeverity);
}

/**
 * Parses compiler and linker output into structured diagnostics. Source excerpts, caret lines
 * and "In file included from" lines are skipped; repeated identical messages are kept once.
 */
export function parseDiagnostics(output: string): Diagnostic[] {
  const seen = new Set<string>();
  const result: Diagnostic[] = [];
  const lines = output.split('\n').map((l) => l.replace(/\r$/, ''));
  for (const [i, line] of lines.entries()) {
    let d: Diagnostic | null = null;
    let m = LOCATED.exec(line);
    const rust = RUST_HEAD.exec(line);
    const at = rust ? lines.slice(i + 1, i + 3).map((l) => RUST_AT.exec(l)).find((x) => x) : null;
    if (rust && at) {
      d = { file: at[1], line: Number(at[2]), column: Number(at[3]), severity: severity(rust[1]), message: rust[3], ...(rust[2] ? { option: rust[2] } : {}) };
    } else if ((m = EDG.exec(line))) {
      d = { file: m[1], line: Number(m[2]), column: null, severity: m[3] === 'catastrophic error' ? 'fatal' : severity(m[3]), message: m[5], ...(m[4] ? { option: `#${m[4]}` } : {}) };
    } else if ((m = GO.exec(line))) {
      d = { file: m[1], line: Number(m[2]), column: Number(m[3]), severity: 'error', message: m[4] };
    } else if ((m = LOCATED.exec(line))) {
      d = {
        file: m[1].replace(/^\.\//, ''),
        line: Number(m[2]),
        column: m[3] ? Number(m[3]) : null,
        severity: severity(m[4]),
        message: m[5],
        ...(m[6] ? { option: m[6] } : {}),
      };
    } else if ((m = LINKER.exec(line))) {
      d = { file: null, line: null, column: null, severity: severity(m[1]), message: m[2] };
    } else if ((m = UNLOCATED.exec(line))) {
      d = { file: null, line: null, column: null, severity: severity(m[2]), message: m[3] };
    } else if ((m = BARE.exec(line))) {
      d = { file: null, line: null, column: null, severity: severity(m[1]), message: m[2] };
    }
    if (!d || (d.file === null && SUMMARY.test(d.message))) continue;
    const key = JSON.stringify(d);
    if (seen.has(key)) continue;
    seen.add(key);
    result.push(d);
    const undefinedSymbol = d.file === null && d.severity === 'error' ? /^undefined symbol: (.+)$/.exec(d.message) : null;
    if (undefinedSymbol) result.push({ file: null, line: null, column: null, severity: 'note', message: undefinedSymbolNote(undefinedSymbol[1]) });
  }
  return result;
}
