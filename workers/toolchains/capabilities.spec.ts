import { strict as assert } from 'node:assert';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { TARGETS } from '../../src/targets/catalog';
import { SandboxExecutor } from '../sandbox/executor';
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

  it('refuses an unknown pool', async () => {
    const registry = createToolchainRegistry([new ProbedToolchain('cc', [])], []);
    await assert.rejects(probeCapabilities(['gpu-quantum'], registry, exec, join(dir, 'd')), /pool "gpu-quantum" is unknown/);
  });

  it('refuses two toolchains with one key', () => {
    assert.throws(() => createToolchainRegistry([new ProbedToolchain('cc', []), new ProbedToolchain('cc', [])], []), /two toolchains share the key "cc"/);
  });
});
