import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { ArtifactKind } from '../../src/database/entities/job.entity';
import { languageSpecOf } from '../../src/jobs/languages';
import type { CanonicalTarget } from '../../src/targets/target';
import type { SandboxExecutor } from '../sandbox/executor';
import { ClangRun, CONTENT_TYPES } from './clang';
import { firstLines, probeRun, stem, withProbeDir } from './common';
import type { CompileRequest, CompileResult, ProducedArtifact, Toolchain, ToolchainProbe } from './toolchain';

const RUSTC = '/usr/bin/rustc';
const TRIPLES: Record<string, string> = { 'x86_64-linux-gnu': 'x86_64-unknown-linux-gnu', 'wasm32-wasi': 'wasm32-wasi' };

/** The flags that select the target, in rustc's words. */
export function rustTargetFlags(target: CanonicalTarget): string[] {
  const flags = ['--target', TRIPLES[target.name]];
  if (target.cpu) flags.push('-C', `target-cpu=${target.cpu}`);
  if (target.features.length) flags.push('-C', `target-feature=${target.features.join(',')}`);
  // Linux programs link with clang and lld; wasm32-wasi with rustc's own lld.
  if (target.name !== 'wasm32-wasi') flags.push('-C', 'linker=/usr/bin/clang-19', '-C', 'link-arg=-fuse-ld=lld');
  return flags;
}

/** Rust with the Debian rustc, for the targets whose standard library Debian ships. */
export class RustToolchain implements Toolchain {
  static readonly key = 'rustc';
  readonly key = RustToolchain.key;
  readonly languages = ['rust'] as const;

  async probe(exec: SandboxExecutor, scratch: string): Promise<ToolchainProbe | null> {
    if (!existsSync(RUSTC)) return null;
    return withProbeDir(scratch, { 'main.rs': 'fn main() { let v: Vec<u32> = (1..4).collect(); println!("{}", v.len()); }\n' }, async (_dir, mounts) => {
      const v = await probeRun(exec, mounts, [RUSTC, '--version']);
      const m = /rustc (\d+\.\d+\.\d+)/.exec(v.stdout);
      if (v.exitCode !== 0 || !m) throw new Error(`rustc --version failed in the sandbox: ${firstLines(v)}`);
      const targets = await Promise.all(
        Object.keys(languageSpecOf('rust').targets).map(async (name) => {
          const r = await probeRun(exec, mounts, [RUSTC, ...rustTargetFlags({ name, cpu: null, features: [] } as unknown as CanonicalTarget), 'main.rs', '-o', `p-${name}`]);
          return r.exitCode === 0 ? { target: name, available: true, cpus: [] } : { target: name, available: false, reason: `rustc cannot build for ${name} (install libstd-rust-dev${name === 'wasm32-wasi' ? '-wasm32 and lld-14' : ''}): ${firstLines(r)}`, cpus: [] };
        }),
      );
      return { key: this.key, version: m[1], targets };
    });
  }

  async compile(req: CompileRequest, exec: SandboxExecutor): Promise<CompileResult> {
    const { source, target, outputs } = req;
    const run = new ClangRun(req, exec, RUSTC);
    const units = source.files.map((f) => f.path).filter((p) => p.endsWith('.rs'));
    // The crate root: main.rs (a program) or lib.rs (a library), else the only or first file.
    const root = units.find((u) => /(^|\/)main\.rs$/.test(u)) ?? units.find((u) => /(^|\/)lib\.rs$/.test(u)) ?? units[0];
    const isLib = /(^|\/)lib\.rs$/.test(root);
    const name = isLib && root === 'lib.rs' ? 'lib' : stem(root) === 'main' || stem(root) === 'lib' ? 'program' : stem(root);
    const crate = (source.options.find((o) => o.startsWith('--crate-name='))?.slice('--crate-name='.length) ?? name).replace(/-/g, '_');
    const options = source.options.filter((o) => !o.startsWith('--crate-name='));
    const common = [...rustTargetFlags(target), '--crate-name', crate, '--edition=2021', ...options].filter((o, i, all) => !(o === '--edition=2021' && all.slice(i + 1).some((x) => x.startsWith('--edition='))));
    const wasm = target.name === 'wasm32-wasi';
    const artifacts: ProducedArtifact[] = [];
    const emit: [ArtifactKind, string, string, string][] = [
      ['object', 'obj', 'obj', `${crate}.o`],
      ['assembly', 'asm', 'asm', `${crate}.s`],
      ['llvm-ir', 'llvm-ir', 'ir', `${crate}.ll`],
    ];
    const wanted = emit.filter(([kind]) => outputs.includes(kind));
    if (wanted.length) {
      const r = await run.step([...common, '--crate-type', isLib ? 'lib' : 'bin', '-C', 'codegen-units=1', `--emit=${wanted.map(([, e, dir, file]) => `${e}=../out/${dir}/${file}`).join(',')}`, root]);
      if (r.exitCode !== 0) return run.fail(r, `compiling ${root}`);
      for (const [kind, , dir, file] of wanted) artifacts.push({ kind, name: file, hostPath: join(req.workdir, 'out', dir, file), contentType: CONTENT_TYPES[kind] });
    }
    if (outputs.includes('executable')) {
      const file = wasm ? `${crate}.wasm` : crate;
      const r = await run.step([...common, '--crate-type', 'bin', root, '-o', `../out/bin/${file}`]);
      if (r.exitCode !== 0) return run.fail(r, isLib ? 'linking (an executable needs a main.rs with fn main)' : 'compiling and linking');
      artifacts.push({ kind: 'executable', name: file, hostPath: join(req.workdir, 'out/bin', file), contentType: wasm ? 'application/wasm' : CONTENT_TYPES.executable });
    }
    for (const [kind, type, file] of [['static', 'staticlib', `lib${crate}.a`], ['shared', 'cdylib', `lib${crate}.so`]] as const) {
      if (!outputs.includes(kind)) continue;
      const r = await run.step([...common, '--crate-type', type, root, '-o', `../out/lib/${file}`]);
      if (r.exitCode !== 0) return run.fail(r, `building the ${kind} library`);
      artifacts.push({ kind, name: file, hostPath: join(req.workdir, 'out/lib', file), contentType: CONTENT_TYPES[kind] });
    }
    return run.ok(artifacts);
  }
}
