import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join, posix } from 'node:path';
import type { ArtifactKind } from '../../src/database/entities/job.entity';
import type { Diagnostic } from '../../src/jobs/diagnostic';
import { isTranslationUnit } from '../../src/jobs/source-rules';
import { TARGETS, TargetSpec } from '../../src/targets/catalog';
import type { CanonicalTarget } from '../../src/targets/target';
import type { ExecResult, Mount, SandboxExecutor } from '../sandbox/executor';
import { parseDiagnostics } from './diagnostics';
import type { CompileRequest, CompileResult, ProducedArtifact, Toolchain, ToolchainProbe } from './toolchain';

const CLANG = '/usr/bin/clang-19';
const CLANGXX = '/usr/bin/clang++-19';
const MAX_LOG = 256 * 1024;

export const CONTENT_TYPES: Record<ArtifactKind, string> = {
  object: 'application/x-object',
  executable: 'application/x-executable',
  shared: 'application/x-sharedlib',
  assembly: 'text/x-asm; charset=utf-8',
  'llvm-ir': 'text/x-llvm; charset=utf-8',
};

/** The flags that select the target: one per field of the canonical descriptor. */
export function targetFlags(target: CanonicalTarget, spec: TargetSpec): string[] {
  const flags = [`--target=${spec.clangTriple}`];
  if (target.cpu) flags.push(spec.family === 'x86' ? `-march=${target.cpu}` : `-mcpu=${target.cpu}`);
  for (const f of target.features) flags.push('-Xclang', '-target-feature', '-Xclang', f);
  if (target.floatAbi) flags.push(`-mfloat-abi=${target.floatAbi}`);
  return flags;
}

function stem(path: string): string {
  const base = posix.basename(path);
  const dot = base.lastIndexOf('.');
  return dot > 0 ? base.slice(0, dot) : base;
}

function withoutExtension(path: string): string {
  const dot = path.lastIndexOf('.');
  return dot > path.lastIndexOf('/') + 1 ? path.slice(0, dot) : path;
}

/** Output names per translation unit: saxpy.c -> saxpy.o, unless two units would collide. */
function unitNames(units: string[]): Map<string, string> {
  const counts = new Map<string, number>();
  for (const u of units) counts.set(withoutExtension(u), (counts.get(withoutExtension(u)) ?? 0) + 1);
  return new Map(units.map((u) => [u, counts.get(withoutExtension(u))! > 1 ? u : withoutExtension(u)]));
}

export class ClangToolchain implements Toolchain {
  static readonly key = 'clang';
  readonly key = ClangToolchain.key;
  readonly languages = ['c', 'c++'] as const;

  async probe(exec: SandboxExecutor, scratch: string): Promise<ToolchainProbe | null> {
    if (!existsSync(CLANG) || !existsSync(CLANGXX)) return null;
    const probeDir = await mkdtemp(join(scratch, 'probe-'));
    await chmod(probeDir, 0o777);
    const v = await exec.run({ argv: [CLANG, '--version'], cwd: '/work', mounts: [{ host: probeDir, sandbox: '/work', writable: true }], timeoutMs: 20_000 });
    const m = /clang version (\d+\.\d+\.\d+)/.exec(v.stdout);
    if (v.exitCode !== 0 || !m) throw new Error(`clang --version failed in the sandbox: ${v.stderr.trim() || v.stdout.trim()}`);
    await writeFile(join(probeDir, 'probe.c'), 'int main(void) { return 0; }\n');
    await writeFile(join(probeDir, 'probe.cpp'), '#include <vector>\nint main() { std::vector<int> v(3); return (int)v.size() - 3; }\n');
    try {
      return { key: this.key, version: m[1], targets: await this.probeTargets(exec, probeDir) };
    } finally {
      await rm(probeDir, { recursive: true, force: true });
    }
  }

