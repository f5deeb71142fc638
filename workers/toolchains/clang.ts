import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join, posix } from 'node:path';
import type { ArtifactKind } from '../../src/database/entities/job.entity';
import type { Diagnostic } from '../../src/jobs/diagnostic';
import { isTranslationUnit } from '../../src/jobs/source-rules';
import { languageSpecOf } from '../../src/jobs/languages';
import { TARGETS, TargetSpec } from '../../src/targets/catalog';
import type { CanonicalTarget } from '../../src/targets/target';
import type { ExecResult, Mount, ResourceLimits, SandboxExecutor } from '../sandbox/executor';
import { copyProduced, mkdirBeneath, ProducedFileError, readProduced, writeBeneath } from '../sandbox/files';
import { parseDiagnostics } from './diagnostics';
import { buildCMake, cmakeRoot } from './cmake';
import { BUNDLE_FILES, BundleManifest } from '../../src/verification/bundle';
import { bufferBytes, elementCount, generateInputs, outputArgs, verifyDataFile } from '../../src/verification/inputs';
import type { KernelVerifySpec, ReferenceSource, VerifySpec } from '../../src/verification/spec';
import { generateHarness } from '../verify/harness';
import type { CompiledBundle, CompileRequest, CompileResult, ProducedArtifact, Toolchain, ToolchainProbe } from './toolchain';

export const CLANG = '/usr/bin/clang-19';
export const LLVM_AR = '/usr/bin/llvm-ar-19';
export const LLVM_SIZE = '/usr/bin/llvm-size-19';
const LLC = '/usr/lib/llvm-19/bin/llc';
export const CLANGXX = '/usr/bin/clang++-19';
const MAX_LOG = 256 * 1024;

export const CONTENT_TYPES: Record<ArtifactKind, string> = {
  header: 'text/x-c; charset=utf-8',
  'c-source': 'text/x-c; charset=utf-8',
  metadata: 'application/json',
  weights: 'application/octet-stream',
  object: 'application/x-object',
  executable: 'application/x-executable',
  shared: 'application/x-sharedlib',
  static: 'application/x-archive',
  assembly: 'text/x-asm; charset=utf-8',
  'llvm-ir': 'text/x-llvm; charset=utf-8',
  ptx: 'text/x-ptx; charset=utf-8',
  cubin: 'application/x-cubin',
  fatbin: 'application/x-fatbin',
  'code-object': 'application/x-amdgpu-code-object',
};

/** The flags that select the target: one per field of the canonical descriptor. */
export function targetFlags(target: CanonicalTarget, spec: TargetSpec): string[] {
  const flags = [`--target=${spec.clangTriple}`];
  if (target.cpu) flags.push(spec.family === 'x86' ? `-march=${target.cpu}` : `-mcpu=${target.cpu}`);
  for (const f of target.features) flags.push('-Xclang', '-target-feature', '-Xclang', f);
  if (target.floatAbi) flags.push(`-mfloat-abi=${target.floatAbi}`);
  return flags;
}

/**
 * Libraries linked into every executable and shared library after the job's own: the C math
 * library, which C programs expect as they expect libc (on Linux only where used, so a library
 * gains no dependency it does not need; wasi-libc's is part of libc).
 */
export function defaultLibraries(spec: TargetSpec): string[] {
  return spec.family === 'wasm' ? ['-lm'] : ['-Wl,--as-needed', '-lm', '-Wl,--no-as-needed'];
}

/**
 * The link of a whole program. Static (on Linux) for the program a job verifies, so that it runs
 * under qemu-user or on a board without the target's sysroot; the executable such a job delivers
 * is linked by this same command, so that what ran is what was delivered (the same bytes).
 */
