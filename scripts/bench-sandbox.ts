import { execFileSync } from 'node:child_process';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SandboxExecutor } from '../workers/sandbox/executor';

/**
 * The sandbox's cost: the same trivial compile run directly and through the sandboxed executor
 * (bubblewrap, prlimit, a fresh uid), interleaved, in the same run.   npm run bench:sandbox -- [N]
 */
const N = Number(process.argv[2] ?? 40);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'kiln-bench-sandbox-'));
  await chmod(dir, 0o777);
  try {
    await writeFile(join(dir, 'a.c'), 'int add(int a, int b) { return a + b; }\n');
    const exec = new SandboxExecutor('bwrap');
    const args = (out: string) => ['--target=x86_64-linux-gnu', '-O2', '-c', 'a.c', '-o', out];
    const direct: number[] = [];
    const sandboxed: number[] = [];
    for (let i = 0; i < N + 3; i++) {
      let t = performance.now();
      execFileSync('/usr/bin/clang-19', args('direct.o'), { cwd: dir });
      const d = performance.now() - t;
      t = performance.now();
      const r = await exec.run({ argv: ['/usr/bin/clang-19', ...args('sandboxed.o')], cwd: '/work', mounts: [{ host: dir, sandbox: '/work', writable: true }], timeoutMs: 60_000 });
      const s = performance.now() - t;
      if (r.exitCode !== 0) throw new Error(`sandboxed compile failed: ${r.stderr}`);
      if (i >= 3) {
        direct.push(d);
        sandboxed.push(s);
      }
    }
    const d = median(direct);
    const s = median(sandboxed);
    console.log(`Sandbox overhead: a trivial clang-19 -c, ${N} runs each, interleaved`);
    console.log(`  direct      median ${d.toFixed(1)} ms`);
    console.log(`  sandboxed   median ${s.toFixed(1)} ms   (+${(s - d).toFixed(1)} ms)`);
    console.log(`  ratio       ${(s / d).toFixed(2)}x   goal: under 1.15x`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
