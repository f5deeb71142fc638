import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { checkNet, describeNet, DIFF_TARGETS, randomNet } from '../test/differential';

/**
 * Random networks of the operators real models are made of, with awkward sizes, compiled at each
 * ISA level this host runs and for aarch64 under qemu, compared with ONNX Runtime. A bounded
 * number of cases here (seeded, so a failure repeats); `npm run differential` runs many more, on
 * every architecture.
 */
const RUNS: Record<string, number> = { 'x86-64': 6, 'x86-64-v3': 6, 'x86-64-v4': 6, aarch64: 3 };

describe('differential: random networks against ONNX Runtime', () => {
  for (const target of DIFF_TARGETS.filter((t) => RUNS[t.name] && t.available())) {
    it(`matches on ${target.name}`, async () => {
      await fc.assert(
        fc.asyncProperty(randomNet, async (net) => {
          const r = await checkNet(net, target);
          // Every operator the generator uses is supported: a refusal is a defect too.
          assert.equal(r.status, 'pass', `${describeNet(net)} on ${target.name}: ${r.status === 'pass' ? '' : r.detail}`);
        }),
        { numRuns: RUNS[target.name], seed: 20261207, endOnFailure: true },
      );
    });
  }
});
