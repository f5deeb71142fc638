import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { ModelTask, ModelTaskReply, ModelWorkerMessage } from './model-worker';

export interface ModelThreadPoolOptions {
  /** Models read at once; more wait for a thread. */
  threads: number;
  /** How long one model may take once a thread has it; then the thread is ended. */
  timeoutMs: number;
  /** The heap of each thread (V8's old generation), in MB; a thread that needs more is ended. */
  memoryMb: number;
  /** Requests that may wait for a thread; more are refused (ModelPoolBusyError). */
  maxWaiting?: number;
  /** An idle thread is ended after this long. */
  idleMs?: number;
  /** The worker script (tests). */
  file?: string;
}

/** A model took more time or memory than its budget; its thread was ended. */
export class ModelBudgetError extends Error {
  override readonly name = 'ModelBudgetError';
  constructor(readonly kind: 'time' | 'memory' | 'stack', message: string) {
    super(message);
  }
}

/** Every thread is busy and too many requests wait already. */
export class ModelPoolBusyError extends Error {
  override readonly name = 'ModelPoolBusyError';
}

const READY_TIMEOUT_MS = 30_000;

/**
 * Worker threads that read models (model-worker.ts), so that a model made to be costly costs a
 * thread, not the API's event loop. Threads are kept for the next model and ended when idle;
 * a thread past its time or out of memory is ended, and the next model gets a new one.
 */
export class ModelThreadPool {
  private readonly idle: Worker[] = [];
  private readonly idleTimers = new Map<Worker, NodeJS.Timeout>();
  private readonly all = new Set<Worker>();
  private readonly waiting: (() => void)[] = [];
  private active = 0;
  private nextId = 1;
  private closed = false;
  private readonly file: string;

  constructor(private readonly opts: ModelThreadPoolOptions) {
    this.file = opts.file ?? join(__dirname, 'model-worker.js');
  }

  /** Threads running now (idle ones included). */
  get threads(): number {
    return this.all.size;
  }

  /**
   * Runs one task on a thread. The task's bytes are handed to the thread (the caller must not
   * use them after). Throws ModelBudgetError when the model overran its budget.
   */
  async run(task: Omit<ModelTask, 'id'>): Promise<ModelTaskReply> {
    await this.acquire();
    try {
      const worker = this.takeIdle() ?? (await this.spawn());
      return await this.exec(worker, task);
    } finally {
      this.release();
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const t of this.idleTimers.values()) clearTimeout(t);
    this.idleTimers.clear();
    this.idle.length = 0;
    await Promise.all([...this.all].map((w) => w.terminate().catch(() => undefined)));
    this.all.clear();
  }

  private async acquire(): Promise<void> {
    if (this.closed) throw new Error('the model thread pool is closed');
    if (this.active < this.opts.threads) {
      this.active++;
      return;
    }
    if (this.waiting.length >= (this.opts.maxWaiting ?? 64)) throw new ModelPoolBusyError('every model thread is busy and too many requests wait for one');
    // The slot is handed over by release(), so no one slips in between.
    await new Promise<void>((resolve) => this.waiting.push(resolve));
  }

