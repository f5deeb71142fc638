import { readdirSync, readFileSync } from 'node:fs';

/** The q-quantile of a sample (nearest rank); NaN when it is empty. */
export function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))] : NaN;
}

/** Linux's CPU time counters (/proc), in milliseconds (USER_HZ is 100 on every Linux ABI). */
const TICK_MS = 10;

/** CPU time (user + system) of a process, in ms; 0 when it is gone. */
export function processCpuMs(pid: number): number {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(f[11]) + Number(f[12])) * TICK_MS; // utime + stime
  } catch {
    return 0;
  }
}

/** CPU time of every process with this name (all of PostgreSQL's backends, say). */
export function cpuOfCommMs(comm: string): number {
  let ms = 0;
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      if (readFileSync(`/proc/${p}/comm`, 'utf8').trim() === comm) ms += processCpuMs(Number(p));
    } catch {
      /* gone */
    }
  }
  return ms;
}

/** Busy CPU time of the whole machine, all cores. */
export function busyMs(): number {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].split(/\s+/).slice(1).map(Number);
  return (f[0] + f[1] + f[2] + f[5] + f[6] + f[7]) * TICK_MS; // user nice system irq softirq steal
}

/** Waits until Kiln at `base` lists the target as available (a worker has announced it), for up to 120 s. */
export async function waitForTarget(base: string, headers: Record<string, string>, target = 'x86_64-linux-gnu'): Promise<void> {
  for (const deadline = Date.now() + 120_000; ; ) {
    const r = (await fetch(`${base}/v1/targets`, { headers }).then((x) => x.json()).catch(() => null)) as { targets?: { name: string; available: boolean }[] } | null;
    if (r?.targets?.some((t) => t.name === target && t.available)) return;
    if (Date.now() > deadline) throw new Error('Kiln did not come up within 120 s');
    await new Promise((done) => setTimeout(done, 250));
  }
}
