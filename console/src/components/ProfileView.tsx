import { useState } from 'react';
import { formatBytes } from '../lib/format';
import { clockNote, opsOf, profileBars, timeByOperator, type Profile } from '../lib/profile';

const W = 640;
const ROW = 22;
const LABEL = 250;
const PAD_R = 120;

function ms(v: number): string {
  return v >= 100 ? v.toFixed(0) : v >= 1 ? v.toFixed(2) : v.toFixed(3);
}

function pct(v: number): string {
  return `${(v * 100).toFixed(1)}%`;
}

/** The slowest kernels as a horizontal bar chart: one bar per kernel, its time and share at the end. */
function KernelChart({ profile }: { profile: Profile }) {
  const bars = profileBars(profile);
  const H = bars.length * ROW + 8;
  const span = W - LABEL - PAD_R;
  return (
    <figure className="plot profile-chart">
      <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-labelledby="profile-chart-t profile-chart-d" data-testid="profile-chart">
        <title id="profile-chart-t">Time per kernel, slowest first</title>
        <desc id="profile-chart-d">{bars.map((b) => `${b.label}: ${ms(b.ms)} ms (${pct(b.share)})`).join('; ')}</desc>
        {bars.map((b, i) => (
          <g key={b.label} className={b.rest ? 'bar rest' : 'bar'} data-share={b.share.toFixed(4)} transform={`translate(0 ${4 + i * ROW})`}>
            <text x={LABEL - 6} y={ROW / 2 + 3} className="tick" textAnchor="end">{`${b.ops ? `${b.ops} ` : ''}${b.label}`.slice(0, 44)}</text>
            <rect x={LABEL} y={3} width={Math.max(1, b.width * span)} height={ROW - 6} />
            <text x={LABEL + Math.max(1, b.width * span) + 4} y={ROW / 2 + 3} className="count">{ms(b.ms)} ms · {pct(b.share)}</text>
          </g>
        ))}
      </svg>
      <figcaption>The slowest kernels of the compiled graph (after fusion); each bar is one kernel's time per run.</figcaption>
    </figure>
  );
}

/** A build's profile: the model's figures, the slowest kernels as bars, time per operator, and every kernel in a table. */
export function ProfileView({ profile }: { profile: Profile }) {
  const [all, setAll] = useState(false);
  const note = clockNote(profile);
  const rows = [...profile.kernels].sort((a, b) => b.ms - a.ms);
  const shown = all ? rows : rows.slice(0, 20);
  return (
    <section className="profile" data-testid="profile">
      <h4>Profile <span className="muted">({profile.clock}, median of {profile.runs} runs)</span></h4>
      {note && <p className="muted">{note}</p>}
      <dl className="stats">
        <div><dt>latency</dt><dd>{ms(profile.latencyMs)} ms</dd></div>
        <div><dt>throughput</dt><dd>{profile.gflops.toFixed(1)} GFLOP/s</dd></div>
        <div><dt>work</dt><dd>{(profile.flops / 1e9).toFixed(3)} GFLOP</dd></div>
        <div><dt>in kernels</dt><dd>{ms(profile.kernelsMs)} ms ({pct(profile.latencyMs > 0 ? profile.kernelsMs / profile.latencyMs : 0)})</dd></div>
        <div><dt>peak memory</dt><dd>{profile.peakMemoryBytes != null ? formatBytes(profile.peakMemoryBytes) : '—'}</dd></div>
        <div><dt>weights</dt><dd>{formatBytes(profile.weightsBytes)}</dd></div>
        <div><dt>buffers</dt><dd>{formatBytes(profile.activationBytes)}</dd></div>
        <div><dt>code</dt><dd>{formatBytes(profile.codeBytes)}</dd></div>
      </dl>
      <KernelChart profile={profile} />
      <div className="table-wrap">
        <table className="profile-ops">
          <caption>Time per operator (a fused kernel counts for its first operator)</caption>
          <thead><tr><th scope="col">operator</th><th scope="col">kernels</th><th scope="col">ms</th><th scope="col">share</th></tr></thead>
          <tbody>
            {timeByOperator(profile).map((r) => (
              <tr key={r.op}><td>{r.op}</td><td>{r.kernels}</td><td>{ms(r.ms)}</td><td>{pct(r.share)}</td></tr>
            ))}
          </tbody>
        </table>
      </div>
      <div className="table-wrap">
        <table className="profile-kernels" data-testid="profile-kernels">
          <caption>Kernels, slowest first</caption>
          <thead><tr><th scope="col">kernel</th><th scope="col">operators</th><th scope="col">MFLOP</th><th scope="col">ms</th><th scope="col">share</th><th scope="col">GFLOP/s</th></tr></thead>
          <tbody>
            {shown.map((k, i) => (
              <tr key={`${i}-${k.label}`} title={k.nodes.join(', ')}>
                <td><code>{k.label}</code></td><td>{opsOf(k)}</td><td>{(k.flops / 1e6).toFixed(2)}</td><td>{ms(k.ms)}</td><td>{pct(k.share)}</td><td>{k.gflops.toFixed(1)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {rows.length > shown.length && <button type="button" className="btn" onClick={() => setAll(true)}>Show all {rows.length} kernels</button>}
    </section>
  );
}
