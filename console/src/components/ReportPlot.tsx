import { formatDuration, formatNumber } from '../lib/format';
import { outputPlot, verdict, worstRows } from '../lib/plot';
import type { Build, OutputComparison, Verification } from '../lib/types';
import { ProfileView } from './ProfileView';
import { StatusBadge } from './StatusBadge';

const W = 440;
const H = 170;
const PAD = { l: 36, r: 8, t: 10, b: 34 };

/** Where the atol label goes: after the line, or before it (anchored at its end) when it would not fit. About 6 px a character at the tick size. */
function atolLabelAt(x: number, right: number, text: string): { x: number; textAnchor: 'start' | 'end' } {
  return x + 3 + text.length * 6 > right ? { x: x - 3, textAnchor: 'end' } : { x: x + 3, textAnchor: 'start' };
}

/** An output's absolute errors as a histogram: one bar per decade, failing elements in red, atol dashed. */
export function ErrorHistogram({ output }: { output: OutputComparison }) {
  const p = outputPlot(output);
  const n = p.bars.length;
  const bw = (W - PAD.l - PAD.r) / n;
  const ih = H - PAD.t - PAD.b;
  const maxCount = Math.max(1, ...p.bars.map((b) => b.count));
  return (
    <figure className="plot">
      <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-labelledby={`plot-${output.name}-t plot-${output.name}-d`} data-testid={`plot-${output.name}`}>
        <title id={`plot-${output.name}-t`}>Absolute error distribution of {output.name}</title>
        <desc id={`plot-${output.name}-d`}>{p.bars.map((b) => `${b.label}: ${b.count}${b.failed ? ` (${b.failed} failing)` : ''}`).join('; ')}</desc>
        <line x1={PAD.l} y1={PAD.t + ih} x2={W - PAD.r} y2={PAD.t + ih} className="axis" />
        <text x={PAD.l - 4} y={PAD.t + 8} className="tick" textAnchor="end">{maxCount}</text>
        <text x={PAD.l - 4} y={PAD.t + ih} className="tick" textAnchor="end">0</text>
        {p.bars.map((b, i) => {
          const x = PAD.l + i * bw + 2;
          const h = b.height * ih;
          const fh = b.count ? (b.failed / b.count) * h : 0;
          return (
            <g key={b.label} className="bar" data-label={b.label} data-count={b.count}>
              <rect x={x} y={PAD.t + ih - h} width={bw - 4} height={h - fh} className={b.exponent === null && b.label === 'exact' ? 'exact' : 'ok'} />
              {fh > 0 && <rect x={x} y={PAD.t + ih - fh} width={bw - 4} height={fh} className="fail" />}
              {b.count > 0 && (
                <text x={x + (bw - 4) / 2} y={PAD.t + ih - h - 2} className="count" textAnchor="middle">
                  {b.count}
                </text>
              )}
              <text x={x + (bw - 4) / 2} y={H - PAD.b + 14} className="tick" textAnchor="middle">
                {b.label}
              </text>
            </g>
          );
        })}
        {p.toleranceBar !== null && (
          <g className="tolerance">
            <line x1={PAD.l + p.toleranceBar * bw} y1={PAD.t} x2={PAD.l + p.toleranceBar * bw} y2={PAD.t + ih} />
            {/* Right of the line, or left of it where the label would run past the plot's edge. */}
            <text {...atolLabelAt(PAD.l + p.toleranceBar * bw, W - PAD.r, `atol ${formatNumber(output.tolerance.atol)}`)} y={PAD.t + 9} className="tick">atol {formatNumber(output.tolerance.atol)}</text>
          </g>
        )}
        <text x={(W + PAD.l) / 2} y={H - 4} className="axis-label" textAnchor="middle">absolute error (bin starts at)</text>
      </svg>
      <figcaption>{p.caption}</figcaption>
    </figure>
  );
}