  private async probeTargets(exec: SandboxExecutor, probeDir: string) {
    return Promise.all(
      TARGETS.map(async (spec) => {
        const mounts: Mount[] = [{ host: probeDir, sandbox: '/work', writable: true }];
        const cxx = spec.family === 'wasm' ? ['-fno-exceptions'] : [];
        const c = await exec.run({ argv: [CLANG, `--target=${spec.clangTriple}`, '-fuse-ld=lld', 'probe.c', '-o', `c-${spec.name}`], cwd: '/work', mounts, timeoutMs: 60_000 });
        const cpp = await exec.run({ argv: [CLANGXX, `--target=${spec.clangTriple}`, '-fuse-ld=lld', ...cxx, 'probe.cpp', '-o', `cpp-${spec.name}`], cwd: '/work', mounts, timeoutMs: 60_000 });
        const cpus = await exec.run({ argv: [CLANG, `--target=${spec.clangTriple}`, '-print-supported-cpus'], cwd: '/work', mounts, timeoutMs: 20_000 });
        const cpuList = parseCpuList(cpus.stdout + cpus.stderr);
        if (c.exitCode !== 0 || cpp.exitCode !== 0) {
          const why = (c.exitCode !== 0 ? c.stderr : cpp.stderr).trim().split('\n').slice(0, 3).join(' ');
          return { target: spec.name, available: false, reason: `cannot link for ${spec.name} (install ${spec.sysrootHint}): ${why}`, cpus: cpuList };
        }
        return { target: spec.name, available: true, cpus: cpuList };
      }),
    );
  }

