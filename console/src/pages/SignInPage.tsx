import { type FormEvent, useState } from 'react';
import { useTitle } from '../hooks';

export function SignInPage({ onSignIn, notice }: { onSignIn: (key: string) => Promise<void>; notice: string | null }) {
  useTitle('Sign in');
  const [key, setKey] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await onSignIn(key.trim());
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
          <p id="key-help" className="muted small">
            Kept in this browser tab only, and sent to this Kiln server only. A local server prints one at start (<code>data/bootstrap-api-key</code>); <code>kiln keys create</code> makes more.
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