function OutputReport({ output }: { output: OutputComparison }) {
  const rows = worstRows(output);
  return (
    <section className="output-report" data-output={output.name}>
      <h4>
        <StatusBadge status={output.passed ? 'passed' : 'failed'} label={output.passed ? 'Pass' : 'Fail'} /> Output <code>{output.name}</code>{' '}
        <span className="muted">
          {output.dtype}, {output.count} elements
        </span>
      </h4>
      <dl className="stats">
        <div><dt>max abs error</dt><dd>{formatNumber(output.maxAbsError)}</dd></div>
        <div><dt>max rel error</dt><dd>{formatNumber(output.maxRelError)}</dd></div>
        <div><dt>max ULP</dt><dd>{formatNumber(output.maxUlp)}</dd></div>
        <div><dt>mismatches</dt><dd>{output.mismatches}</dd></div>
        <div><dt>NaN/Inf mismatches</dt><dd>{output.nanInfMismatches}</dd></div>
        <div><dt>tolerance</dt><dd>rtol {formatNumber(output.tolerance.rtol)}, atol {formatNumber(output.tolerance.atol)}{output.tolerance.maxUlp != null ? `, ${output.tolerance.maxUlp} ULP` : ''}</dd></div>
      </dl>
      {output.weak && <p className="reason warning" data-testid="weak-check">Weak check: {output.weak}.</p>}
      <ErrorHistogram output={output} />
      {rows.length > 0 && (
        <div className="table-wrap">
          <table className="worst">
            <caption>Worst elements</caption>
            <thead>
              <tr><th scope="col">index</th><th scope="col">expected</th><th scope="col">actual</th><th scope="col">abs error</th><th scope="col">within tolerance</th></tr>
            </thead>
            <tbody>
              {rows.map((r) => (
                <tr key={r.index} className={r.passed ? '' : 'failing'}>
                  <td>{output.name}[{r.index}]</td><td>{r.expected}</td><td>{r.actual}</td><td>{r.absError}</td><td>{r.passed ? 'yes' : 'no'}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

export function VerificationReport({ build }: { build: Build }) {
  const v: Verification | null | undefined = build.verification;
  const word = verdict(build);
  if (!v) {
    return (
      <p className="muted" data-testid="verification-pending">
        {word === 'pending' ? `Verification pending: it runs on ${build.verifyPool} once the build is compiled.` : 'This build was not verified.'}
      </p>
    );
  }
  return (
    <div className="report" data-testid="verification-report" data-verdict={word}>
      <p className={`verdict ${word}`}>
        <StatusBadge status={word === 'unfinished' ? 'failed' : word} label={word === 'passed' ? 'Verified' : word === 'unfinished' ? 'Did not finish' : word === 'not verified' ? 'Not run' : 'Verification failed'} /> {v.summary}
      </p>
      {v.status !== 'not-run' && (
        <p className="muted">
          Ran on <strong>{v.runner}</strong> ({v.worker}) in {formatDuration(v.runMs)}; compared with {v.reference}
          {v.seed !== null ? `; inputs from seed ${v.seed}` : ''}.
        </p>
      )}
      {v.ran && (
        <p className="muted" data-testid="verified-file">
          It ran <strong>{v.ran.artifact ?? `${v.ran.file}, which is not among the artifacts`}</strong>, sha256 <code title={v.ran.sha256}>{v.ran.sha256.slice(0, 16)}…</code>
        </p>
      )}
      {v.program && (
        <dl className="stats">
          <div><dt>exit code</dt><dd>{v.program.exitCode ?? v.program.signal ?? '—'}{v.program.expectedExitCode !== null ? ` (expected ${v.program.expectedExitCode})` : ''}</dd></div>
          <div><dt>timed out</dt><dd>{v.program.timedOut ? 'yes' : 'no'}</dd></div>
          <div className="wide"><dt>stdout</dt><dd><pre>{v.program.stdout || '(empty)'}</pre></dd></div>
          {v.program.expectedStdout !== null && <div className="wide"><dt>expected stdout</dt><dd><pre>{v.program.expectedStdout || '(empty)'}</pre></dd></div>}
        </dl>
      )}
      {v.outputs.map((o) => (
        <OutputReport key={o.name} output={o} />
      ))}
      {v.profile && <ProfileView profile={v.profile} />}
      {v.profileError && <p className="reason failed" data-testid="profile-error">No profile: {v.profileError}</p>}
    </div>
  );
}
