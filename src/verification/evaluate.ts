import type { BundleManifest } from './bundle';
import { compareOutput, OutputComparison } from './compare';
import { DTYPE_SIZE } from './dtype';
import type { VerificationReport } from './report';

/** What running a bundle's program gave. */
export interface RunOutcome {
  exitCode: number | null;
  signal: string | null;
  timedOut: boolean;
  truncated: boolean;
  stdout: string;
  stderr: string;
  wallMs: number;
  /** Peak resident set size of the run, in kB, where it was measured. */
  peakMemoryKb?: number | null;
  /** Set when the run's processes together reached its memory limit (bytes) and were killed for it. */
  memoryLimitBytes?: number | null;
  /** How many times the runner itself crashed (see Runner.crashSignals) and the run was repeated. */
  runnerCrashes?: number;
  /** The runner crashed after the program had returned (its exit code is the program's). */
  runnerCrashedAtExit?: boolean;
}

function fmt(v: number | string): string {
  return typeof v === 'number' ? String(Number(v.toPrecision(8))) : v;
}

/** A run stopped at its time limit: nothing was compared, so the verdict is unfinished, not failed. */
export function unfinishedSummary(what: string, timeoutMs: number, runner: string): string {
  return `${what} did not finish within its limit of ${timeoutMs} ms on ${runner}, so nothing was compared (verify.timeoutMs sets the limit)`;
}

function runFailure(run: RunOutcome, what: string, timeoutMs: number, runner: string): string | null {
  if (run.memoryLimitBytes) return `${what} ran out of memory on ${runner}: its processes together reached the run's limit of ${Math.round(run.memoryLimitBytes / 1024 ** 2)} MiB`;
  if (run.timedOut) return unfinishedSummary(what, timeoutMs, runner);
  if (run.signal) return `${what} was killed by ${run.signal} on ${runner}${run.stderr.trim() ? `: ${run.stderr.trim().split('\n').pop()}` : ''}`;
  return null;
}

/**
 * Judges a kernel run: the outputs file must have every output's bytes, and each output must
 * match the reference within the tolerance. The summary names the output and worst element.
 */
export function evaluateKernel(m: BundleManifest, run: RunOutcome, expected: Buffer, actual: Buffer | null, base: Pick<VerificationReport, 'runner' | 'worker'>): VerificationReport {
  const report = (status: VerificationReport['status'], summary: string, outputs: OutputComparison[]): VerificationReport => ({
    status,
    ...base,
    kind: m.check === 'model' ? 'model' : 'kernel',
    summary,
    reference: m.reference,
    seed: m.seed ?? null,
    runMs: Math.round(run.wallMs),
    outputs,
  });
  const crashed = runFailure(run, `the kernel ${m.entry ?? ''}`.trim(), m.timeoutMs, base.runner);
  if (crashed) return report(run.timedOut && !run.memoryLimitBytes ? 'unfinished' : 'failed', crashed, []);
  if (run.exitCode !== 0) return report('failed', `the harness exited with code ${run.exitCode} on ${base.runner}: ${run.stderr.trim().split('\n').pop() ?? ''}`, []);
  const outputs = m.outputs ?? [];
  const total = outputs.reduce((n, o) => n + o.count * DTYPE_SIZE[o.dtype], 0);
  if (!actual || actual.length !== total) return report('failed', `the harness wrote ${actual?.length ?? 0} bytes of outputs, expected ${total}`, []);
  let offset = 0;
  const comparisons = outputs.map((o) => {
    const bytes = o.count * DTYPE_SIZE[o.dtype];
    const c = compareOutput(o.name, o.dtype, expected.subarray(offset, offset + bytes), actual.subarray(offset, offset + bytes), o.tolerance ?? m.tolerance!);
    offset += bytes;
    return c;
  });
  const failed = comparisons.filter((c) => !c.passed);
  if (failed.length === 0) {
    const worst = comparisons.reduce((a, c) => (c.maxAbsError > a.maxAbsError ? c : a), comparisons[0]);
    const weak = comparisons.filter((c) => c.weak).map((c) => c.name);
    const caveat = weak.length ? `; a weak check of ${weak.join(', ')}: ${weak.length > 1 ? 'their' : 'its'} reference values lie within atol of zero` : '';
    return report('passed', `${comparisons.length === 1 ? '1 output matches' : `${comparisons.length} outputs match`} the reference on ${base.runner} (max abs error ${fmt(worst?.maxAbsError ?? 0)}, max ${worst?.maxUlp ?? 0} ulp)${caveat}`, comparisons);
  }
  const c = failed[0];
  const t = c.tolerance;
  const summary =
    `output ${c.name}: ${c.mismatches} of ${c.count} elements differ from the reference on ${base.runner}; ` +
    `worst ${c.name}[${c.worst!.index}]: expected ${fmt(c.worst!.expected)}, got ${fmt(c.worst!.actual)} ` +
    // Errors are measured over the elements that are finite on both sides: say first how many are not, or a build
    // that gave Infinity everywhere would read as nearly exact.
    `(${c.nanInfMismatches ? `${c.nanInfMismatches} NaN or infinite where the reference is not, or the other way round; among the rest, ` : ''}` +
    `max abs error ${fmt(c.maxAbsError)}, max rel error ${fmt(c.maxRelError)}, max ${c.maxUlp} ulp; tolerance rtol ${t.rtol}, atol ${t.atol}${t.maxUlp !== null ? `, maxUlp ${t.maxUlp}` : ''})`;
  return report('failed', summary, comparisons);
}

