import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { TARGETS } from './catalog';
import { resolveTarget, TargetError } from './resolve';

describe('resolveTarget', () => {
  it('resolves every short name to its own canonical triple', () => {
    for (const spec of TARGETS.filter((t) => !t.gpu)) {
      const r = resolveTarget(spec.name);
      assert.equal(r.target.triple, spec.triple);
      assert.equal(r.spec.pool, spec.pool);
    }
  });

  it('accepts a triple with or without its vendor', () => {
    assert.equal(resolveTarget('aarch64-unknown-linux-gnu').target.name, 'aarch64-linux-gnu');
    assert.equal(resolveTarget({ triple: 'riscv64-linux-gnu', features: ['+v'] }).target.features[0], '+v');
  });

  it('expands presets to a cpu', () => {
    const r = resolveTarget('graviton3');
    assert.equal(r.target.triple, 'aarch64-unknown-linux-gnu');
    assert.equal(r.target.cpu, 'neoverse-v1');
    assert.equal(r.requested, 'graviton3');
  });

  it('sorts and dedupes features so equal descriptors are equal JSON', () => {
    const a = resolveTarget({ triple: 'x86_64-linux-gnu', features: ['+avx2', '+fma', '+avx2'] });
    const b = resolveTarget({ triple: 'x86_64-linux-gnu', features: ['+fma', '+avx2'] });
    assert.deepEqual(a.target, b.target);
  });

  it('refuses an unknown target and lists what is supported', () => {
    assert.throws(() => resolveTarget('pdp11-unix'), (e: Error) => e instanceof TargetError && /supported targets: .*aarch64-linux-gnu/.test(e.message));
  });

  it('refuses malformed cpus and features', () => {
    assert.throws(() => resolveTarget({ triple: 'x86_64-linux-gnu', cpu: 'haswell; rm -rf /' }), TargetError);
    assert.throws(() => resolveTarget({ triple: 'x86_64-linux-gnu', features: ['avx2'] }), /leading \+ or -/);
    assert.throws(() => resolveTarget({ triple: 'armv7-linux-gnueabihf', floatAbi: 'soft' }), /hard only/);
    assert.throws(() => resolveTarget({ triple: 'x86_64-linux-gnu', features: ['+avx2', '+fma', '-avx2'] }), /features turn "avx2" both on and off; keep one of \+avx2 and -avx2/);
  });

  it('checks cpus against the list the toolchain knows, when there is one', () => {
    const known = () => ['cortex-a72', 'neoverse-v1'];
    assert.equal(resolveTarget({ triple: 'aarch64-linux-gnu', cpu: 'cortex-a72' }, known).target.cpu, 'cortex-a72');
    assert.throws(() => resolveTarget({ triple: 'aarch64-linux-gnu', cpu: 'cortex-z9' }, known), /not known for aarch64-linux-gnu/);
  });

  it('resolves GPU presets and product aliases to an architecture', () => {
    for (const [name, arch] of [['sm_90', 'sm_90'], ['h100', 'sm_90'], ['H200', 'sm_90'], ['a100', 'sm_80'], ['l4', 'sm_89'], ['mi300', 'gfx942'], ['mi250', 'gfx90a']]) {
      const r = resolveTarget(name);
      assert.equal(r.target.cpu, arch);
      assert.equal(r.target.gpu?.arch, arch);
    }
    assert.equal(resolveTarget('gfx942').target.gpu?.vendor, 'amd');
    assert.equal(resolveTarget({ triple: 'nvptx64-nvidia-cuda', cpu: 'sm_86' }).target.gpu?.vendor, 'nvidia');
  });

  it('asks for an architecture on a bare GPU target, and refuses unknown ones and features', () => {
    assert.throws(() => resolveTarget('nvptx64-nvidia-cuda'), /needs a GPU architecture: use a preset \(sm_80, sm_86, sm_89, sm_90\)/);
    assert.throws(() => resolveTarget({ triple: 'amdgcn-amd-amdhsa', cpu: 'sm_90' }), /not a AMD GPU architecture|choose one of gfx/);
    assert.throws(() => resolveTarget({ triple: 'nvptx64-nvidia-cuda', cpu: 'sm_90', features: ['+ptx80'] }), /takes no "features"/);
  });

  it('has the presets the catalog promises', () => {
    for (const p of ['x86-64-v2', 'x86-64-v3', 'x86-64-v4', 'graviton2', 'graviton3', 'rpi4', 'rpi5', 'sifive-u74', 'rv64gcv', 'armv7-neon', 'wasm32-simd', 'sm_80', 'sm_86', 'sm_89', 'sm_90', 'gfx90a', 'gfx942']) {
      assert.doesNotThrow(() => resolveTarget(p), p);
    }
  });

  it('refuses a descriptor field it does not know, naming it and the fields it has', () => {
    assert.throws(
      () => resolveTarget({ triple: 'x86_64-unknown-linux-gnu', fetaures: ['+avx2'] } as never),
      /a target descriptor has no field "fetaures"; its fields are triple, cpu, features, abi, floatAbi, os, libc, gpu/,
    );
    assert.throws(() => resolveTarget({ name: 'nvptx64-nvidia-cuda', cpu: 'sm_89' } as never), /no field "name" \(a catalog name goes in "triple", or send the name alone as a string\)/);
    assert.throws(() => resolveTarget({ triple: 'nvptx64-nvidia-cuda', gpu: { arch: 'sm_90', sm: 1 } } as never), /"gpu" is an object such as/);
  });

  it('takes the canonical descriptor of the design, whose implied fields must agree with the triple', () => {
    const arm = resolveTarget({ triple: 'aarch64-unknown-linux-gnu', cpu: 'cortex-a72', features: ['+neon'], abi: null, floatAbi: null, os: 'linux', libc: 'glibc' });
    assert.equal(arm.target.name, 'aarch64-linux-gnu');
    assert.equal(arm.target.cpu, 'cortex-a72');
    const gpu = resolveTarget({ triple: 'nvptx64-nvidia-cuda', gpu: { vendor: 'nvidia', arch: 'sm_90' } });
    assert.deepEqual(gpu.target, resolveTarget('sm_90').target);
    assert.equal(resolveTarget({ triple: 'nvptx64-nvidia-cuda', cpu: 'sm_89' }).target.gpu?.arch, 'sm_89');
    assert.throws(() => resolveTarget({ triple: 'aarch64-linux-gnu', os: 'wasi' }), /aarch64-linux-gnu is for os linux, got "wasi"/);
    assert.throws(() => resolveTarget({ triple: 'wasm32-wasi', libc: 'glibc' }), /links against libc wasi-libc/);
    assert.throws(() => resolveTarget({ triple: 'nvptx64-nvidia-cuda', gpu: { vendor: 'amd', arch: 'sm_90' } }), /vendor "nvidia"/);
    assert.throws(() => resolveTarget({ triple: 'nvptx64-nvidia-cuda', cpu: 'sm_80', gpu: { arch: 'sm_90' } }), /differ/);
    assert.throws(() => resolveTarget({ triple: 'x86_64-linux-gnu', gpu: { arch: 'sm_90' } }), /not a GPU target/);
  });

  it('checks features against the list the live toolchain knows', () => {
    const known = () => ['simd128', 'bulk-memory'];
    assert.deepEqual(resolveTarget({ triple: 'wasm32-wasi', features: ['+simd128'] }, undefined, known).target.features, ['+simd128']);
    assert.throws(() => resolveTarget({ triple: 'wasm32-wasi', features: ['+avx512f'] }, undefined, known), /wasm32-wasi has no feature "avx512f"/);
  });
});
