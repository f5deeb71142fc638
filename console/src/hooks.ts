import { useCallback, useEffect, useRef, useState } from 'react';

export type Async<T> = { state: 'loading' } | { state: 'error'; error: Error } | { state: 'ready'; data: T };

/** Runs a load on mount and when deps change; reload() runs it again. Stale answers are dropped. */
export function useAsync<T>(load: () => Promise<T>, deps: unknown[]): [Async<T>, () => void, (data: T) => void] {
  const [v, setV] = useState<Async<T>>({ state: 'loading' });
  const seq = useRef(0);
  const run = useCallback(() => {
    const me = ++seq.current;
    load().then(
      (data) => me === seq.current && setV({ state: 'ready', data }),
      (error: Error) => me === seq.current && setV({ state: 'error', error }),
    );
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, deps);
  useEffect(() => {
    setV({ state: 'loading' });
    run();
  }, [run]);
  const set = useCallback((data: T) => setV({ state: 'ready', data }), []);
  return [v, run, set];
}

/** The time now, ticking while `active`, for durations of running builds. */
export function useNow(active: boolean, everyMs = 1000): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    if (!active) return;
    const t = setInterval(() => setNow(Date.now()), everyMs);
    return () => clearInterval(t);
  }, [active, everyMs]);
  return now;
}

export function useTitle(title: string): void {
  useEffect(() => {
    document.title = `${title} · Kiln`;
  }, [title]);
}
