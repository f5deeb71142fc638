import { existsSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmod, mkdtemp, readdir, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ArtifactKind } from '../../src/database/entities/job.entity';
import { isTranslationUnit } from '../../src/jobs/source-rules';
import { targetSpec } from '../../src/targets/catalog';
import type { Mount, SandboxExecutor } from '../sandbox/executor';
import { CLANG, ClangRun, CONTENT_TYPES, mkdirOpen } from './clang';
import { firstLines, probeRun, withProbeDir } from './common';
import type { CompileRequest, CompileResult, ProducedArtifact, Toolchain, ToolchainProbe } from './toolchain';

const TARGET = 'amdgcn-amd-amdhsa';
/** Debian's ROCm device libraries (libamdhip64-dev pulls them in) and HIP headers. */
const DEVICE_LIBS = '/usr/lib/x86_64-linux-gnu/amdgcn/bitcode';
const HIP_HEADER = '/usr/include/hip/hip_runtime.h';
const LLVM_AS = '/usr/bin/llvm-as-19';
const SANDBOX_LIBS = '/opt/kiln/amdgcn-bitcode';
/** The data layout of Debian's device library bitcode, so that linking with it is silent. */
const DATA_LAYOUT = 'e-p:64:64-p1:64:64-p2:32:32-p3:32:32-p4:64:64-p5:32:32-p6:32:32-i64:64-v16:16-v24:32-v32:32-v48:64-v96:128-v192:256-v256:256-v512:512-v1024:1024-v2048:2048-n32:64-S32-A5-G1-ni:7:8:9-p7:160:256:256:32-p8:128:128-p9:192:256:256:32';

/** __oclc_ISA_version for an architecture: gfx942 is 9402, gfx90a is 9010, gfx1100 is 11000. */
export function isaVersion(arch: string): number {
  const m = /^gfx(\d{1,2})([0-9a-f])([0-9a-f])$/.exec(arch);
  if (!m) throw new Error(`"${arch}" is not an AMD GPU architecture name`);
  return Number(m[1]) * 1000 + parseInt(m[2], 16) * 100 + parseInt(m[3], 16);
}

/**
 * The device library folder clang links HIP code with: Debian's bitcode, plus the one-constant
 * ISA version files of the catalog's architectures that Debian's (older) ROCm release lacks.
 */
async function deviceLibs(root: string, arches: readonly string[]): Promise<string> {
  // Named after what it holds, built aside and renamed into place: workers sharing a work root
  // reuse one folder and never see a half-made one.
  const dir = join(root, `amdgcn-bitcode-${createHash('sha256').update(arches.join(',')).digest('hex').slice(0, 12)}`);
  if (existsSync(dir)) return dir;
  const tmp = await mkdtemp(join(root, 'amdgcn-bitcode-tmp-'));
  await chmod(tmp, 0o755);
  const present = await readdir(DEVICE_LIBS);
  for (const f of present) await symlink(join(DEVICE_LIBS, f), join(tmp, f));
  for (const arch of arches) {
    const name = `oclc_isa_version_${arch.slice(3)}.bc`;
    if (present.includes(name)) continue;
    const ll = join(tmp, `${name}.ll`);
    await writeFile(ll, `target datalayout = "${DATA_LAYOUT}"\ntarget triple = "amdgcn-amd-amdhsa"\n@__oclc_ISA_version = linkonce_odr protected local_unnamed_addr addrspace(4) constant i32 ${isaVersion(arch)}, align 4\n`);
    execFileSync(LLVM_AS, [ll, '-o', join(tmp, name)]);
    await rm(ll);
  }
  try {
    await rename(tmp, dir);
  } catch {
    await rm(tmp, { recursive: true, force: true }); // another worker got there first
  }
  return dir;
}

const OUTPUT: Partial<Record<ArtifactKind, { flags: string[]; dir: string; ext: string }>> = {
  'code-object': { flags: ['-c'], dir: 'gpu', ext: 'co' },
  assembly: { flags: ['-S'], dir: 'asm', ext: 's' },
  'llvm-ir': { flags: ['-S', '-emit-llvm'], dir: 'ir', ext: 'll' },
};

