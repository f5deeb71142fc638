import { Worker } from 'node:worker_threads';

/**
 * Measures how long an endpoint takes to answer, from a thread of its own: requests go out at
 * a steady pace whether or not earlier ones have been answered (an open loop), so an event loop
 * that stalls for seconds shows in most samples, not in one. The test process runs the API, so
 * a probe on the test's own event loop would stall with it.
 */
export class LatencyProbe {
  private readonly worker: Worker;

  constructor(url: string, intervalMs = 20) {
    const source = `
      const { parentPort, workerData } = require('node:worker_threads');
      const { performance } = require('node:perf_hooks');
      let timer = null, samples = [], pending = 0;
      parentPort.on('message', async (m) => {
        if (m === 'start') {
          samples = [];
          timer = setInterval(() => {
            const t = performance.now();
            pending++;
            fetch(workerData.url)
              .then((r) => r.arrayBuffer().then(() => samples.push(r.ok ? performance.now() - t : Infinity)))
              .catch(() => samples.push(Infinity))
              .finally(() => pending--);
          }, workerData.intervalMs);
        } else if (m === 'stop') {
          clearInterval(timer);
          const deadline = Date.now() + 60000;
          while (pending > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
          parentPort.postMessage(samples);
        }
      });`;
    this.worker = new Worker(source, { eval: true, workerData: { url, intervalMs } });
  }

  /** Latencies in ms (Infinity: no answer) of the requests sent while `during` ran. */
  async measure<T>(during: () => Promise<T>): Promise<{ result: T; samples: number[] }> {
    this.worker.postMessage('start');
    let result: T;
    try {
      result = await during();
    } finally {
      this.worker.postMessage('stop');
    }
    const samples = await new Promise<number[]>((resolve) => this.worker.once('message', resolve));
    return { result, samples };
  }

  close(): Promise<number> {
    return this.worker.terminate();
  }
}

export function median(samples: number[]): number {
  const s = [...samples].sort((a, b) => a - b);
  return s.length ? s[Math.floor(s.length / 2)] : NaN;
}
