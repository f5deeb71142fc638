import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import type { Job } from 'bullmq';
import { JobName } from '../src/queue/queue.types';
import type { CompileService } from './compile/compile.service';
import { makePoolProcessor } from './pool.processor';
import type { Capabilities } from './toolchains/capabilities';
import type { VerifyService } from './verify/verify.service';

/** A compile service whose one build runs until the test ends it. */
function heldCompile(): { service: CompileService; started: Promise<void>; finish: () => void } {
  let finish!: () => void;
  let started!: () => void;
  const startedP = new Promise<void>((r) => (started = r));
  const service = {
    run: () => {
      started();
      return new Promise<string>((r) => (finish = () => r('succeeded')));
    },
  } as unknown as CompileService;
  return { service, started: startedP, finish: () => finish() };
}

function processorWith(compile: CompileService, close: () => Promise<void>, graceMs = 60_000) {
  const Processor = makePoolProcessor('cpu', 2, 60_000, graceMs);
  const p = new (Processor as unknown as new (c: CompileService, v: VerifyService, caps: Capabilities) => {
    process(job: Job): Promise<unknown>;
    beforeApplicationShutdown(): Promise<void>;
  })(compile, {} as VerifyService, { pools: ['cpu'] } as unknown as Capabilities);
  Object.defineProperty(p, '_worker', { value: { close } });
  return p;
}

const job = { name: JobName.CompileBuild, data: { buildId: 'b1' }, opts: { attempts: 1 }, attemptsMade: 0 } as unknown as Job;

describe('a pool processor shutting down', () => {
  it('waits for the build at hand even when the queue consumer says it closed at once', async () => {
    const held = heldCompile();
    const p = processorWith(held.service, async () => undefined);
    const running = p.process(job);
    await held.started;
    let shutDown = false;
    const shutdown = p.beforeApplicationShutdown().then(() => (shutDown = true));
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(shutDown, false, 'shut down while a build was still running');
    held.finish();
    assert.equal(await running, 'succeeded');
    await shutdown;
    assert.equal(shutDown, true);
  });

  it('gives up after its grace period, leaving the build to its queue lock', async () => {
    const held = heldCompile();
    const p = processorWith(held.service, async () => undefined, 30);
    void p.process(job);
    await held.started;
    await p.beforeApplicationShutdown(); // returns although the build never finishes
    held.finish();
  });
});
