import { useCallback, useEffect, useMemo, useState } from 'react';
import { ApiError, makeApi, unwrap } from './api';
import type { WhoAmI } from './lib/types';
import { JobPage } from './pages/JobPage';
import { JobsPage } from './pages/JobsPage';
import { NewBuildPage } from './pages/NewBuildPage';
import { SignInPage } from './pages/SignInPage';
import { Link, navigate, useLocation } from './router';
import { keyStore, type Session, SessionContext } from './session';
import { Loading } from './components/States';

type Auth = { state: 'checking' } | { state: 'out'; notice: string | null } | { state: 'in'; key: string; whoami: WhoAmI };

export function App() {
  const [auth, setAuth] = useState<Auth>(() => (keyStore.get() ? { state: 'checking' } : { state: 'out', notice: null }));
  const { path } = useLocation();

  const signOut = useCallback((notice?: string) => {
    keyStore.clear();
    setAuth({ state: 'out', notice: notice ?? null });
  }, []);

  const signIn = useCallback(async (key: string, remember = false) => {
    const api = makeApi(key, () => undefined);
    const whoami = await unwrap(api.GET('/v1/whoami'));
    keyStore.set(key, remember);
    setAuth({ state: 'in', key, whoami });
  }, []);

  // A key kept from earlier in this tab is checked again; a key that no longer works signs out.
  useEffect(() => {
    if (auth.state !== 'checking') return;
    signIn(keyStore.get()!).catch((e: Error) => signOut(e instanceof ApiError && e.status === 401 ? `Your API key no longer works: ${e.message}` : e.message));
  }, [auth.state, signIn, signOut]);

  const session = useMemo<Session | null>(() => {
    if (auth.state !== 'in') return null;
    const api = makeApi(auth.key, (message) => signOut(`Your API key no longer works: ${message}`));
    return { api, whoami: auth.whoami, signOut };
  }, [auth, signOut]);

  if (auth.state === 'checking') return <Loading label="Signing in…" />;
  if (!session) return <SignInPage onSignIn={signIn} notice={auth.state === 'out' ? auth.notice : null} />;

  let page;
  const job = /^\/jobs\/([^/]+)\/?$/.exec(path);
  if (path === '/' || path === '') page = <Redirect to="/jobs" />;
  else if (path === '/new') page = <NewBuildPage />;
  else if (path === '/jobs' || path === '/jobs/') page = <JobsPage />;
  else if (job) page = <JobPage id={decodeURIComponent(job[1])} />;
  else page = <NotFound />;

  return (
    <SessionContext.Provider value={session}>
      <a className="skip" href="#main">Skip to content</a>
      <header className="topbar">
        <Link to="/jobs" className="brand" aria-label="Kiln, jobs">
          <img src="/favicon.svg" alt="" width={24} height={24} /> Kiln
        </Link>
        <nav aria-label="Main">
          <Link to="/new" className={path === '/new' ? 'active' : ''} aria-current={path === '/new' ? 'page' : undefined}>New build</Link>
          <Link to="/jobs" className={path.startsWith('/jobs') ? 'active' : ''} aria-current={path === '/jobs' ? 'page' : undefined}>Jobs</Link>
        </nav>
        <div className="who">
          <span className="tenant" data-testid="tenant" title={`Key ${session.whoami.key.name} (${session.whoami.key.prefix}…)`}>
            <span className="muted">Tenant</span> {session.whoami.tenant.name}
          </span>
          <button type="button" className="btn ghost small" onClick={() => signOut()}>Sign out</button>
        </div>
      </header>
      <main id="main" tabIndex={-1}>{page}</main>
    </SessionContext.Provider>
  );
}

function Redirect({ to }: { to: string }) {
  useEffect(() => navigate(to, true), [to]);
  return null;
}

function NotFound() {
  return (
    <div className="page">
      <h1>Page not found</h1>
      <p>
        There is nothing at this address. <Link to="/jobs">See your jobs</Link> or <Link to="/new">start a new build</Link>.
      </p>
    </div>
  );
}