/** HIP for AMD GPUs with clang-19: code objects, assembly and LLVM IR per gfx architecture. */
export class HipToolchain implements Toolchain {
  static readonly key = 'hip';
  readonly key = HipToolchain.key;
  readonly languages = ['hip'] as const;
  private mounts: Mount[] = [];

  async probe(exec: SandboxExecutor, scratch: string): Promise<ToolchainProbe | null> {
    if (!existsSync(CLANG) || !existsSync(HIP_HEADER) || !existsSync(DEVICE_LIBS)) return null;
    const arches = targetSpec(TARGET).gpu!.arches;
    const libs = await deviceLibs(scratch, arches);
    this.mounts = [{ host: libs, sandbox: SANDBOX_LIBS, writable: false }];
    const kernel = '#include <hip/hip_runtime.h>\n__global__ void probe(float *y) { y[threadIdx.x] = sqrtf(y[threadIdx.x]); }\n';
    return withProbeDir(scratch, { 'probe.hip': kernel }, async (_dir, mounts) => {
      const v = await probeRun(exec, mounts, [CLANG, '--version']);
      const m = /clang version (\d+\.\d+\.\d+)/.exec(v.stdout);
      if (v.exitCode !== 0 || !m) throw new Error(`clang --version failed in the sandbox: ${firstLines(v)}`);
      // One architecture proves the compiler, headers and device libraries; the others only
      // differ by their ISA version file, which deviceLibs() made sure exists.
      const r = await probeRun(exec, [...mounts, ...this.mounts], [CLANG, ...hipFlags(arches[0]), '-c', 'probe.hip', '-o', 'probe.co']);
      const ok = r.exitCode === 0 ? [...arches] : [];
      const failed = r.exitCode === 0 ? null : { r };
      return {
        key: this.key,
        version: m[1],
        targets: [ok.length ? { target: TARGET, available: true, cpus: ok } : { target: TARGET, available: false, reason: `clang cannot build HIP code (install hipcc and libamdhip64-dev): ${failed ? firstLines(failed.r) : ''}`, cpus: [] }],
      };
    });
  }

  async compile(req: CompileRequest, exec: SandboxExecutor): Promise<CompileResult> {
    const { source, target, outputs } = req;
    const run = new ClangRun(req, exec, CLANG, { mounts: this.mounts });
    const units = source.files.map((f) => f.path).filter((p) => isTranslationUnit('hip', p));
    const common = [...hipFlags(target.cpu!), '-fno-color-diagnostics', ...Object.entries(source.defines).map(([k, v]) => `-D${k}=${v}`), ...source.options];
    const artifacts: ProducedArtifact[] = [];
    for (const unit of units) {
      const name = unit.replace(/\.hip$/, '').replace(/\//g, '__');
      for (const kind of outputs) {
        const out = OUTPUT[kind];
        if (!out) continue;
        await mkdirOpen(req.workdir, `out/${out.dir}`);
        const file = `${name}.${out.ext}`;
        const r = await run.step([...common, ...out.flags, unit, '-o', `../out/${out.dir}/${file}`]);
        if (r.exitCode !== 0) return run.fail(r, `compiling ${unit} to ${kind}`);
        artifacts.push({ kind, name: file, hostPath: join(req.workdir, 'out', out.dir, file), contentType: CONTENT_TYPES[kind] });
      }
    }
    return run.ok(artifacts);
  }
}

/** Device-only compilation for one architecture, with the device libraries mounted read-only. */
export function hipFlags(arch: string): string[] {
  return ['-x', 'hip', `--offload-arch=${arch}`, '--cuda-device-only', '--no-gpu-bundle-output', '--rocm-path=/usr', `--rocm-device-lib-path=${SANDBOX_LIBS}`, '-O2'];
}
