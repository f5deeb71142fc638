import type { Diagnostic, DiagnosticSeverity } from '../../src/jobs/diagnostic';

// file:line:col: severity: message [-Wflag]   (clang and gcc; column optional)
const LOCATED = /^([^\s:][^:\n]*?):(\d+):(?:(\d+):)? (fatal error|error|warning|note|remark): (.*?)(?: \[([^\]\s]+)\])?$/;
// tool: severity: message   (driver and linker messages without a location)
const UNLOCATED = /^([\w.+-]+(?:-\d+)?): (fatal error|error|warning|note|remark): (.*)$/;
// error: unable to open output file ...   (clang's own messages with no tool name)
const BARE = /^(fatal error|error|warning): (.*)$/;
// ld.lld / wasm-ld: error: undefined symbol: foo
const LINKER = /^(?:ld\.lld|wasm-ld|ld|lld)(?:-\d+)?: (error|warning): (.*)$/;

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
  for (const raw of output.split('\n')) {
    const line = raw.replace(/\r$/, '');
    let d: Diagnostic | null = null;
    let m = LOCATED.exec(line);
    if (m) {
      d = {
        file: m[1],
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
    if (!d) continue;
    const key = JSON.stringify(d);
    if (seen.has(key)) continue;
    seen.add(key);
    result.push(d);
  }
  return result;
}
