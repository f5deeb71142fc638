import fc from 'fast-check';
import { checkNet, describeNet, DIFF_TARGETS, randomNet } from '../compiler/test/differential';

/**
 * Differential testing at scale: random networks (compiler/test/differential.ts) on every
 * target this machine can run (x86_64 at each ISA level natively, aarch64, riscv64 with RVV and
 * armv7 with NEON under qemu-user, wasm32 with SIMD under Node's WASI), each compared with ONNX
 * Runtime. Prints the count per target and status and every failure with its network.
 *   npm run differential -- [cases per target, default 100] [seed] [target name filter]
 */
async function main(): Promise<void> {
  const cases = Number(process.argv[2] ?? 100);
  const seed = Number(process.argv[3] ?? Date.now() % 1_000_000);
  const filter = process.argv[4] ?? '';
  console.log(`${cases} random networks per target, seed ${seed} (rerun with the same seed to repeat them)`);
  let failed = 0;
  for (const target of DIFF_TARGETS.filter((t) => t.available() && t.name.includes(filter))) {
    const counts = { pass: 0, refused: 0, fail: 0 };
    const nets = fc.sample(randomNet, { numRuns: cases, seed });
    for (const net of nets) {
      const r = await checkNet(net, target);
      counts[r.status]++;
      if (r.status !== 'pass') console.log(`  ${target.name} ${r.status}: ${describeNet(net)}: ${r.detail}`);
    }
    failed += counts.fail + counts.refused;
    console.log(`${target.name}: ${counts.pass} pass, ${counts.fail} fail, ${counts.refused} refused`);
  }
  if (failed) process.exitCode = 1;
}

main().catch((e) => {
  console.error(e);
  process.exit(2);
});