function programLink(spec: TargetSpec, common: string[], objects: string[], libs: string[], isStatic: boolean, out: string): string[] {
  return [...common, '-fuse-ld=lld', ...(isStatic && spec.family !== 'wasm' ? ['-static'] : []), ...objects, '-o', out, ...libs, ...defaultLibraries(spec)];
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
  readonly languages = ['c', 'c++', 'llvm-ir'] as const;

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
      TARGETS.filter((spec) => spec.name in languageSpecOf('c').targets).map(async (spec) => {
        const mounts: Mount[] = [{ host: probeDir, sandbox: '/work', writable: true }];
        const cxx = spec.family === 'wasm' ? ['-fno-exceptions'] : [];
        const c = await exec.run({ argv: [CLANG, `--target=${spec.clangTriple}`, '-fuse-ld=lld', 'probe.c', '-o', `c-${spec.name}`], cwd: '/work', mounts, timeoutMs: 60_000 });
        const cpp = await exec.run({ argv: [CLANGXX, `--target=${spec.clangTriple}`, '-fuse-ld=lld', ...cxx, 'probe.cpp', '-o', `cpp-${spec.name}`], cwd: '/work', mounts, timeoutMs: 60_000 });
        const cpus = await exec.run({ argv: [CLANG, `--target=${spec.clangTriple}`, '-print-supported-cpus'], cwd: '/work', mounts, timeoutMs: 20_000 });
        const cpuList = parseCpuList(cpus.stdout + cpus.stderr);
        const attrs = await exec.run({ argv: [LLC, `-mtriple=${spec.clangTriple}`, '-mattr=help'], cwd: '/work', mounts, timeoutMs: 20_000 });
        const features = parseFeatureList(attrs.stdout + attrs.stderr);
        if (c.exitCode !== 0 || cpp.exitCode !== 0) {
          const why = (c.exitCode !== 0 ? c.stderr : cpp.stderr).trim().split('\n').slice(0, 3).join(' ');
          return { target: spec.name, available: false, reason: `cannot link for ${spec.name} (install ${spec.sysrootHint}): ${why}`, cpus: cpuList, features };
        }
        return { target: spec.name, available: true, cpus: cpuList, features };
      }),
    );
  }

  async compile(req: CompileRequest, exec: SandboxExecutor): Promise<CompileResult> {
    const { source, target, spec, outputs } = req;
    // A project archive with a CMakeLists.txt on top is built by CMake.
    const root = source.archive && source.language !== 'llvm-ir' ? cmakeRoot(source.archive.files) : null;
    if (root !== null) return buildCMake(req, exec, root);
    const cxx = source.language === 'c++';
    const units = source.files.map((f) => f.path).filter((p) => isTranslationUnit(source.language, p));
    const names = unitNames(units);
    const run = new ClangRun(req, exec, cxx ? CLANGXX : CLANG);
    const userOptions = source.options.filter((o) => !o.startsWith('-l'));
    const common = [
      ...targetFlags(target, spec),
      ...baseFlags(cxx, spec, source.language),
      ...(outputs.includes('shared') ? ['-fPIC'] : []),
      ...defineFlags(source.defines),
      ...userOptions,
    ];
    const artifacts: ProducedArtifact[] = [];

    const needObjects = req.verify !== null || outputs.some((o) => o === 'object' || o === 'executable' || o === 'shared');
    const objects: string[] = [];
    for (const unit of units) {
      const name = names.get(unit)!;
      if (needObjects) {
        const out = `../out/obj/${name}.o`;
        await mkdirOpen(req.workdir, join('out/obj', posix.dirname(name)));
        const r = await run.step([...common, '-c', unit, '-o', out]);
        if (r.exitCode !== 0) return run.fail(r, `compiling ${unit}`);
        objects.push(out);
        if (outputs.includes('object')) artifacts.push({ kind: 'object', name: `${name}.o`, hostPath: join(req.workdir, 'out/obj', `${name}.o`), contentType: CONTENT_TYPES.object });
      }
      for (const [kind, flag, ext] of [['assembly', [], 's'], ['llvm-ir', ['-emit-llvm'], 'll']] as const) {
        if (!outputs.includes(kind)) continue;
        const dir = kind === 'assembly' ? 'asm' : 'ir';
        await mkdirOpen(req.workdir, join('out', dir, posix.dirname(name)));
        const r = await run.step([...common, '-S', ...flag, unit, '-o', `../out/${dir}/${name}.${ext}`]);
        if (r.exitCode !== 0) return run.fail(r, `compiling ${unit}`);
        artifacts.push({ kind, name: `${name}.${ext}`, hostPath: join(req.workdir, 'out', dir, `${name}.${ext}`), contentType: CONTENT_TYPES[kind] });
      }
    }

    // Named after main.* when there is one, else after the first file compiled.
    const program = stem(units.find((u) => stem(u) === 'main') ?? units[0]);
    const libs = linkLibraries(source.options);
    let executable = spec.family === 'wasm' ? `${program}.wasm` : program;
    if (artifacts.some((a) => a.name === executable)) executable = `${executable}.out`;
    if (outputs.includes('executable')) {
      const name = executable;
      // A program the job verifies is delivered as verified: the same link, static on Linux.
      const r = await run.step(programLink(spec, common, objects, libs, req.verify?.kind === 'program', `../out/bin/${name}`));
      if (r.exitCode !== 0) return run.fail(r, 'linking');
      artifacts.push({ kind: 'executable', name, hostPath: join(req.workdir, 'out/bin', name), contentType: spec.family === 'wasm' ? 'application/wasm' : CONTENT_TYPES.executable });
    }
    if (outputs.includes('static')) {
      const name = `lib${program}.a`;
      await mkdirOpen(req.workdir, 'out/lib');
      const r = await run.step(['rcsD', `../out/lib/${name}`, ...objects], LLVM_AR);
      if (r.exitCode !== 0) return run.fail(r, 'archiving the static library');
      artifacts.push({ kind: 'static', name, hostPath: join(req.workdir, 'out/lib', name), contentType: CONTENT_TYPES.static });
    }
    if (outputs.includes('shared')) {
      const name = `lib${program}.so`;
      const r = await run.step([...common, '-fuse-ld=lld', '-shared', ...objects, '-o', `../out/lib/${name}`, ...libs, ...defaultLibraries(spec)]);
      if (r.exitCode !== 0) return run.fail(r, 'linking the shared library');
      artifacts.push({ kind: 'shared', name, hostPath: join(req.workdir, 'out/lib', name), contentType: CONTENT_TYPES.shared });
    }
    if (!req.verify) return run.ok(artifacts);

    // Verification bundle: the target's program (the harness linked with the very objects
    // above, or the program itself), its inputs, and what a reference build on this host gives.
    const bundle = await buildBundle(run, req, req.verify, { common, objects, libs, units, names, cxx, executable });
    if ('failed' in bundle) return bundle.failed;
    return run.ok(artifacts, bundle);
  }
}

