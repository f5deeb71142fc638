import { existsSync } from 'node:fs';
import { readProduced } from '../sandbox/files';
import { join } from 'node:path';
import { languageSpecOf } from '../../src/jobs/languages';
import { isTranslationUnit } from '../../src/jobs/source-rules';
import { targetSpec } from '../../src/targets/catalog';
import type { SandboxExecutor } from '../sandbox/executor';
import { ClangRun, CONTENT_TYPES, LLVM_AR, mkdirOpen, targetFlags } from './clang';
import { firstLines, probeRun, programName, stem, withProbeDir } from './common';
import type { CompileRequest, CompileResult, ProducedArtifact, Toolchain, ToolchainProbe } from './toolchain';

const FLANG = '/usr/bin/flang-new-19';

/**
 * Orders Fortran units so that a file defining a module is compiled before the files that
 * `use` it (the compiler needs the .mod file). Unknown modules (intrinsic ones) are ignored;
 * a cycle keeps the client's order for the files in it.
 */
export function fortranOrder(units: { path: string; text: string }[]): string[] {
  const defines = new Map<string, string>();
  const uses = new Map<string, Set<string>>();
  for (const u of units) {
    const text = u.text.replace(/!.*$/gm, '');
    for (const m of text.matchAll(/^\s*module\s+(?!procedure\b)([a-z_][a-z0-9_]*)\s*$/gim)) defines.set(m[1].toLowerCase(), u.path);
    uses.set(u.path, new Set([...text.matchAll(/^\s*use\s*(?:,\s*[a-z_]+\s*)?(?:::)?\s*([a-z_][a-z0-9_]*)/gim)].map((m) => m[1].toLowerCase())));
  }
  const order: string[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (path: string) => {
    if (state.get(path)) return;
    state.set(path, 'visiting');
    for (const mod of uses.get(path) ?? []) {
      const dep = defines.get(mod);
      if (dep && dep !== path && state.get(dep) !== 'visiting') visit(dep);
    }
    state.set(path, 'done');
    order.push(path);
  };
  for (const u of units) visit(u.path);
  return order;
}

/** Fortran with LLVM's flang (flang-new-19). */
export class FlangToolchain implements Toolchain {
  static readonly key = 'flang';
  readonly key = FlangToolchain.key;
  readonly languages = ['fortran'] as const;

  async probe(exec: SandboxExecutor, scratch: string): Promise<ToolchainProbe | null> {
    if (!existsSync(FLANG)) return null;
    return withProbeDir(scratch, { 'probe.f90': 'program probe\n  print *, sum([1, 2, 3])\nend program probe\n' }, async (_dir, mounts) => {
      const v = await probeRun(exec, mounts, [FLANG, '--version']);
      const m = /version (\d+\.\d+\.\d+)/.exec(v.stdout);
      if (v.exitCode !== 0 || !m) throw new Error(`flang --version failed in the sandbox: ${firstLines(v)}`);
      const targets = await Promise.all(
        Object.entries(languageSpecOf('fortran').targets).map(async ([name, outputs]) => {
          const spec = targetSpec(name);
          const linking = outputs.includes('executable');
          const r = await probeRun(exec, mounts, [FLANG, `--target=${spec.clangTriple}`, ...(linking ? ['-fuse-ld=lld', 'probe.f90', '-o', `p-${name}`] : ['-c', 'probe.f90', '-o', `p-${name}.o`])]);
          return r.exitCode === 0 ? { target: name, available: true, cpus: [] } : { target: name, available: false, reason: `flang cannot build for ${name}: ${firstLines(r)}`, cpus: [] };
        }),
      );
      return { key: this.key, version: m[1], targets };
    });
  }

  async compile(req: CompileRequest, exec: SandboxExecutor): Promise<CompileResult> {
    const { source, target, spec, outputs } = req;
    const run = new ClangRun(req, exec, FLANG);
    const unitPaths = source.files.map((f) => f.path).filter((p) => isTranslationUnit('fortran', p));
    const units = fortranOrder(await Promise.all(unitPaths.map(async (path) => ({ path, text: (await readProduced(req.workdir, `src/${path}`)).toString('latin1') }))));
    await mkdirOpen(req.workdir, 'out/mod');
    const targetArgs = targetFlags(target, spec).map((f) => (f === '-Xclang' ? '-Xflang' : f));
    const common = [...targetArgs, '-module-dir', '../out/mod', '-I', '../out/mod', ...(outputs.includes('shared') ? ['-fPIC'] : []), ...Object.entries(source.defines).map(([k, v]) => `-D${k}=${v}`), ...source.options];
    // Linking takes no module folder, include path or macros (flang warns of each as unused).
    const link = [...targetArgs, ...(outputs.includes('shared') ? ['-fPIC'] : []), ...source.options];
    const artifacts: ProducedArtifact[] = [];
    const objects: string[] = [];
    const needObjects = outputs.some((o) => o === 'object' || o === 'executable' || o === 'shared' || o === 'static');
    for (const unit of units) {
      const name = unit.replace(/\.[^./]+$/, '').replace(/\//g, '__');
      if (needObjects) {
        const r = await run.step([...common, '-c', unit, '-o', `../out/obj/${name}.o`]);
        if (r.exitCode !== 0) return run.fail(r, `compiling ${unit}`);
        objects.push(`../out/obj/${name}.o`);
        if (outputs.includes('object')) artifacts.push({ kind: 'object', name: `${name}.o`, hostPath: join(req.workdir, 'out/obj', `${name}.o`), contentType: CONTENT_TYPES.object });
      }
      for (const [kind, flags, dir, ext] of [['assembly', ['-S'], 'asm', 's'], ['llvm-ir', ['-S', '-emit-llvm'], 'ir', 'll']] as const) {
        if (!outputs.includes(kind)) continue;
        const r = await run.step([...common, ...flags, unit, '-o', `../out/${dir}/${name}.${ext}`]);
        if (r.exitCode !== 0) return run.fail(r, `compiling ${unit}`);
        artifacts.push({ kind, name: `${name}.${ext}`, hostPath: join(req.workdir, 'out', dir, `${name}.${ext}`), contentType: CONTENT_TYPES[kind] });
      }
    }
    const program = programName(units.map((u) => stem(u)));
    if (outputs.includes('executable')) {
      const r = await run.step([...link, '-fuse-ld=lld', ...objects, '-o', `../out/bin/${program}`]);
      if (r.exitCode !== 0) return run.fail(r, 'linking');
      artifacts.push({ kind: 'executable', name: program, hostPath: join(req.workdir, 'out/bin', program), contentType: CONTENT_TYPES.executable });
    }
    if (outputs.includes('static')) {
      const r = await run.step(['rcsD', `../out/lib/lib${program}.a`, ...objects], LLVM_AR);
      if (r.exitCode !== 0) return run.fail(r, 'archiving the static library');
      artifacts.push({ kind: 'static', name: `lib${program}.a`, hostPath: join(req.workdir, 'out/lib', `lib${program}.a`), contentType: CONTENT_TYPES.static });
    }
    if (outputs.includes('shared')) {
      const r = await run.step([...link, '-fuse-ld=lld', '-shared', ...objects, '-o', `../out/lib/lib${program}.so`]);
      if (r.exitCode !== 0) return run.fail(r, 'linking the shared library');
      artifacts.push({ kind: 'shared', name: `lib${program}.so`, hostPath: join(req.workdir, 'out/lib', `lib${program}.so`), contentType: CONTENT_TYPES.shared });
    }
    return run.ok(artifacts);
  }
}