const SHOWN_LINE = 120;

/**
 * Where a program's output first differs from the expected output, as a person reads it: the
 * whole line on both sides (expected "41", got "42"), not the rest from the first differing
 * character ("1\n" against "2\n"), with its line and column.
 */
export function stdoutDifference(expected: string, actual: string): string {
  let i = 0;
  while (i < actual.length && i < expected.length && actual[i] === expected[i]) i++;
  // Both sides agree up to i, so the line holding it starts at the same place in both.
  const start = expected.lastIndexOf('\n', i - 1) + 1;
  const line = expected.slice(0, start).split('\n').length;
  const column = i - start + 1;
  const show = (text: string): string => {
    if (start >= text.length) return 'the end of the output';
    const end = text.indexOf('\n', start);
    const whole = text.slice(start, end < 0 ? text.length : end);
    if (whole.length <= SHOWN_LINE) return JSON.stringify(whole);
    const from = Math.max(0, Math.min(column - 1 - SHOWN_LINE / 2, whole.length - SHOWN_LINE));
    return `${from > 0 ? '...' : ''}${JSON.stringify(whole.slice(from, from + SHOWN_LINE))}${from + SHOWN_LINE < whole.length ? '...' : ''}`;
  };
  const e = show(expected);
  const a = show(actual);
  if (e === a) {
    // The line is the same; only what follows it differs (a missing or extra newline).
    return `standard output differs at the end of line ${line} (column ${column}): expected ${JSON.stringify(expected.slice(i, i + 40))} after it, got ${JSON.stringify(actual.slice(i, i + 40))}`;
  }
  return `standard output differs at line ${line}, column ${column}: expected ${e}, got ${a}`;
}

/** Judges a whole program like an online judge: its standard output and its exit code. */
export function evaluateProgram(m: BundleManifest, run: RunOutcome, base: Pick<VerificationReport, 'runner' | 'worker'>): VerificationReport {
  const expect = m.expect ?? { stdout: null, exitCode: null };
  const problems: string[] = [];
  const crashed = runFailure(run, 'the program', m.timeoutMs, base.runner);
  if (crashed) problems.push(crashed);
  else {
    if (run.truncated) problems.push('the program printed more than the output limit');
    if (expect.exitCode !== null && run.exitCode !== expect.exitCode) problems.push(`exit code ${run.exitCode}, expected ${expect.exitCode}`);
    if (expect.stdout !== null && run.stdout !== expect.stdout) problems.push(stdoutDifference(expect.stdout, run.stdout));
  }
  return {
    status: crashed && run.timedOut && !run.memoryLimitBytes ? 'unfinished' : problems.length ? 'failed' : 'passed',
    ...base,
    kind: 'program',
    summary: problems.length ? problems.join('; ') : `the program printed what was expected and exited with ${run.exitCode} on ${base.runner}`,
    reference: m.reference,
    seed: null,
    runMs: Math.round(run.wallMs),
    outputs: [],
    program: {
      exitCode: run.exitCode,
      signal: run.signal,
      timedOut: run.timedOut,
      stdout: run.stdout.slice(0, 64 * 1024),
      stderr: run.stderr.slice(0, 16 * 1024),
      expectedStdout: expect.stdout,
      expectedExitCode: expect.exitCode,
      wallMs: Math.round(run.wallMs),
      peakMemoryKb: run.peakMemoryKb ?? null,
    },
  };
}