interface BuildParts {
  common: string[];
  objects: string[];
  libs: string[];
  units: string[];
  names: Map<string, string>;
  cxx: boolean;
  /** The executable's file name (the name is part of a WebAssembly module's bytes). */
  executable: string;
}

export function baseFlags(cxx: boolean, spec: TargetSpec, language?: string): string[] {
  return ['-fno-color-diagnostics', '-fmessage-length=0', ...(cxx && spec.family === 'wasm' ? ['-fno-exceptions'] : []), ...(language === 'llvm-ir' ? ['-Wno-override-module'] : [])];
}

function defineFlags(defines: Record<string, string>): string[] {
  return Object.entries(defines).map(([k, v]) => `-D${k}=${v}`);
}

/** Options that let the compiler change results; the reference is built without them. */
const FAST_MATH = /^-f(fast-math|unsafe-math-optimizations|associative-math|reciprocal-math|finite-math-only|no-signed-zeros|no-trapping-math|approx-func|fp-contract=.*|denormal-fp-math=.*|no-honor-(nans|infinities)|cx-limited-range)$/;

export function referenceOptions(options: string[]): string[] {
  return [...options.filter((o) => !o.startsWith('-l') && !FAST_MATH.test(o)).map((o) => (o === '-Ofast' ? '-O3' : o)), '-fno-fast-math', '-ffp-contract=off'];
}

