import { strict as assert } from 'node:assert';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { TARGETS } from '../../src/targets/catalog';
import { SandboxExecutor } from '../sandbox/executor';
import { localGpus } from '../verify/runners';
import { probeCapabilities } from './capabilities';
import { createToolchainRegistry } from './registry';
import type { CompileResult, Toolchain, ToolchainProbe } from './toolchain';

/** A toolchain whose probe reports what the test says, to exercise the start-up rules. */
class ProbedToolchain implements Toolchain {
  readonly languages = ['c'];
  constructor(
    readonly key: string,
    private readonly available: string[],
  ) {}
  async probe(): Promise<ToolchainProbe> {
    return {
      key: this.key,
      version: '1.0.0',
      targets: TARGETS.map((t) => ({ target: t.name, available: this.available.includes(t.name), reason: this.available.includes(t.name) ? undefined : `install ${t.sysrootHint}`, cpus: [] })),
    };
  }
  async compile(): Promise<CompileResult> {
    throw new Error('not used');
  }
}

describe('probeCapabilities', () => {
  let dir: string;
  const exec = new SandboxExecutor('none');
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kiln-caps-'));
  });
  after(async () => rm(dir, { recursive: true, force: true }));

  it('serves a pool when every target of it was proven', async () => {
    const registry = createToolchainRegistry([new ProbedToolchain('cc', TARGETS.map((t) => t.name))], []);
    const caps = await probeCapabilities(['cpu', 'wasm'], registry, exec, join(dir, 'a'));
    assert.equal(caps.targets.size, TARGETS.filter((t) => t.pool === 'cpu' || t.pool === 'wasm').length);
  });

  it('refuses a pool with a target it cannot build, and says what to install', async () => {
    const registry = createToolchainRegistry([new ProbedToolchain('cc', ['x86_64-linux-gnu', 'aarch64-linux-gnu', 'armv7-linux-gnueabihf'])], []);
    await assert.rejects(probeCapabilities(['cpu'], registry, exec, join(dir, 'b')), /pool "cpu" needs riscv64-linux-gnu: install libc6-dev-riscv64-cross/);
    // A pool it can serve fully is fine.
    const caps = await probeCapabilities(['cpu'], createToolchainRegistry([new ProbedToolchain('cc', TARGETS.filter((t) => t.pool === 'cpu').map((t) => t.name))], []), exec, join(dir, 'c'));
    assert.deepEqual(caps.pools, ['cpu']);
  });

  it('skips an optional pool it cannot serve, and serves the rest', async () => {
    const registry = createToolchainRegistry([new ProbedToolchain('cc', TARGETS.filter((t) => t.pool === 'cpu').map((t) => t.name))], []);
    const caps = await probeCapabilities(['cpu', 'cuda'], registry, exec, join(dir, 'e'), ['cuda']);
    assert.deepEqual(caps.pools, ['cpu']);
    assert.equal(caps.targets.has('nvptx64-nvidia-cuda'), false);
    await assert.rejects(probeCapabilities(['cpu', 'cuda'], registry, exec, join(dir, 'f')), /pool "cuda" needs nvptx64-nvidia-cuda/);
  });

  it('serves verify-cuda only with an NVIDIA GPU: optional, it is skipped; required, start-up fails saying so', { skip: localGpus().length > 0 && 'this machine has an NVIDIA GPU' }, async () => {
    const registry = createToolchainRegistry([new ProbedToolchain('cc', [])], []);
    const caps = await probeCapabilities(['verify-x86_64', 'verify-cuda'], registry, exec, join(dir, 'g'), ['verify-cuda']);
    assert.deepEqual(caps.pools, ['verify-x86_64']);
    await assert.rejects(probeCapabilities(['verify-cuda'], registry, exec, join(dir, 'h')), /pool "verify-cuda" needs an NVIDIA GPU of an architecture Kiln builds for: nvidia-smi lists none/);
    await assert.rejects(probeCapabilities(['verify-cuda-sm_90'], registry, exec, join(dir, 'i')), /pool "verify-cuda-sm_90" needs an NVIDIA GPU of architecture sm_90 on this machine/);
  });

  it('refuses an unknown pool', async () => {
    const registry = createToolchainRegistry([new ProbedToolchain('cc', [])], []);
    await assert.rejects(probeCapabilities(['gpu-quantum'], registry, exec, join(dir, 'd')), /pool "gpu-quantum" is unknown/);
  });

  it('refuses two toolchains with one key', () => {
    assert.throws(() => createToolchainRegistry([new ProbedToolchain('cc', []), new ProbedToolchain('cc', [])], []), /two toolchains share the key "cc"/);
  });
});
