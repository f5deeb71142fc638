import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { ArtifactKind } from '../../src/database/entities/job.entity';
import { isTranslationUnit } from '../../src/jobs/source-rules';
import { targetSpec } from '../../src/targets/catalog';
import type { SandboxExecutor } from '../sandbox/executor';
import { ClangRun, CONTENT_TYPES, mkdirOpen } from './clang';
import { firstLines, probeRun, withProbeDir } from './common';
import type { CompileRequest, CompileResult, ProducedArtifact, Toolchain, ToolchainProbe } from './toolchain';

export const CUDA_HOME = process.env.KILN_CUDA_HOME ?? '/usr/local/cuda';
const NVCC = join(CUDA_HOME, 'bin/nvcc');
const TARGET = 'nvptx64-nvidia-cuda';

/** nvcc's flags for one output of one architecture (sm_90: compute_90 for PTX, sm_90 for SASS). */
export function nvccOutputFlags(kind: ArtifactKind, arch: string): string[] {
  const virtual = arch.replace(/^sm_/, 'compute_');
  switch (kind) {
    case 'ptx':
      return [`-arch=${virtual}`, '-ptx'];
    case 'cubin':
      return [`-arch=${arch}`, '-cubin'];
    case 'fatbin':
      return ['-gencode', `arch=${virtual},code=[${arch},${virtual}]`, '-fatbin'];
    case 'object':
      return ['-gencode', `arch=${virtual},code=[${arch},${virtual}]`, '-c'];
    default:
      throw new Error(`nvcc does not produce ${kind}`);
  }
}

const EXT: Partial<Record<ArtifactKind, string>> = { ptx: 'ptx', cubin: 'cubin', fatbin: 'fatbin', object: 'o' };

/** CUDA with NVIDIA's nvcc: PTX, cubin and fat binaries per sm_XX, and x86-64 host objects. */
export class NvccToolchain implements Toolchain {
  static readonly key = 'nvcc';
  readonly key = NvccToolchain.key;
  readonly languages = ['cuda'] as const;

  async probe(exec: SandboxExecutor, scratch: string): Promise<ToolchainProbe | null> {
    if (!existsSync(NVCC)) return null;
    const kernel = '__global__ void probe(float *y) { y[threadIdx.x] *= 2.0f; }\n';
    return withProbeDir(scratch, { 'probe.cu': kernel }, async (_dir, mounts) => {
      const v = await probeRun(exec, mounts, [NVCC, '--version']);
      const m = /release [\d.]+, V(\d+\.\d+\.\d+)/.exec(v.stdout);
      if (v.exitCode !== 0 || !m) throw new Error(`nvcc --version failed in the sandbox: ${firstLines(v)}`);
      const list = await probeRun(exec, mounts, [NVCC, '--list-gpu-arch']);
      const known = new Set([...list.stdout.matchAll(/compute_(\d+)/g)].map((x) => `sm_${x[1]}`));
      const arches = targetSpec(TARGET).gpu!.arches.filter((a) => known.has(a));
      // A cubin proves ptxas works; a host object proves the host compiler does.
      const cubin = await probeRun(exec, mounts, [NVCC, ...nvccOutputFlags('cubin', arches[0] ?? 'sm_80'), 'probe.cu', '-o', 'probe.cubin']);
      const host = cubin.exitCode === 0 ? await probeRun(exec, mounts, [NVCC, ...nvccOutputFlags('object', arches[0] ?? 'sm_80'), 'probe.cu', '-o', 'probe.o']) : cubin;
      const ok = host.exitCode === 0 && arches.length > 0;
      return {
        key: this.key,
        version: m[1],
        targets: [ok ? { target: TARGET, available: true, cpus: arches } : { target: TARGET, available: false, reason: `nvcc cannot build: ${firstLines(host) || 'it knows none of the catalog\'s architectures'}`, cpus: arches }],
      };
    });
  }

  async compile(req: CompileRequest, exec: SandboxExecutor): Promise<CompileResult> {
    const { source, target, outputs } = req;
    const arch = target.cpu!;
    const run = new ClangRun(req, exec, NVCC);
    const units = source.files.map((f) => f.path).filter((p) => isTranslationUnit('cuda', p));
    const common = [...(source.options.some((o) => o.startsWith('-std=')) ? [] : ['-std=c++17']), ...Object.entries(source.defines).map(([k, v]) => `-D${k}=${v}`), ...source.options];
    await mkdirOpen(req.workdir, 'out/gpu');
    const artifacts: ProducedArtifact[] = [];
    for (const unit of units) {
      const name = unit.replace(/\.cu$/, '').replace(/\//g, '__');
      for (const kind of outputs) {
        const ext = EXT[kind];
        if (!ext) continue;
        const file = `${name}.${ext}`;
        const r = await run.step([...common, ...nvccOutputFlags(kind, arch), unit, '-o', `../out/gpu/${file}`]);
        if (r.exitCode !== 0) return run.fail(r, `compiling ${unit} to ${kind}`);
        artifacts.push({ kind, name: file, hostPath: join(req.workdir, 'out/gpu', file), contentType: CONTENT_TYPES[kind] });
      }
    }
    return run.ok(artifacts);
  }
}