/** The host this worker runs on, as a catalog target: where reference builds run natively. */
export function hostTarget(): TargetSpec {
  const name = process.arch === 'arm64' ? 'aarch64-linux-gnu' : 'x86_64-linux-gnu';
  return TARGETS.find((t) => t.name === name)!;
}

async function buildBundle(run: ClangRun, req: CompileRequest, verify: VerifySpec, parts: BuildParts): Promise<CompiledBundle | { failed: CompileResult }> {
  const { spec, source } = req;
  const host = hostTarget();
  await mkdirOpen(req.workdir, 'verify/ref');
  await mkdirOpen(req.workdir, 'harness');
  const stage = new BundleStage(req);
  const isWasm = spec.family === 'wasm';
  const programName = isWasm ? 'program.wasm' : 'program';
  let programAt = `verify/${programName}`;
  // Static on Linux, so the bundle runs under qemu-user or on a bare board without a sysroot.
  const link = (extra: string[]) => [...parts.common, '-fuse-ld=lld', ...(isWasm ? [] : ['-static']), ...extra, ...parts.libs, '-lm'];
  // The reference: the job's sources, or the separate reference source the check names, for
  // this host without fast-math or FP contraction.
  const separate = verify.kind !== 'model' ? verify.reference : undefined;
  const refOptions = separate ? separate.options : source.options;
  const hostCommon = [`--target=${host.clangTriple}`, ...baseFlags(parts.cxx, host), ...defineFlags(source.defines), ...referenceOptions(refOptions)];
  const refParts = separate ? referenceParts(source.language, separate) : { units: parts.units, names: parts.names, libs: parts.libs, cwd: '/work/src' };
  const refWhat = separate ? `the reference source (${separate.files.map((f) => f.path).join(', ')})` : 'the same source';
  const refDescription = `${refWhat} built for ${host.name} (clang ${CLANG_VERSION_HINT}, ${referenceOptions(refOptions).join(' ')})`;

  let reference: string;
  if (verify.kind === 'kernel') {
    if (source.language !== 'c' && source.language !== 'c++') throw new Error(`kernel verification of ${source.language} is not offered`);
    const linkage = verify.linkage ?? source.language;
    const harnessFile = parts.cxx ? 'kiln_harness.cpp' : 'kiln_harness.c';
    writeBeneath(req.workdir, `harness/${harnessFile}`, generateHarness(verify, source.language, linkage));
    const uploaded = await readUploadedTensors(req.workdir, verify);
    if (typeof uploaded === 'string') return { failed: run.failed(uploaded) };
    const inputs = generateInputs(verify, uploaded.inputs);
    stage.write(BUNDLE_FILES.inputs, inputs);
    const harnessSrc = `../harness/${harnessFile}`;
    // The target side: the harness linked with the build's own objects.
    let r = await run.step([...parts.common.filter((o) => !/^-O/.test(o)), '-O1', '-c', harnessSrc, '-o', '../verify/harness.o']);
    if (r.exitCode !== 0) return { failed: run.fail(r, 'compiling the verification harness') };
    r = await run.step(link([...parts.objects, '../verify/harness.o', '-o', `../verify/${programName}`]));
    if (r.exitCode !== 0) return { failed: run.fail(r, `linking the verification harness (does ${verify.entry} have the declared signature?)`) };
    if (uploaded.expected) {
      // Every output's expected values were uploaded: no reference build is needed.
      stage.write(BUNDLE_FILES.expected, uploaded.expected);
      reference = 'the expected outputs uploaded by the client';
    } else {
      const refFailed = await buildReference(run, refParts, hostCommon, [harnessSrc], refWhat);
      if (refFailed) return { failed: refFailed };
      const ref = await run.runReference({ program: 'verify/ref/program', inputs, args: [`/in/${BUNDLE_FILES.inputs}`, BUNDLE_FILES.expected], stdin: '', timeoutMs: verify.timeoutMs, output: { name: BUNDLE_FILES.expected, bytes: outputBytes(verify) } });
      if (typeof ref.output === 'string') return { failed: run.failed(`the reference run on ${host.name}: ${ref.output}`) };
      if (ref.result.exitCode !== 0) return { failed: run.failRun(ref.result, `the reference run on ${host.name}`, verify.timeoutMs) };
      stage.write(BUNDLE_FILES.expected, ref.output!);
      reference = refDescription;
    }
    const manifest: BundleManifest = {
      version: 1,
      kind: 'kernel',
      target: spec.name,
      program: programName,
      timeoutMs: verify.timeoutMs,
      entry: verify.entry,
      outputs: outputArgs(verify).map((a) => ({ name: a.name, dtype: a.dtype, count: elementCount(a) })),
      tolerance: verify.tolerance,
      seed: verify.seed,
      reference,
    };
    stage.write(BUNDLE_FILES.manifest, JSON.stringify(manifest, null, 2));
  } else if (verify.kind === 'program') {
    // Linked as the delivered executable is, under its name, then taken into the bundle.
    await mkdirOpen(req.workdir, 'verify/exe');
    programAt = `verify/exe/${parts.executable}`;
    const r = await run.step(programLink(spec, parts.common, parts.objects, parts.libs, true, `../${programAt}`));
    if (r.exitCode !== 0) return { failed: run.fail(r, 'linking the program to verify') };
    let expect = verify.expect;
    reference = 'the expected output given in the request';
    if (!expect) {
      const refFailed = await buildReference(run, refParts, hostCommon, [], refWhat);
      if (refFailed) return { failed: refFailed };
      const refRun = await run.runReference({ program: 'verify/ref/program', inputs: null, args: verify.args, stdin: verify.stdin, timeoutMs: verify.timeoutMs });
      if (typeof refRun.output === 'string') return { failed: run.failed(`the reference run on ${host.name}: ${refRun.output}`) };
      const ref = refRun.result;
      if (ref.timedOut || ref.signal || ref.truncated) return { failed: run.failRun(ref, `the reference run on ${host.name}`, verify.timeoutMs) };
      expect = { stdout: ref.stdout, exitCode: ref.exitCode };
      reference = separate ? refDescription : `a reference build on ${host.name} (${referenceOptions(source.options).join(' ')})`;
    }
    const manifest: BundleManifest = {
      version: 1,
      kind: 'program',
      target: spec.name,
      program: programName,
      timeoutMs: verify.timeoutMs,
      args: verify.args,
      stdin: verify.stdin,
      expect,
      reference,
    };
    stage.write(BUNDLE_FILES.manifest, JSON.stringify(manifest, null, 2));
  } else {
    throw new Error('a model is verified by the model toolchain');
  }
  const taken = await stage.takeProgram(programAt, programName);
  if (taken) return { failed: run.failed(taken) };
  return stage.bundle();
}