  async compile(req: CompileRequest, exec: SandboxExecutor): Promise<CompileResult> {
    const { source, target, spec, outputs } = req;
    const deadline = Date.now() + req.timeoutMs;
    const cxx = source.language === 'c++';
    const driver = cxx ? CLANGXX : CLANG;
    const units = source.files.map((f) => f.path).filter((p) => isTranslationUnit(source.language, p));
    const names = unitNames(units);
    const mounts: Mount[] = [{ host: req.workdir, sandbox: '/work', writable: true }];
    const common = [
      ...targetFlags(target, spec),
      '-fno-color-diagnostics',
      '-fmessage-length=0',
      ...(cxx && spec.family === 'wasm' ? ['-fno-exceptions'] : []),
      ...(outputs.includes('shared') ? ['-fPIC'] : []),
      ...Object.entries(source.defines).map(([k, v]) => `-D${k}=${v}`),
      ...source.options.filter((o) => !o.startsWith('-l')),
    ];
    let log = '';
    let toolchainMs = 0;
    const diagnostics: Diagnostic[] = [];
    const seen = new Set<string>();
    const artifacts: ProducedArtifact[] = [];

    const step = async (args: string[]): Promise<ExecResult> => {
      const remaining = deadline - Date.now();
      const r = await exec.run({ argv: [driver, ...args], cwd: '/work/src', mounts, timeoutMs: Math.max(remaining, 1), signal: req.signal, maxOutputBytes: MAX_LOG });
      toolchainMs += r.wallMs;
      const output = r.stderr + r.stdout;
      if (output.trim() && log.length < MAX_LOG) log += `$ ${posix.basename(driver)} ${args.join(' ')}\n${output}`;
      for (const d of parseDiagnostics(output)) {
        const key = JSON.stringify(d);
        if (!seen.has(key)) {
          seen.add(key);
          diagnostics.push(d);
        }
      }
      return r;
    };
    const fail = (r: ExecResult, what: string): CompileResult => {
      const errors = diagnostics.filter((d) => d.severity === 'error' || d.severity === 'fatal').length;
      const reason = r.canceled
        ? 'canceled'
        : r.timedOut
          ? `${what} timed out after ${Math.round(req.timeoutMs / 1000)} s`
          : r.signal
            ? `${what} was killed by ${r.signal} (a resource limit was reached)`
            : `${what} failed${errors ? ` with ${errors} error${errors > 1 ? 's' : ''}` : ` (exit code ${r.exitCode}): ${lastLine(r.stderr || r.stdout)}`}`;
      return { ok: false, diagnostics, log: log.slice(0, MAX_LOG), toolchainMs, artifacts: [], failureReason: reason, canceled: r.canceled };
    };

    const needObjects = outputs.some((o) => o === 'object' || o === 'executable' || o === 'shared');
    const objects: string[] = [];
    for (const unit of units) {
      const name = names.get(unit)!;
      if (needObjects) {
        const out = `../out/obj/${name}.o`;
        await mkdirOpen(req.workdir, join('out/obj', posix.dirname(name)));
        const r = await step([...common, '-c', unit, '-o', out]);
        if (r.exitCode !== 0) return fail(r, `compiling ${unit}`);
        objects.push(out);
        if (outputs.includes('object')) artifacts.push({ kind: 'object', name: `${name}.o`, hostPath: join(req.workdir, 'out/obj', `${name}.o`), contentType: CONTENT_TYPES.object });
      }
      for (const [kind, flag, ext] of [['assembly', [], 's'], ['llvm-ir', ['-emit-llvm'], 'll']] as const) {
        if (!outputs.includes(kind)) continue;
        const dir = kind === 'assembly' ? 'asm' : 'ir';
        await mkdirOpen(req.workdir, join('out', dir, posix.dirname(name)));
        const r = await step([...common, '-S', ...flag, unit, '-o', `../out/${dir}/${name}.${ext}`]);
        if (r.exitCode !== 0) return fail(r, `compiling ${unit}`);
        artifacts.push({ kind, name: `${name}.${ext}`, hostPath: join(req.workdir, 'out', dir, `${name}.${ext}`), contentType: CONTENT_TYPES[kind] });
      }
    }

    // Named after main.* when there is one, else after the first file compiled.
    const program = stem(units.find((u) => stem(u) === 'main') ?? units[0]);
    if (outputs.includes('executable')) {
      const name = spec.family === 'wasm' ? `${program}.wasm` : program;
      const r = await step([...common, '-fuse-ld=lld', ...objects, '-o', `../out/bin/${name}`, ...linkLibraries(source.options)]);
      if (r.exitCode !== 0) return fail(r, 'linking');
      artifacts.push({ kind: 'executable', name, hostPath: join(req.workdir, 'out/bin', name), contentType: spec.family === 'wasm' ? 'application/wasm' : CONTENT_TYPES.executable });
    }
    if (outputs.includes('shared')) {
      const name = `lib${program}.so`;
      const r = await step([...common, '-fuse-ld=lld', '-shared', ...objects, '-o', `../out/lib/${name}`]);
      if (r.exitCode !== 0) return fail(r, 'linking the shared library');
      artifacts.push({ kind: 'shared', name, hostPath: join(req.workdir, 'out/lib', name), contentType: CONTENT_TYPES.shared });
    }
    return { ok: true, diagnostics, log: log.slice(0, MAX_LOG), toolchainMs, artifacts };
  }
}

/** -l options are link-time only; they are passed again at the link step, after the objects. */
function linkLibraries(options: string[]): string[] {
  return options.filter((o) => o.startsWith('-l'));
}

/** Creates folders below root that the sandbox user (another uid) may write into. */
async function mkdirOpen(root: string, rel: string): Promise<void> {
  let path = root;
  for (const part of rel.split('/').filter((p) => p && p !== '.')) {
    path = join(path, part);
    await mkdir(path, { recursive: true });
    await chmod(path, 0o777);
  }
}

function lastLine(text: string): string {
  const lines = text.trim().split('\n').filter((l) => l.trim());
  return (lines[lines.length - 1] ?? 'no output').slice(0, 300);
}

export function parseCpuList(output: string): string[] {
  const lines = output.split('\n');
  const start = lines.findIndex((l) => l.startsWith('Available CPUs for this target'));
  if (start < 0) return [];
  const cpus: string[] = [];
  for (const l of lines.slice(start + 1)) {
    const t = l.trim();
    if (!t) continue;
    if (t.startsWith('Use -mcpu') || t.startsWith('For example')) break;
    cpus.push(t);
  }
  return cpus;
}
