import { existsSync } from 'node:fs';
import { readProduced } from '../sandbox/files';
import { basename, dirname, join } from 'node:path';
import { languageSpecOf } from '../../src/jobs/languages';
import type { CanonicalTarget } from '../../src/targets/target';
import type { SandboxExecutor } from '../sandbox/executor';
import { ClangRun, CONTENT_TYPES } from './clang';
import { firstLines, probeRun, programName, withProbeDir } from './common';
import type { CompileRequest, CompileResult, Toolchain, ToolchainProbe } from './toolchain';

const GO = '/usr/bin/go';
const GOARCH: Record<string, Record<string, string>> = {
  'x86_64-linux-gnu': { GOARCH: 'amd64' },
  'aarch64-linux-gnu': { GOARCH: 'arm64' },
  'riscv64-linux-gnu': { GOARCH: 'riscv64' },
  'armv7-linux-gnueabihf': { GOARCH: 'arm', GOARM: '7' },
};

/**
 * Go's environment for one build: cross compilation by GOOS/GOARCH, no cgo, no network (module
 * downloads are off), and a build cache inside the build's own folder.
 */
export function goEnv(target: CanonicalTarget, modules: boolean): Record<string, string> {
  const level = /^x86-64-(v[234])$/.exec(target.cpu ?? '');
  return {
    GOOS: 'linux',
    ...GOARCH[target.name],
    ...(level ? { GOAMD64: level[1] } : {}),
    CGO_ENABLED: '0',
    GO111MODULE: modules ? 'on' : 'off',
    GOPROXY: 'off',
    GOFLAGS: modules ? '-mod=mod' : '',
    GOCACHE: '/work/.gocache',
    GOPATH: '/tmp/gopath',
    GOTOOLCHAIN: 'local',
    GOTELEMETRY: 'off',
    HOME: '/tmp',
  };
}

/** Go with the Debian Go toolchain: static executables for every Linux target. */
export class GoToolchain implements Toolchain {
  static readonly key = 'go';
  readonly key = GoToolchain.key;
  readonly languages = ['go'] as const;

  async probe(exec: SandboxExecutor, scratch: string): Promise<ToolchainProbe | null> {
    if (!existsSync(GO)) return null;
    return withProbeDir(scratch, { 'probe.go': 'package main\n\nfunc twice(x int) int { return 2 * x }\n' }, async (_dir, mounts) => {
      const v = await probeRun(exec, mounts, [GO, 'version'], { HOME: '/tmp', GOCACHE: '/work/.gocache' });
      const m = /go(\d+\.\d+(?:\.\d+)?)/.exec(v.stdout);
      if (v.exitCode !== 0 || !m) throw new Error(`go version failed in the sandbox: ${firstLines(v)}`);
      // Go cross-compiles from its own sources, with nothing per target to install: compiling a
      // package proves the toolchain runs here, and every architecture follows from it. (A full
      // build would first compile the runtime, seconds of every worker's start-up.)
      const r = await probeRun(exec, mounts, [GO, 'tool', 'compile', '-p', 'main', '-o', 'probe.o', 'probe.go'], { HOME: '/tmp', GOCACHE: '/work/.gocache' });
      const targets = Object.keys(languageSpecOf('go').targets).map((name) =>
        r.exitCode === 0 ? { target: name, available: true, cpus: [] } : { target: name, available: false, reason: `go cannot compile: ${firstLines(r)}`, cpus: [] },
      );
      return { key: this.key, version: m[1], targets };
    });
  }

  async compile(req: CompileRequest, exec: SandboxExecutor): Promise<CompileResult> {
    const { source, target } = req;
    const modules = source.files.some((f) => f.path === 'go.mod');
    const run = new ClangRun(req, exec, GO, { env: goEnv(target, modules) });
    const units = source.files.map((f) => f.path).filter((p) => p.endsWith('.go') && !p.endsWith('_test.go'));
    const root = units.filter((p) => !p.includes('/'));
    if (!modules && root.length === 0) return run.failed('a Go program needs its .go files in the project\'s top folder (or a go.mod for packages in folders)');
    // Without go.mod, the top folder's files are the program; with it, the module's main package: at its top folder,
    // or the one folder under it that holds one (cmd/hello).
    let pkg = '.';
    let program = programName(root.length ? root : units);
    if (modules && root.length === 0) {
      const isMain = async (p: string) => /^\s*package\s+main\b/m.test((await readProduced(req.workdir, `src/${p}`)).toString('utf8'));
      const mains = [...new Set((await Promise.all(units.map(async (p) => ((await isMain(p)) ? dirname(p) : null)))).filter((d): d is string => d !== null))].sort();
      if (mains.length === 0) return run.failed('the module has no main package: Kiln builds a program (package main) at the module\'s top folder or in one folder under it');
      if (mains.length > 1) return run.failed(`the module has several main packages (${mains.join(', ')}); a job builds one program: keep one of them, or put it in the module's top folder`);
      pkg = `./${mains[0]}`;
      program = basename(mains[0]); // as go build names it
    }
    const r = await run.step(['build', '-trimpath', ...source.options, '-o', `../out/bin/${program}`, ...(modules ? [pkg] : root)]);
    if (r.exitCode !== 0) return run.fail(r, 'go build');
    return run.ok([{ kind: 'executable', name: program, hostPath: join(req.workdir, 'out/bin', program), contentType: CONTENT_TYPES.executable }]);
  }
}