/** The bytes a kernel check's outputs take, in the order the harness writes them. */
export function outputBytes(verify: KernelVerifySpec): number {
  return outputArgs(verify).reduce((n, a) => n + bufferBytes(a), 0);
}

/**
 * A verification bundle as it is put together: in the stage (the worker's own folder, which no
 * sandboxed step can write), from bytes the worker made and from the program the toolchain
 * linked, copied out of the work folder without following links.
 */
export class BundleStage {
  readonly dir: string;
  private readonly files: string[] = [];

  constructor(private readonly req: Pick<CompileRequest, 'workdir' | 'stage'>) {
    this.dir = join(req.stage, 'bundle');
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
  }

  write(name: string, data: string | Uint8Array): void {
    writeFileSync(join(this.dir, name), data, { flag: 'wx' });
    this.files.push(name);
  }

  /** Copies the linked program (a path in the work folder) into the bundle; a string says why it could not be. */
  async takeProgram(rel: string, name: string): Promise<string | null> {
    try {
      await copyProduced(this.req.workdir, rel, join(this.dir, name), MAX_PROGRAM_BYTES);
    } catch (e) {
      if (e instanceof ProducedFileError) return `the program to verify was refused: ${e.message}`;
      throw e;
    }
    this.files.unshift(name);
    return null;
  }

