import { existsSync } from 'node:fs';
import { join, posix } from 'node:path';
import { languageSpecOf } from '../../src/jobs/languages';
import { isTranslationUnit } from '../../src/jobs/source-rules';
import type { CanonicalTarget } from '../../src/targets/target';
import type { SandboxExecutor } from '../sandbox/executor';
import { ClangRun, CONTENT_TYPES, LLVM_AR, mkdirOpen } from './clang';
import { firstLines, probeRun, programName, withProbeDir } from './common';
import type { CompileRequest, CompileResult, ProducedArtifact, Toolchain, ToolchainProbe } from './toolchain';

/** The GCC drivers Debian installs per target (native and cross). */
const DRIVERS: Record<string, { c: string; cxx: string }> = {
  'x86_64-linux-gnu': { c: '/usr/bin/x86_64-linux-gnu-gcc-12', cxx: '/usr/bin/x86_64-linux-gnu-g++-12' },
  'aarch64-linux-gnu': { c: '/usr/bin/aarch64-linux-gnu-gcc-12', cxx: '/usr/bin/aarch64-linux-gnu-g++-12' },
  'riscv64-linux-gnu': { c: '/usr/bin/riscv64-linux-gnu-gcc-12', cxx: '/usr/bin/riscv64-linux-gnu-g++-12' },
  'armv7-linux-gnueabihf': { c: '/usr/bin/arm-linux-gnueabihf-gcc-12', cxx: '/usr/bin/arm-linux-gnueabihf-g++-12' },
};

/** GCC's word for the descriptor's cpu: -march for x86-64 levels and names, -mcpu elsewhere. */
export function gccTargetFlags(target: CanonicalTarget): string[] {
  const flags: string[] = [];
  if (target.cpu) flags.push(target.name === 'x86_64-linux-gnu' ? `-march=${target.cpu}` : `-mcpu=${target.cpu}`);
  if (target.name === 'armv7-linux-gnueabihf') flags.push('-mfloat-abi=hard');
  return flags;
}

/** C and C++ with the GCC 12 native and cross compilers, as an alternative to clang. */
export class GccToolchain implements Toolchain {
  static readonly key = 'gcc';
  readonly key = GccToolchain.key;
  readonly languages = ['c', 'c++'] as const;

  async probe(exec: SandboxExecutor, scratch: string): Promise<ToolchainProbe | null> {
    if (!existsSync(DRIVERS['x86_64-linux-gnu'].c)) return null;
    const files = { 'probe.c': 'int main(void) { return 0; }\n', 'probe.cpp': '#include <vector>\nint main() { std::vector<int> v(3); return (int)v.size() - 3; }\n' };
    return withProbeDir(scratch, files, async (_dir, mounts) => {
      const v = await probeRun(exec, mounts, [DRIVERS['x86_64-linux-gnu'].c, '--version']);
      const m = /(\d+\.\d+\.\d+)/.exec(v.stdout.split('\n')[0] ?? '');
      if (v.exitCode !== 0 || !m) throw new Error(`gcc --version failed in the sandbox: ${firstLines(v)}`);
      const alt = languageSpecOf('c').alternatives?.find((a) => a.toolchain === this.key);
      const targets = await Promise.all(
        Object.keys(alt?.targets ?? {}).map(async (name) => {
          const d = DRIVERS[name];
          if (!d || !existsSync(d.c) || !existsSync(d.cxx)) return { target: name, available: false, reason: `no GCC for ${name} (install gcc and g++ for it)`, cpus: [] };
          const c = await probeRun(exec, mounts, [d.c, 'probe.c', '-o', `c-${name}`]);
          const cxx = c.exitCode === 0 ? await probeRun(exec, mounts, [d.cxx, 'probe.cpp', '-o', `cxx-${name}`]) : c;
          return cxx.exitCode === 0 ? { target: name, available: true, cpus: [] } : { target: name, available: false, reason: `GCC cannot link for ${name}: ${firstLines(cxx)}`, cpus: [] };
        }),
      );
      return { key: this.key, version: m[1], targets };
    });
  }

  async compile(req: CompileRequest, exec: SandboxExecutor): Promise<CompileResult> {
    const { source, target, outputs } = req;
    const d = DRIVERS[target.name];
    const cxx = source.language === 'c++';
    const run = new ClangRun(req, exec, cxx ? d.cxx : d.c);
    const units = source.files.map((f) => f.path).filter((p) => isTranslationUnit(source.language, p));
    const common = [...gccTargetFlags(target), '-fdiagnostics-color=never', ...(outputs.includes('shared') ? ['-fPIC'] : []), ...Object.entries(source.defines).map(([k, v]) => `-D${k}=${v}`), ...source.options.filter((o) => !o.startsWith('-l'))];
    const libs = source.options.filter((o) => o.startsWith('-l'));
    const artifacts: ProducedArtifact[] = [];
    const objects: string[] = [];
    const needObjects = outputs.some((o) => o === 'object' || o === 'executable' || o === 'shared' || o === 'static');
    for (const unit of units) {
      const name = unit.replace(/\.[^./]+$/, '');
      const flat = name.replace(/\//g, '__');
      if (needObjects) {
        const r = await run.step([...common, '-c', unit, '-o', `../out/obj/${flat}.o`]);
        if (r.exitCode !== 0) return run.fail(r, `compiling ${unit}`);
        objects.push(`../out/obj/${flat}.o`);
        if (outputs.includes('object')) artifacts.push({ kind: 'object', name: `${flat}.o`, hostPath: join(req.workdir, 'out/obj', `${flat}.o`), contentType: CONTENT_TYPES.object });
      }
      if (outputs.includes('assembly')) {
        const r = await run.step([...common, '-S', unit, '-o', `../out/asm/${flat}.s`]);
        if (r.exitCode !== 0) return run.fail(r, `compiling ${unit}`);
        artifacts.push({ kind: 'assembly', name: `${flat}.s`, hostPath: join(req.workdir, 'out/asm', `${flat}.s`), contentType: CONTENT_TYPES.assembly });
      }
    }
    const program = programName(units.map((u) => posix.basename(u)));
    if (outputs.includes('executable')) {
      const r = await run.step([...common, ...objects, '-o', `../out/bin/${program}`, ...libs, '-Wl,--as-needed', '-lm', '-Wl,--no-as-needed']);
      if (r.exitCode !== 0) return run.fail(r, 'linking');
      artifacts.push({ kind: 'executable', name: program, hostPath: join(req.workdir, 'out/bin', program), contentType: CONTENT_TYPES.executable });
    }
    if (outputs.includes('static')) {
      await mkdirOpen(req.workdir, 'out/lib');
      const r = await run.step(['rcsD', `../out/lib/lib${program}.a`, ...objects], LLVM_AR);
      if (r.exitCode !== 0) return run.fail(r, 'archiving the static library');
      artifacts.push({ kind: 'static', name: `lib${program}.a`, hostPath: join(req.workdir, 'out/lib', `lib${program}.a`), contentType: CONTENT_TYPES.static });
    }
    if (outputs.includes('shared')) {
      const r = await run.step([...common, '-shared', ...objects, '-o', `../out/lib/lib${program}.so`, ...libs, '-Wl,--as-needed', '-lm', '-Wl,--no-as-needed']);
      if (r.exitCode !== 0) return run.fail(r, 'linking the shared library');
      artifacts.push({ kind: 'shared', name: `lib${program}.so`, hostPath: join(req.workdir, 'out/lib', `lib${program}.so`), contentType: CONTENT_TYPES.shared });
    }
    return run.ok(artifacts);
  }
}
