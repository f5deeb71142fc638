import { useEffect, useMemo, useRef, useState } from 'react';
import { followJob, unwrap } from '../api';
import { Empty, Loading, Problem } from '../components/States';
import { StatusBadge } from '../components/StatusBadge';
import { useAsync, useTitle } from '../hooks';
import { formatAgo, shortId } from '../lib/format';
import { applyEvent, jobStatusOf, statusLabel, TERMINAL } from '../lib/timeline';
import type { JobList, JobStatus, JobSummary } from '../lib/types';
import { Link, navigate, useLocation } from '../router';
import { useSession } from '../session';

const STATUSES = ['queued', 'running', 'succeeded', 'failed', 'canceled'] as const;
const PAGE = 20;
/** Live streams at once: browsers allow six connections per server, and the page needs some. */
const MAX_STREAMS = 4;

export function JobsPage() {
  useTitle('Jobs');
  const { api } = useSession();
  const { query } = useLocation();
  const status = (STATUSES as readonly string[]).includes(query.get('status') ?? '') ? (query.get('status') as JobStatus) : undefined;
  const cursor = query.get('cursor') ?? undefined;
  const [text, setText] = useState('');
  const [list, reload, setList] = useAsync<JobList>(() => unwrap(api.GET('/v1/jobs', { params: { query: { status, cursor, limit: PAGE } } })), [api, status, cursor]);
  const history = useRef<string[]>([]);

  const setQuery = (next: { status?: string; cursor?: string }) => {
    const q = new URLSearchParams();
    if (next.status) q.set('status', next.status);
    if (next.cursor) q.set('cursor', next.cursor);
    navigate(`/jobs${q.toString() ? `?${q}` : ''}`);
  };

  // Live status: a stream per unfinished job on the page, and a quiet refresh for new jobs.
  const active = list.state === 'ready' ? list.data.items.filter((j) => !TERMINAL.includes(j.status)).slice(0, MAX_STREAMS).map((j) => j.id) : [];
  const activeKey = active.join(',');
  const latest = useRef(list);
  latest.current = list;
  useEffect(() => {
    const stops = active.map((id) =>
      followJob(api, id, {
        onChange: (c) => {
          const cur = latest.current;
          if (cur.state !== 'ready') return;
          setList({ ...cur.data, items: cur.data.items.map((j) => (j.id === id ? withBuildStatus(j, c.buildId, c.to) : j)) });
        },
        onEnd: () => reload(),
      }),
    );
    return () => stops.forEach((s) => s());
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [api, activeKey]);
  useEffect(() => {
    if (cursor) return;
    const t = setInterval(() => document.visibilityState === 'visible' && reload(), 5000);
    return () => clearInterval(t);
  }, [cursor, reload]);

  const items = useMemo(() => {
    if (list.state !== 'ready') return [];
    const t = text.trim().toLowerCase();
    return t ? list.data.items.filter((j) => j.id.includes(t) || j.language.includes(t) || j.builds.some((b) => b.target.toLowerCase().includes(t))) : list.data.items;
  }, [list, text]);

  return (
    <div className="page">
      <div className="page-head">
        <h1>Jobs</h1>
        <Link to="/new" className="btn primary">New build</Link>
      </div>
      <div className="filters" role="search">
        <div className="segmented" role="group" aria-label="Status">
          <button type="button" aria-pressed={!status} onClick={() => setQuery({})}>All</button>
          {STATUSES.map((s) => (
            <button type="button" key={s} aria-pressed={status === s} onClick={() => setQuery({ status: s })}>
              {statusLabel(s)}
            </button>
          ))}
        </div>
        <label className="search">
          <span className="sr-only">Filter this page by target, language or id</span>
          <input type="search" placeholder="Filter by target, language or id" value={text} onChange={(e) => setText(e.target.value)} />
        </label>
      </div>
      {list.state === 'loading' && <Loading label="Loading jobs…" />}
      {list.state === 'error' && <Problem title="The jobs could not be loaded" message={list.error.message} onRetry={reload} />}
      {list.state === 'ready' && items.length === 0 && (
        <Empty title={text ? 'No job on this page matches the filter.' : status ? `No ${status} jobs.` : 'No jobs yet.'}>
          {!status && !text && (
            <p>
              Start with <Link to="/new">a new build</Link>: drop an ONNX model or a C file, pick targets, and watch it build.
            </p>
          )}
        </Empty>
      )}
      {list.state === 'ready' && items.length > 0 && (
        <div className="table-wrap">
          <table className="jobs" data-testid="jobs-table">
            <thead>
              <tr><th scope="col">job</th><th scope="col">status</th><th scope="col">input</th><th scope="col">builds</th><th scope="col">created</th></tr>
            </thead>
            <tbody>
              {items.map((j) => (
                <tr key={j.id} data-job={j.id}>
                  <td><Link to={`/jobs/${j.id}`}><code>{shortId(j.id)}</code></Link></td>
                  <td><StatusBadge status={j.status} /></td>
                  <td>{j.language === 'onnx' ? 'ONNX model' : j.language.toUpperCase()}</td>
                  <td>
                    <ul className="build-pills">
                      {j.builds.map((b) => (
                        <li key={b.id} className={`pill ${b.status}`} data-build-status={b.status} title={`${b.target}: ${b.status}`}>
                          {b.target} <span className="sr-only">: </span><StatusBadge status={b.status} />
                        </li>
                      ))}
                    </ul>
                  </td>
                  <td title={j.createdAt}>{formatAgo(j.createdAt)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {list.state === 'ready' && (cursor || list.data.nextCursor) && (
        <nav className="pager" aria-label="Pages">
          <button type="button" className="btn" disabled={!cursor} onClick={() => setQuery({ status, cursor: history.current.pop() })}>← Newer</button>
          <button
            type="button"
            className="btn"
            disabled={!list.data.nextCursor}
            onClick={() => {
              history.current.push(cursor ?? '');
              setQuery({ status, cursor: list.data.nextCursor ?? undefined });
            }}
          >
            Older →
          </button>
        </nav>
      )}
    </div>
  );
}

function withBuildStatus(j: JobSummary, buildId: string, to: string): JobSummary {
  const builds = applyEvent(j.builds, { buildId, to });
  return { ...j, builds, status: jobStatusOf(builds.map((b) => b.status)) as JobSummary['status'] };
}
