import { lstat, readdir } from 'node:fs/promises';
import { writeBeneath } from '../sandbox/files';
import { join, posix, relative } from 'node:path';
import type { ArtifactKind } from '../../src/database/entities/job.entity';
import type { SandboxExecutor } from '../sandbox/executor';
import { ClangRun, CLANG, CONTENT_TYPES, LLVM_AR, mkdirOpen, targetFlags } from './clang';
import type { CompileRequest, CompileResult, ProducedArtifact } from './toolchain';

export const CMAKE = '/usr/bin/cmake';
const CLANGXX = '/usr/bin/clang++-19';
const LLVM_RANLIB = '/usr/bin/llvm-ranlib-19';
export { cmakeRoot } from '../../src/jobs/archive';

/** A CMake string literal: quotes, backslashes and variable references escaped. */
function cmakeString(s: string): string {
  return `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\$/g, '\\$')}"`;
}

/**
 * Builds a CMake project with clang for the build's target: a generated toolchain file sets the
 * compilers, the target's flags, lld and the target's sysroot; then configure and build, in the
 * sandbox like every other step (CMake runs the project's own commands there too). The
 * artifacts are the executables and libraries the project's targets produce.
 */
export async function buildCMake(req: CompileRequest, exec: SandboxExecutor, root: string): Promise<CompileResult> {
  const { source, target, spec, outputs } = req;
  const run = new ClangRun(req, exec, CMAKE);
  const wasm = spec.family === 'wasm';
  const flags = [...targetFlags(target, spec).filter((f) => !f.startsWith('--target=')), '-fno-color-diagnostics', ...Object.entries(source.defines).map(([k, v]) => `-D${k}=${v}`), ...source.options.filter((o) => !o.startsWith('-l'))];
  const toolchainFile = [
    `set(CMAKE_SYSTEM_NAME ${wasm ? 'Generic' : 'Linux'})`,
    `set(CMAKE_SYSTEM_PROCESSOR ${spec.arch})`,
    `set(CMAKE_C_COMPILER ${CLANG})`,
    `set(CMAKE_CXX_COMPILER ${CLANGXX})`,
    `set(CMAKE_C_COMPILER_TARGET ${spec.clangTriple})`,
    `set(CMAKE_CXX_COMPILER_TARGET ${spec.clangTriple})`,
    `set(CMAKE_AR ${LLVM_AR})`,
    `set(CMAKE_RANLIB ${LLVM_RANLIB})`,
    `set(CMAKE_C_FLAGS_INIT ${cmakeString(flags.join(' '))})`,
    `set(CMAKE_CXX_FLAGS_INIT ${cmakeString([...flags, ...(wasm ? ['-fno-exceptions'] : [])].join(' '))})`,
    'set(CMAKE_EXE_LINKER_FLAGS_INIT "-fuse-ld=lld")',
    'set(CMAKE_SHARED_LINKER_FLAGS_INIT "-fuse-ld=lld")',
    'set(CMAKE_MODULE_LINKER_FLAGS_INIT "-fuse-ld=lld")',
    ...(wasm ? [] : [`set(CMAKE_FIND_ROOT_PATH /usr/${spec.clangTriple})`]),
    'set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)',
    'set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)',
    'set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)',
    'set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)',
    '',
  ].join('\n');
  await mkdirOpen(req.workdir, 'out/cmake');
  writeBeneath(req.workdir, 'out/toolchain.cmake', toolchainFile);
  const projectDir = root ? `/work/src/${root}` : '/work/src';
  const configure = await run.step(['-S', projectDir, '-B', '/work/out/cmake', '-G', 'Ninja', '-DCMAKE_TOOLCHAIN_FILE=/work/out/toolchain.cmake', '-DCMAKE_BUILD_TYPE=Release', '-DBUILD_TESTING=OFF', '-Wno-dev']);
  if (configure.exitCode !== 0) return run.fail(configure, 'configuring the CMake project');
  const build = await run.step(['--build', '/work/out/cmake', '--parallel', '2']);
  if (build.exitCode !== 0) return run.fail(build, 'building the CMake project');

  const artifacts: ProducedArtifact[] = [];
  const buildDir = join(req.workdir, 'out/cmake');
  for (const file of await walk(buildDir)) {
    const rel = relative(buildDir, file);
    const base = posix.basename(rel);
    const inCMakeFiles = rel.split('/').includes('CMakeFiles');
    let kind: ArtifactKind | null = null;
    if (inCMakeFiles) kind = /\.(o|obj)$/.test(base) && !rel.includes('CompilerId') && !rel.startsWith('CMakeFiles/') ? 'object' : null;
    else if (/\.a$/.test(base)) kind = 'static';
    else if (/\.so(\.\d+)*$/.test(base)) kind = 'shared';
    else if (await isProgram(file, wasm)) kind = 'executable';
    if (!kind || !outputs.includes(kind)) continue;
    const name = kind === 'executable' && wasm && !base.endsWith('.wasm') ? `${rel}.wasm` : rel;
    artifacts.push({ kind, name, hostPath: file, contentType: kind === 'executable' && wasm ? 'application/wasm' : CONTENT_TYPES[kind] });
  }
  const missing = outputs.filter((o) => !artifacts.some((a) => a.kind === o));
  if (missing.length) return run.failed(`the CMake project produced no ${missing.join(' or ')} (it makes: ${[...new Set(artifacts.map((a) => a.kind))].join(', ') || 'nothing Kiln collects'})`);
  return run.ok(artifacts);
}

/** Plain files under a folder; links are not followed (and not collected). */
async function walk(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await walk(p)));
    else if (e.isFile()) out.push(p);
  }
  return out;
}

/** An ELF executable (or a wasm module) that the build wrote, by its first bytes. */
async function isProgram(file: string, wasm: boolean): Promise<boolean> {
  const st = await lstat(file);
  if (!st.isFile() || st.size < 64) return false;
  const { open } = await import('node:fs/promises');
  const fh = await open(file, 'r');
  try {
    const head = Buffer.alloc(18);
    await fh.read(head, 0, 18, 0);
    if (wasm) return head.subarray(0, 4).equals(Buffer.from([0, 0x61, 0x73, 0x6d]));
    // ELF, e_type 2 (executable) or 3 (position-independent executable) with the exec bit set.
    return head.subarray(0, 4).toString('latin1') === '\x7fELF' && (head.readUInt16LE(16) === 2 || head.readUInt16LE(16) === 3) && (st.mode & 0o111) !== 0 && !/\.so(\.\d+)*$/.test(file);
  } finally {
    await fh.close();
  }
}
