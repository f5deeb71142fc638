import { type KeyboardEvent, useEffect, useMemo, useRef, useState } from 'react';
import { artifactBlob, followJob, saveBlob, unwrap } from '../api';
import { CodeView } from '../components/Code';
import { CopyBox } from '../components/CopyBox';
import { ModelView } from '../components/ModelView';
import { VerificationReport } from '../components/ReportPlot';
import { Loading, Problem } from '../components/States';
import { StatusBadge } from '../components/StatusBadge';
import { Timeline } from '../components/Timeline';
import { useAsync, useNow, useTitle } from '../hooks';
import { cliCommand, curlCommand, requestOf } from '../lib/command';
import { formatBytes, formatDuration, shortId } from '../lib/format';
import { languageOf } from '../lib/highlight';
import { verdict } from '../lib/plot';
import { applyEvent, TERMINAL } from '../lib/timeline';
import type { Artifact, Build, Job, ModelCompilers, TargetCatalog } from '../lib/types';
import { Link, navigate } from '../router';
import { useSession } from '../session';

/** Artifacts that are text worth reading in the page. */
const VIEWABLE_KINDS = new Set(['assembly', 'llvm-ir', 'ptx', 'source', 'c-source', 'header', 'metadata', 'log', 'report']);
const VIEWABLE_NAME = /\.(s|S|ll|ptx|c|h|cu|json|txt|log)$/;
const VIEW_LIMIT = 2_000_000;