  bundle(): CompiledBundle {
    const order = [BUNDLE_FILES.manifest, ...this.files.filter((f) => f !== BUNDLE_FILES.manifest)];
    return { dir: this.dir, files: order.filter((f) => this.files.includes(f)).map((name) => ({ name, hostPath: join(this.dir, name) })) };
  }
}

/** The largest program a bundle takes (a model's program carries its weights). */
const MAX_PROGRAM_BYTES = 1024 ** 3;

const CLANG_VERSION_HINT = '19';

/** Where a worker writes a check's separate reference source, beside src/ in the build folder. */
export const REFERENCE_SRC_DIR = 'ref-src';

interface ReferenceParts {
  units: string[];
  names: Map<string, string>;
  libs: string[];
  /** The folder the units are compiled in, as seen in the sandbox (one level below /work). */
  cwd: string;
}

export function referenceParts(language: CompileRequest['source']['language'], ref: ReferenceSource): ReferenceParts {
  const units = ref.files.map((f) => f.path).filter((p) => isTranslationUnit(language, p));
  return { units, names: unitNames(units), libs: linkLibraries(ref.options), cwd: `/work/${REFERENCE_SRC_DIR}` };
}

/**
 * The uploaded tensors of a kernel check, from verify-data/: inputs by argument name, and the
 * expected outputs in the order the harness writes them when every output has one. Each must
 * hold exactly its buffer's bytes (the API checked; the worker trusts no input). A string says
 * why they cannot be used.
 */
export async function readUploadedTensors(workdir: string, verify: KernelVerifySpec): Promise<{ inputs: Map<string, Buffer>; expected: Buffer | null } | string> {
  const inputs = new Map<string, Buffer>();
  const expected: Buffer[] = [];
  for (const a of verify.args) {
    if (a.kind !== 'buffer') continue;
    for (const role of ['input', 'expected'] as const) {
      if (!a[role]) continue;
      const bytes = await readProduced(workdir, verifyDataFile(role, a.name), bufferBytes(a) + 1).catch((e: Error) => e);
      if (bytes instanceof Error) return `verification: the uploaded ${role === 'input' ? 'input' : 'expected output'} of "${a.name}" could not be read: ${bytes.message}`;
      if (bytes.length !== bufferBytes(a)) return `verification: the uploaded ${role === 'input' ? 'input' : 'expected output'} of "${a.name}" holds ${bytes.length} bytes; ${a.dtype} ${JSON.stringify(a.shape)} needs ${bufferBytes(a)}`;
      if (role === 'input') inputs.set(a.name, bytes);
      else expected.push(bytes);
    }
  }
  const outputs = outputArgs(verify);
  return { inputs, expected: outputs.every((a) => a.expected) ? Buffer.concat(expected) : null };
}

/** Builds verify/ref/program for this host from the reference's units (and extra sources). */
export async function buildReference(run: ClangRun, parts: ReferenceParts, hostCommon: string[], extra: string[], what: string): Promise<CompileResult | null> {
  const objects: string[] = [];
  for (const unit of parts.units) {
    const out = `../verify/ref/${parts.names.get(unit)!.replace(/\//g, '__')}.o`;
    const r = await run.step([...hostCommon, '-c', unit, '-o', out], undefined, parts.cwd);
    if (r.exitCode !== 0) return run.fail(r, `compiling ${unit} for the reference`);
    objects.push(out);
  }
  const r = await run.step([...hostCommon, '-fuse-ld=lld', ...objects, ...extra, '-o', '../verify/ref/program', ...parts.libs, '-lm'], undefined, parts.cwd);
  return r.exitCode !== 0 ? run.fail(r, `linking the reference program (${what})`) : null;
}

/** One build's toolchain runs: a shared deadline, the log, and the diagnostics seen so far. */
export class ClangRun {
  private readonly deadline: number;
  private log = '';
  private toolchainMs = 0;
  private readonly diagnostics: Diagnostic[] = [];
  private readonly seen = new Set<string>();
  private readonly mounts: Mount[];
  private references = 0;

