import { type FormEvent, useState } from 'react';
import { useTitle } from '../hooks';

/** Shown in place of whatever page was asked for: once signed in, that page opens (the address never changes). */
export function SignInPage({ onSignIn, notice }: { onSignIn: (key: string, remember: boolean) => Promise<void>; notice: string | null }) {
  useTitle('Sign in');
  const [key, setKey] = useState('');
  const [remember, setRemember] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await onSignIn(key.trim(), remember);
    } catch (err) {
      setError((err as Error).message);
      setBusy(false);
    }
  };
  return (
    <main className="signin" id="main">
      <div className="signin-card">
        <div className="brand big">
          <img src="/favicon.svg" alt="" width={40} height={40} /> Kiln
        </div>
        <p className="lede">Compile C, C++ and ONNX models for every CPU, WebAssembly and GPU target in one request, with artifacts that are checked to compute the right numbers.</p>
        <form onSubmit={submit} aria-describedby="key-help">
          <label htmlFor="api-key">API key</label>
          <input id="api-key" type="password" autoComplete="off" spellCheck={false} value={key} onChange={(e) => setKey(e.target.value)} placeholder="kiln_…" required autoFocus />
          <label className="check">
            <input type="checkbox" checked={remember} onChange={(e) => setRemember(e.target.checked)} /> Remember this browser
          </label>
          <p id="key-help" className="muted small">
            Kept in this browser tab only, or, if this browser is to remember it, in every tab of this site until you sign out; sent to this Kiln server only. Do not ask a shared computer to remember it. A local server prints one at start (<code>data/bootstrap-api-key</code>); <code>kiln keys create</code> makes more.
          </p>
          {(error ?? notice) && (
            <div className="problem" role="alert">
              <p className="problem-message">{error ?? notice}</p>
            </div>
          )}
          <button className="btn primary wide" type="submit" disabled={busy || !key.trim()}>
            {busy ? 'Signing in…' : 'Sign in'}
          </button>
        </form>
      </div>
    </main>
  );
}