export function JobPage({ id }: { id: string }) {
  const { api } = useSession();
  const [job, reload, setJob] = useAsync<Job>(() => unwrap(api.GET('/v1/jobs/{id}', { params: { path: { id } } })), [api, id]);
  useTitle(`Job ${shortId(id)}`);
  const finished = job.state === 'ready' && TERMINAL.includes(job.data.status);
  const now = useNow(job.state === 'ready' && !finished);
  const latest = useRef(job);
  latest.current = job;

  // Live: apply each state change at once, then fetch the job for what came with it (artifacts, reports).
  useEffect(() => {
    if (job.state !== 'ready' || finished) return;
    let pending: ReturnType<typeof setTimeout> | null = null;
    const refresh = () => {
      if (pending) return;
      pending = setTimeout(() => {
        pending = null;
        reload();
      }, 300);
    };
    const stop = followJob(api, id, {
      onChange: (c) => {
        const cur = latest.current;
        if (cur.state === 'ready') setJob({ ...cur.data, builds: applyEvent(cur.data.builds, { buildId: c.buildId, to: c.to }) });
        refresh();
      },
      onEnd: () => reload(),
    });
    return () => {
      stop();
      if (pending) clearTimeout(pending);
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [api, id, job.state, finished]);

  if (job.state === 'loading') return <div className="page"><Loading label="Loading the job…" /></div>;
  if (job.state === 'error') {
    return (
      <div className="page">
        <Problem title="This job could not be loaded" message={job.error.message} onRetry={reload} />
        <p><Link to="/jobs">Back to the jobs</Link></p>
      </div>
    );
  }
  return <JobView job={job.data} now={now} />;
}

function JobView({ job, now }: { job: Job; now: number }) {
  const { api } = useSession();
  const [selected, setSelected] = useState(job.builds[0]?.id ?? '');
  const [canceling, setCanceling] = useState<string | null>(null);
  const [deleting, setDeleting] = useState<string | null>(null);
  const build = job.builds.find((b) => b.id === selected) ?? job.builds[0];
  const finished = TERMINAL.includes(job.status);
  const [catalog] = useAsync<TargetCatalog>(() => unwrap(api.GET('/v1/targets')), [api]);
  const [compilers] = useAsync<ModelCompilers>(() => (job.model ? unwrap(api.GET('/v1/models/compilers')) : Promise.resolve({ compilers: [] })), [api, !!job.model]);

  const cancel = async () => {
    setCanceling('…');
    try {
      await unwrap(api.DELETE('/v1/jobs/{id}', { params: { path: { id: job.id } } }));
      setCanceling(null);
    } catch (e) {
      setCanceling((e as Error).message);
    }
  };

  const remove = async () => {
    if (!window.confirm('Delete this job with its builds, artifacts and verification reports? This cannot be undone.')) return;
    setDeleting('…');
    try {
      await unwrap(api.DELETE('/v1/jobs/{id}', { params: { path: { id: job.id }, query: { purge: true } } }));
      navigate('/jobs');
    } catch (e) {
      setDeleting((e as Error).message);
    }
  };

  const input = job.model ? job.model.filename : (job.source?.files.map((f) => f.path).join(', ') ?? '');
  return (
    <div className="page">
      <nav className="crumbs" aria-label="Breadcrumb"><Link to="/jobs">Jobs</Link> <span aria-hidden="true">/</span> <span>{shortId(job.id)}</span></nav>
      <div className="page-head">
        <div>
          <h1>
            Job <code>{shortId(job.id)}</code> <StatusBadge status={job.status} />
          </h1>
          <p className="muted">
            {job.model ? 'ONNX model' : job.source?.language.toUpperCase()} · {input} · {job.builds.length} target{job.builds.length === 1 ? '' : 's'} · created {new Date(job.createdAt).toLocaleString()}
          </p>
        </div>
        {!finished && (
          <button type="button" className="btn danger" onClick={cancel} disabled={canceling === '…'}>Cancel builds</button>
        )}
        {finished && (
          <button type="button" className="btn danger" onClick={remove} disabled={deleting === '…'}>Delete job</button>
        )}
      </div>
      {canceling && canceling !== '…' && <Problem title="The job could not be canceled" message={canceling} />}
      {deleting && deleting !== '…' && <Problem title="The job could not be deleted" message={deleting} />}

      <section className="card" aria-labelledby="builds-h">
        <h2 id="builds-h">Builds</h2>
        <div className="table-wrap">
          <table className="builds" data-testid="builds-table">
            <thead>
              <tr><th scope="col">target</th><th scope="col">status</th><th scope="col">verification</th><th scope="col">time</th><th scope="col">artifacts</th></tr>
            </thead>
            <tbody>
              {job.builds.map((b) => (
                <tr key={b.id} data-target={b.target.requested} data-status={b.status} className={b.id === build?.id ? 'selected' : ''}>
                  <td>
                    <button type="button" className="linklike" onClick={() => setSelected(b.id)} aria-controls="build-panel">
                      {b.target.requested}
                    </button>
                    {b.target.requested !== b.target.name && <span className="muted small"> {b.target.name}</span>}
                  </td>
                  <td><StatusBadge status={b.status} /></td>
                  <td><StatusBadge status={verdict(b) === 'unfinished' ? 'failed' : verdict(b)} label={verdictLabel(verdict(b), b.verification?.status)} /></td>
                  <td>{formatDuration(b.timings.totalMs)}</td>
                  <td>{b.artifacts.length}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </section>

      {build && (
        <section className="card" aria-label={`Build for ${build.target.requested}`}>
          <TargetTabs builds={job.builds} selected={build.id} onSelect={setSelected} />
          <div id="build-panel" role="tabpanel" aria-labelledby={`tab-${build.id}`} tabIndex={0} data-testid="build-panel" data-target={build.target.requested}>
            <BuildDetail key={build.id} build={build} now={now} />
          </div>
        </section>
      )}

      {job.model && (
        <section className="card" aria-labelledby="model-h">
          <h2 id="model-h">Model <span className="muted">{job.model.filename}, {formatBytes(job.model.size)}</span></h2>
          <ModelView
            inputs={job.model.inputs}
            outputs={job.model.outputs}
            ops={job.model.ops}
            compilers={compilers.state === 'ready' ? compilers.data : null}
            targets={catalog.state === 'ready' ? catalog.data.targets : []}
            highlight={job.builds.map((b) => b.target.name)}
          />
        </section>
      )}

      {job.source && (
        <section className="card" aria-labelledby="source-h">
          <h2 id="source-h">Source</h2>
          <p className="muted">
            {job.source.language.toUpperCase()} · options <code>{job.source.options.join(' ') || '(none)'}</code>
            {Object.keys(job.source.defines).length ? <> · defines <code>{Object.entries(job.source.defines).map(([k, v]) => `${k}=${v}`).join(' ')}</code></> : null}
          </p>
          {job.source.archive && (
            <p>
              Archive <code>{job.source.archive.filename}</code> <span className="muted">({job.source.archive.files.length} files, {formatBytes(job.source.archive.bytes)} unpacked)</span>
            </p>
          )}
          <ul className="files">
            {job.source.files.map((f) => (
              <li key={f.path}><code>{f.path}</code> <span className="muted">{formatBytes(f.size)}</span></li>
            ))}
          </ul>
        </section>
      )}

      <Reproduce job={job} />
    </div>
  );
}

function verdictLabel(v: string, report?: string): string {
  return v === 'passed' ? 'Pass' : v === 'failed' ? 'Fail' : v === 'unfinished' ? 'Did not finish' : v === 'pending' ? 'Pending' : report === 'not-run' ? 'Not run: no device' : 'Not verified';
}

/** One tab per target; arrow keys move between them, as a tab list should. */
function TargetTabs({ builds, selected, onSelect }: { builds: Build[]; selected: string; onSelect: (id: string) => void }) {
  const refs = useRef<(HTMLButtonElement | null)[]>([]);
  const key = (e: KeyboardEvent, i: number) => {
    const next = e.key === 'ArrowRight' ? i + 1 : e.key === 'ArrowLeft' ? i - 1 : e.key === 'Home' ? 0 : e.key === 'End' ? builds.length - 1 : null;
    if (next === null) return;
    e.preventDefault();
    const j = (next + builds.length) % builds.length;
    onSelect(builds[j].id);
    refs.current[j]?.focus();
  };
  return (
    <div className="tabs" role="tablist" aria-label="Targets">
      {builds.map((b, i) => (
        <button
          key={b.id}
          ref={(el) => {
            refs.current[i] = el;
          }}
          id={`tab-${b.id}`}
          type="button"
          role="tab"
          aria-selected={b.id === selected}
          aria-controls="build-panel"
          tabIndex={b.id === selected ? 0 : -1}
          onClick={() => onSelect(b.id)}
          onKeyDown={(e) => key(e, i)}
          className={`tab ${b.status}`}
          data-target={b.target.requested}
        >
          {b.target.requested}
          <StatusBadge status={b.status} />
        </button>
      ))}
    </div>
  );
}

function BuildDetail({ build, now }: { build: Build; now: number }) {
  const [viewing, setViewing] = useState<Artifact | null>(null);
  return (
    <div className="build-detail">
      <div className="grid2">
        <div>
          <h3>Timeline</h3>
          <Timeline build={build} now={now} />
          {build.statusReason && <p className={`reason ${build.status}`} data-testid="status-reason">{build.statusReason}</p>}
        </div>
        <div>
          <h3>Build</h3>
          <dl className="facts">
            <div><dt>target</dt><dd><code>{build.target.triple}</code>{build.target.cpu ? <> · cpu <code>{build.target.cpu}</code></> : null}{build.target.features.length ? <> · <code>{build.target.features.join(' ')}</code></> : null}</dd></div>
            <div><dt>toolchain</dt><dd>{build.toolchain ? `${build.toolchain.key} ${build.toolchain.version}` : '—'}</dd></div>
            <div><dt>worker</dt><dd>{build.worker ?? '—'} <span className="muted">({build.pool}{build.verifyPool ? `, verified on ${build.verifyPool}` : ''})</span></dd></div>
            <div><dt>queued</dt><dd>{formatDuration(build.timings.queuedMs)}</dd></div>
            <div><dt>compile</dt><dd>{formatDuration(build.timings.compileMs)}{build.timings.toolchainMs !== null ? <span className="muted"> ({formatDuration(build.timings.toolchainMs)} in the toolchain)</span> : null}</dd></div>
            <div><dt>verify</dt><dd>{formatDuration(build.timings.verifyMs)}</dd></div>
            <div><dt>total</dt><dd>{formatDuration(build.timings.totalMs)}</dd></div>
          </dl>
        </div>
      </div>

      <h3>Diagnostics</h3>
      {build.diagnostics.length === 0 ? (
        <p className="muted">{TERMINAL.includes(build.status) || build.status === 'compiled' || build.status === 'verifying' ? 'The compiler said nothing: no errors, no warnings.' : 'None yet.'}</p>
      ) : (
        <ul className="diagnostics" data-testid="diagnostics">
          {build.diagnostics.map((d, i) => (
            <li key={i} className={`diag ${d.severity}`}>
              <span className={`sev ${d.severity}`}>{d.severity}</span>{' '}
              <code className="loc">{d.file ?? '(no file)'}{d.line !== null ? `:${d.line}` : ''}{d.column !== null ? `:${d.column}` : ''}</code>{' '}
              <span>{d.message}</span>
              {d.option && <span className="muted"> [{d.option}]</span>}
            </li>
          ))}
        </ul>
      )}
      {build.log && (
        <details className="log">
          <summary>Compiler output</summary>
          <pre>{build.log}</pre>
        </details>
      )}

      <h3>Artifacts</h3>
      <Artifacts build={build} viewing={viewing} onView={setViewing} />
      {viewing && <ArtifactViewer artifact={viewing} onClose={() => setViewing(null)} />}

      <h3>Verification</h3>
      <VerificationReport build={build} />
    </div>
  );
}

function isViewable(a: Artifact): boolean {
  return a.size <= VIEW_LIMIT && (VIEWABLE_KINDS.has(a.kind) || VIEWABLE_NAME.test(a.name));
}

function Artifacts({ build, viewing, onView }: { build: Build; viewing: Artifact | null; onView: (a: Artifact) => void }) {
  const { api } = useSession();
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState<string | null>(null);
  if (build.artifacts.length === 0) return <p className="muted">{TERMINAL.includes(build.status) ? 'This build produced no artifacts.' : 'Artifacts appear here when the build has compiled.'}</p>;
  const download = async (a: Artifact) => {
    setBusy(a.id);
    setError(null);
    try {
      saveBlob(await artifactBlob(api, a.id), a.name);
    } catch (e) {
      setError(`${a.name}: ${(e as Error).message}`);
    } finally {
      setBusy(null);
    }
  };
  const sorted = [...build.artifacts].sort((x, y) => Number(x.kind === 'bundle') - Number(y.kind === 'bundle') || x.name.localeCompare(y.name));
  return (
    <>
      {error && <Problem title="The download failed" message={error} />}
      <div className="table-wrap">
        <table className="artifacts" data-testid="artifacts">
          <thead>
            <tr><th scope="col">name</th><th scope="col">kind</th><th scope="col">size</th><th scope="col">sha256</th><th scope="col"><span className="sr-only">actions</span></th></tr>
          </thead>
          <tbody>
            {sorted.map((a) => (
              <tr key={a.id} data-artifact={a.name} className={viewing?.id === a.id ? 'selected' : ''}>
                <td><code>{a.name}</code></td>
                <td>{a.kind}</td>
                <td className="num" data-size={a.size}>{formatBytes(a.size)}</td>
                <td><code className="hash" title={a.sha256}>{a.sha256.slice(0, 12)}</code></td>
                <td className="actions">
                  {isViewable(a) && <button type="button" className="btn small" onClick={() => onView(a)} aria-label={`View ${a.name}`}>View</button>}
                  <button type="button" className="btn small" onClick={() => download(a)} disabled={busy === a.id} aria-label={`Download ${a.name}`}>
                    {busy === a.id ? 'Downloading…' : 'Download'}
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </>
  );
}

function ArtifactViewer({ artifact, onClose }: { artifact: Artifact; onClose: () => void }) {
  const { api } = useSession();
  const [text] = useAsync<string>(async () => (await artifactBlob(api, artifact.id)).text(), [api, artifact.id]);
  const ref = useRef<HTMLDivElement>(null);
  useEffect(() => ref.current?.focus(), [artifact.id]);
  return (
    <div className="viewer" ref={ref} tabIndex={-1} data-testid="artifact-viewer" data-artifact={artifact.name}>
      <div className="viewer-head">
        <strong><code>{artifact.name}</code></strong> <span className="muted">{artifact.kind}, {formatBytes(artifact.size)}</span>
        <button type="button" className="btn small ghost" onClick={onClose}>Close</button>
      </div>
      {text.state === 'loading' && <Loading label={`Loading ${artifact.name}…`} />}
      {text.state === 'error' && <Problem title={`${artifact.name} could not be loaded`} message={text.error.message} />}
      {text.state === 'ready' && <CodeView code={text.data} lang={languageOf(artifact.name, artifact.kind)} label={`Contents of ${artifact.name}`} />}
    </div>
  );
}

function Reproduce({ job }: { job: Job }) {
  const [tab, setTab] = useState<'curl' | 'cli'>('curl');
  const { body, inlineFiles } = useMemo(() => requestOf(job), [job]);
  const base = window.location.origin;
  const files = job.model ? [job.model.filename] : job.source?.archive ? [job.source.archive.filename, ...job.source.files.filter((f) => f.uploadId).map((f) => f.path)] : (job.source?.files.map((f) => f.path) ?? []);
  return (
    <section className="card" aria-labelledby="repro-h">
      <h2 id="repro-h">Reproduce this request</h2>
      <div className="segmented" role="group" aria-label="Command">
        <button type="button" aria-pressed={tab === 'curl'} onClick={() => setTab('curl')}>curl</button>
        <button type="button" aria-pressed={tab === 'cli'} onClick={() => setTab('cli')}>kiln CLI</button>
      </div>
      {tab === 'curl' ? (
        <>
          <p className="muted small">Sends the same request again (uploads are kept, so they are referred to by id). Set <code>KILN_API_KEY</code> first.</p>
          <CopyBox text={curlCommand(base, body)} label="curl command" />
        </>
      ) : (
        <>
          <p className="muted small">The same build from local files with the CLI (<code>npx kiln</code>); it uploads them itself. Set <code>KILN_API_KEY</code> first.</p>
          <CopyBox text={cliCommand(base, body, files)} label="kiln CLI command" />
        </>
      )}
      {inlineFiles.length > 0 && <p className="muted small">{inlineFiles.join(', ')} {inlineFiles.length === 1 ? 'was' : 'were'} sent inline and {inlineFiles.length === 1 ? 'is' : 'are'} not kept: put the text in "content".</p>}
    </section>
  );
}