  private release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.active--;
  }

  private takeIdle(): Worker | undefined {
    const w = this.idle.pop();
    if (w) {
      clearTimeout(this.idleTimers.get(w));
      this.idleTimers.delete(w);
    }
    return w;
  }

  private park(w: Worker): void {
    if (this.closed) {
      this.discard(w);
      return;
    }
    w.unref();
    this.idle.push(w);
    const timer = setTimeout(() => {
      const i = this.idle.indexOf(w);
      if (i >= 0) this.idle.splice(i, 1);
      this.idleTimers.delete(w);
      this.discard(w);
    }, this.opts.idleMs ?? 30_000);
    timer.unref();
    this.idleTimers.set(w, timer);
  }

  /** Drops a thread that has ended from the pool's lists. */
  private forget(w: Worker): void {
    this.all.delete(w);
    const i = this.idle.indexOf(w);
    if (i >= 0) this.idle.splice(i, 1);
    clearTimeout(this.idleTimers.get(w));
    this.idleTimers.delete(w);
  }

  private discard(w: Worker): void {
    this.all.delete(w);
    void w.terminate().catch(() => undefined);
  }

  private spawn(): Promise<Worker> {
    const w = new Worker(this.file, {
      resourceLimits: { maxOldGenerationSizeMb: this.opts.memoryMb },
      // Not the test runner's flags (--test); source maps still help a stack trace.
      execArgv: process.execArgv.filter((a) => a === '--enable-source-maps'),
    });
    this.all.add(w);
    // A thread may fail or end when no model is on it: one ended for its time can still run out
    // of memory before it stops, and an idle one can die. Such an event is about a thread already
    // given up; without a listener it would be an uncaught exception that ends the API.
    w.on('error', () => undefined);
    w.on('exit', () => this.forget(w));
    return new Promise<Worker>((resolve, reject) => {
      const fail = (e: Error) => {
        cleanup();
        this.discard(w);
        reject(e);
      };
      const timer = setTimeout(() => fail(new Error(`a model thread did not start within ${READY_TIMEOUT_MS / 1000} s`)), READY_TIMEOUT_MS);
      const onMessage = (m: ModelWorkerMessage) => {
        if (!('ready' in m)) return;
        cleanup();
        resolve(w);
      };
      const onError = (e: Error) => fail(new Error(`a model thread failed to start: ${e.message}`));
      const onExit = (code: number) => fail(new Error(`a model thread exited (code ${code}) as it started`));
      const cleanup = () => {
        clearTimeout(timer);
        w.off('message', onMessage);
        w.off('error', onError);
        w.off('exit', onExit);
      };
      w.on('message', onMessage);
      w.on('error', onError);
      w.on('exit', onExit);
    });
  }

  private exec(w: Worker, task: Omit<ModelTask, 'id'>): Promise<ModelTaskReply> {
    const id = this.nextId++;
    // Hand the bytes over without a copy when they own their memory; a copy otherwise
    // (a small Buffer shares Node's pool, which must stay here).
    const owned = task.bytes.byteOffset === 0 && task.bytes.byteLength === task.bytes.buffer.byteLength && task.bytes.buffer instanceof ArrayBuffer;
    const bytes = owned ? task.bytes : new Uint8Array(task.bytes);
    w.ref();
    return new Promise<ModelTaskReply>((resolve, reject) => {
      let done = false;
      const finish = (then: () => void) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        w.off('message', onMessage);
        w.off('error', onError);
        w.off('exit', onExit);
        then();
      };
      const seconds = this.opts.timeoutMs / 1000;
      const timer = setTimeout(
        () =>
          finish(() => {
            this.discard(w);
            reject(new ModelBudgetError('time', `the model could not be inspected within ${seconds} s (KILN_MODEL_CHECK_TIMEOUT_MS): it is too large or too complex to read`));
          }),
        this.opts.timeoutMs,
      );
      const onMessage = (m: ModelWorkerMessage) => {
        if ('ready' in m || m.id !== id) return;
        finish(() => {
          this.park(w);
          resolve(m);
        });
      };
      const onError = (e: Error & { code?: string }) =>
        finish(() => {
          this.discard(w);
          if (e.code === 'ERR_WORKER_OUT_OF_MEMORY') reject(new ModelBudgetError('memory', `the model could not be inspected within ${this.opts.memoryMb} MB of memory (KILN_MODEL_CHECK_MEMORY_MB): it is too large or too complex to read`));
          else reject(e);
        });
      const onExit = (code: number) =>
        finish(() => {
          this.all.delete(w);
          reject(new Error(`a model thread exited (code ${code}) while reading a model`));
        });
      w.on('message', onMessage);
      w.on('error', onError);
      w.on('exit', onExit);
      w.postMessage({ ...task, id, bytes } satisfies ModelTask, [bytes.buffer as ArrayBuffer]);
    });
  }
}