  constructor(
    private readonly req: Pick<CompileRequest, 'workdir' | 'stage' | 'timeoutMs' | 'signal'>,
    private readonly exec: SandboxExecutor,
    private readonly driver: string,
    private readonly opts: { env?: Record<string, string>; mounts?: Mount[]; parse?: (output: string) => Diagnostic[]; limits?: Partial<ResourceLimits> } = {},
  ) {
    this.deadline = Date.now() + req.timeoutMs;
    this.mounts = [{ host: req.workdir, sandbox: '/work', writable: true }, ...(opts.mounts ?? [])];
  }

  /** Runs the driver (or another tool of the toolchain, such as llvm-ar) in the sandbox. */
  async step(args: string[], tool: string = this.driver, cwd = '/work/src'): Promise<ExecResult> {
    const remaining = this.deadline - Date.now();
    const r = await this.exec.run({ argv: [tool, ...args], cwd, env: this.opts.env, mounts: this.mounts, timeoutMs: Math.max(remaining, 1), signal: this.req.signal, maxOutputBytes: MAX_LOG, ...(this.opts.limits ? { limits: this.opts.limits } : {}) });
    this.toolchainMs += r.wallMs;
    const output = r.stderr + r.stdout;
    if (output.trim() && this.log.length < MAX_LOG) this.log += `$ ${posix.basename(tool)} ${args.join(' ')}\n${output}`;
    for (const d of (this.opts.parse ?? parseDiagnostics)(output)) {
      const key = JSON.stringify(d);
      if (!this.seen.has(key)) {
        this.seen.add(key);
        this.diagnostics.push(d);
      }
    }
    return r;
  }

  /**
   * Runs a reference program (a path in the work folder) in a sandbox of its own: the program and
   * its inputs are copied into a fresh folder of the stage and mounted read-only at /in, and it
   * runs in another fresh folder (/work, its only writable one), from which the worker takes the
   * named output as data (a regular file, not a link, of exactly the bytes expected). It never
   * shares a writable folder with the build or with the program under test.
   */
  async runReference(opts: { program: string; inputs: Buffer | null; args: string[]; stdin: string; timeoutMs: number; output?: { name: string; bytes: number } }): Promise<{ result: ExecResult; output?: Buffer | string }> {
    const root = join(this.req.stage, `ref-${++this.references}`);
    const input = join(root, 'in');
    const work = join(root, 'work');
    mkdirSync(input, { recursive: true, mode: 0o755 });
    mkdirSync(work, { mode: 0o777 });
    // mkdir's mode is masked by the umask; the sandbox user (another uid under a root worker) needs these.
    await chmod(root, 0o711);
    await chmod(input, 0o755);
    await chmod(work, 0o777);
    try {
      await copyProduced(this.req.workdir, opts.program, join(input, 'program'), 1024 ** 3);
    } catch (e) {
      if (!(e instanceof ProducedFileError)) throw e;
      return { result: { exitCode: null, signal: null, stdout: '', stderr: '', truncated: false, timedOut: false, canceled: false, wallMs: 0 }, output: `the reference program was refused: ${e.message}` };
    }
    await chmod(join(input, 'program'), 0o755);
    if (opts.inputs) writeFileSync(join(input, BUNDLE_FILES.inputs), opts.inputs, { mode: 0o644 });
    const argv = ['/in/program', ...opts.args];
    const r = await this.exec.run({ argv, cwd: '/work', mounts: [{ host: input, sandbox: '/in' }, { host: work, sandbox: '/work', writable: true }], timeoutMs: opts.timeoutMs, signal: this.req.signal, stdin: opts.stdin, maxOutputBytes: 1024 * 1024, limits: { processes: 64, memoryBytes: 2 * 1024 ** 3 } });
    if (r.stderr.trim() && this.log.length < MAX_LOG) this.log += `$ ${argv.join(' ')}\n${r.stderr.slice(0, 4096)}`;
    if (!opts.output || r.exitCode !== 0) return { result: r };
    try {
      const bytes = await readProduced(work, opts.output.name, opts.output.bytes);
      if (bytes.length !== opts.output.bytes) return { result: r, output: `it wrote ${bytes.length} bytes of outputs; the check's outputs take ${opts.output.bytes}` };
      return { result: r, output: bytes };
    } catch (e) {
      if (!(e instanceof ProducedFileError)) throw e;
      return { result: r, output: `its outputs were refused: ${e.message}` };
    }
  }

