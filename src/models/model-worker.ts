/**
 * A worker thread that reads models for the API (ModelCheckService): decoding and checking a
 * model may take seconds and hundreds of MB, which must not stall the API's event loop. The
 * thread runs under a heap limit, and the API ends it when it runs past its time.
 */
import { parentPort } from 'node:worker_threads';
import { checkModelForJob, inspectModel, ModelReadLimits, ModelRefusal } from './inspect';

export interface ModelTask {
  id: number;
  op: 'inspect' | 'job';
  bytes: Uint8Array;
  inputShapes: Record<string, number[]>;
  limits: ModelReadLimits;
}

export type ModelTaskReply =
  | { id: number; ok: true; value: unknown }
  /** A model refused (400), or one too costly to check (422: `budget`). */
  | { id: number; ok: false; refusal: string; budget?: boolean }
  /** A fault of Kiln's: the API logs it and answers 500. */
  | { id: number; ok: false; error: string };

export type ModelWorkerMessage = ModelTaskReply | { ready: true };

function run(task: ModelTask): ModelTaskReply {
  try {
    const value = task.op === 'inspect' ? inspectModel(task.bytes, task.inputShapes, task.limits) : checkModelForJob(task.bytes, task.inputShapes, task.limits);
    return { id: task.id, ok: true, value };
  } catch (e) {
    if (e instanceof ModelRefusal) return { id: task.id, ok: false, refusal: e.message };
    // A graph nested beyond the stack: too costly to check, not a fault.
    if (e instanceof RangeError && /call stack/i.test(e.message)) return { id: task.id, ok: false, refusal: 'the model nests too deeply to be checked', budget: true };
    return { id: task.id, ok: false, error: (e as Error)?.stack ?? String(e) };
  }
}

if (parentPort) {
  const port = parentPort;
  port.on('message', (task: ModelTask) => port.postMessage(run(task)));
  port.postMessage({ ready: true } satisfies ModelWorkerMessage);
}