  ok(artifacts: ProducedArtifact[], bundle?: CompiledBundle): CompileResult {
    // (also used by the model toolchain)
    return { ok: true, diagnostics: this.diagnostics, log: this.log.slice(0, MAX_LOG), toolchainMs: this.toolchainMs, artifacts, bundle };
  }

  fail(r: ExecResult, what: string): CompileResult {
    const errors = this.diagnostics.filter((d) => d.severity === 'error' || d.severity === 'fatal').length;
    const reason = r.canceled
      ? 'canceled'
      : r.timedOut
        ? `${what} timed out after ${Math.round(this.req.timeoutMs / 1000)} s`
        : r.memoryLimitBytes
          ? `${what} ran out of memory: its processes together reached the build's limit of ${Math.round(r.memoryLimitBytes / 1024 ** 2)} MiB`
          : r.signal
          ? `${what} was killed by ${r.signal} (a resource limit was reached)`
          : `${what} failed${errors ? ` with ${errors} error${errors > 1 ? 's' : ''}` : ` (exit code ${r.exitCode}): ${lastLine(r.stderr || r.stdout)}`}`;
    return this.failed(reason, r.canceled);
  }

  failRun(r: ExecResult, what: string, timeoutMs: number): CompileResult {
    const reason = r.canceled
      ? 'canceled'
      : r.memoryLimitBytes
        ? `${what} ran out of memory: its processes together reached the limit of ${Math.round(r.memoryLimitBytes / 1024 ** 2)} MiB`
        : r.timedOut
        ? `${what} did not finish within ${timeoutMs} ms`
        : r.signal
          ? `${what} was killed by ${r.signal}`
          : r.truncated
            ? `${what} printed more than 1 MiB`
            : `${what} exited with code ${r.exitCode}: ${lastLine(r.stderr || r.stdout)}`;
    return this.failed(reason, r.canceled);
  }

  failed(reason: string, canceled = false): CompileResult {
    return { ok: false, diagnostics: this.diagnostics, log: this.log.slice(0, MAX_LOG), toolchainMs: this.toolchainMs, artifacts: [], failureReason: reason, canceled };
  }
}

/** -l options are link-time only; they are passed again at the link step, after the objects. */
function linkLibraries(options: string[]): string[] {
  return options.filter((o) => o.startsWith('-l'));
}

/**
 * Creates folders below root that the sandbox user (another uid) may write into, never following
 * a link that an earlier sandboxed step left where a folder should be.
 */
export async function mkdirOpen(root: string, rel: string): Promise<void> {
  // Synchronously: a few tiny calls, each of which would otherwise be a round trip through the
  // thread pool (see CompileService.writeSources).
  mkdirBeneath(root, rel, 0o777);
}

function lastLine(text: string): string {
  const lines = text.trim().split('\n').filter((l) => l.trim());
  return (lines[lines.length - 1] ?? 'no output').slice(0, 300);
}

/** The feature names in `llc -mattr=help` output. */
export function parseFeatureList(output: string): string[] {
  const lines = output.split('\n');
  const start = lines.findIndex((l) => l.startsWith('Available features for this target'));
  if (start < 0) return [];
  const features: string[] = [];
  for (const l of lines.slice(start + 1)) {
    if (l.startsWith('Use +feature')) break;
    const m = /^\s+([A-Za-z0-9][A-Za-z0-9._-]*)\s+- /.exec(l);
    if (m) features.push(m[1]);
  }
  return features;
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
