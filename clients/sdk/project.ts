import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve, sep } from 'node:path';
import type { CreateJob, Job, KilnClient } from './index';

export class UsageError extends Error {}

const C_UNITS = ['.c'];
const CXX_UNITS = ['.cc', '.cpp', '.cxx', '.c++', '.C'];
const HEADERS = ['.h', '.hh', '.hpp', '.hxx', '.h++', '.inc', '.def', '.ipp', '.tpp'];
/** Files larger than this go as uploads rather than inline text. */
const INLINE_LIMIT = 256 * 1024;
const SKIP_DIRS = new Set(['.git', 'node_modules', 'build', 'dist', '.cache']);

function ext(path: string): string {
  const base = path.slice(path.lastIndexOf('/') + 1);
  const dot = base.lastIndexOf('.');
  return dot > 0 ? base.slice(dot) : '';
}

async function walk(dir: string, out: string[]): Promise<void> {
  for (const e of await readdir(dir, { withFileTypes: true })) {
    if (e.name.startsWith('.') || SKIP_DIRS.has(e.name)) continue;
    const p = join(dir, e.name);
    if (e.isDirectory()) await walk(p, out);
    else if (e.isFile() && [...C_UNITS, ...CXX_UNITS, ...HEADERS].includes(ext(e.name))) out.push(p);
  }
}

function commonBase(paths: string[]): string {
  let base = dirname(paths[0]);
  while (!paths.every((p) => p === base || p.startsWith(base + sep))) base = dirname(base);
  return base;
}

/**
 * The source of a job from files and folders on disk: paths relative to their common folder,
 * the language from the extensions, small files inline and large ones as uploads.
 */
export async function collectSource(client: KilnClient, inputs: string[], opts: { language?: string; cwd?: string } = {}): Promise<NonNullable<CreateJob['source']> & { base: string }> {
  if (inputs.length === 0) throw new UsageError('name at least one source file or folder');
  const files: string[] = [];
  for (const input of inputs) {
    const p = resolve(opts.cwd ?? process.cwd(), input);
    if (ext(p).toLowerCase() === '.onnx') throw new UsageError(`${input}: an ONNX model is compiled on its own (kiln compile model.onnx), not with sources`);
    const st = await stat(p).catch(() => null);
    if (!st) throw new UsageError(`${input}: no such file or folder`);
    if (st.isDirectory()) await walk(p, files);
    else files.push(p);
  }
  if (files.length === 0) throw new UsageError(`no C or C++ files in ${inputs.join(', ')}`);
  const unique = [...new Set(files)].sort();
  const base = unique.length === 1 ? dirname(unique[0]) : commonBase(unique);
  const language = opts.language ?? (unique.some((f) => CXX_UNITS.includes(ext(f))) ? 'c++' : 'c');
  // base: the folder the paths are relative to, so diagnostics can be mapped back to disk.
  const files_: NonNullable<NonNullable<CreateJob['source']>['files']> = [];
  const source: NonNullable<CreateJob['source']> & { base: string } = { language: language as NonNullable<CreateJob['source']>['language'], files: files_, base };
  for (const f of unique) {
    const path = relative(base, f).split(sep).join('/');
    const bytes = await readFile(f);
    if (bytes.length <= INLINE_LIMIT && !bytes.includes(0)) files_.push({ path, content: bytes.toString('utf8') });
    else files_.push({ path, uploadId: (await client.upload(path.replace(/\//g, '_'), bytes)).id });
  }
  return source;
}

/** Uploads an ONNX model for a model job. */
export async function uploadModel(client: KilnClient, path: string): Promise<{ uploadId: string }> {
  const bytes = await readFile(path).catch(() => {
    throw new UsageError(`${path}: no such file`);
  });
  const name = path.split(sep).pop()!.replace(/[^A-Za-z0-9._+-]/g, '_');
  return { uploadId: (await client.upload(name, bytes)).id };
}

/** "x=1,3,224,224" flags into inputShapes. */
export function parseShapes(specs: string[]): Record<string, number[]> {
  const out: Record<string, number[]> = {};
  for (const s of specs) {
    const m = /^([^=]+)=(\d+(?:,\d+)*)$/.exec(s.trim());
    if (!m) throw new UsageError(`shape "${s}": use input=d0,d1,... (for example x=1,3,224,224)`);
    out[m[1]] = m[2].split(',').map(Number);
  }
  return out;
}

/** Writes every artifact of a job under dir/<target>/<artifact name>; returns the files written. */
export async function downloadArtifacts(client: KilnClient, job: Job, dir: string): Promise<{ target: string; path: string; size: number }[]> {
  const written: { target: string; path: string; size: number }[] = [];
  for (const build of job.builds) {
    const targetDir = join(dir, build.target.requested.replace(/[^A-Za-z0-9._-]/g, '_'));
    for (const a of build.artifacts) {
      const path = join(targetDir, ...a.name.split('/'));
      if (!resolve(path).startsWith(resolve(targetDir) + sep)) continue;
      await mkdir(dirname(path), { recursive: true });
      const bytes = await client.download(a.id);
      await writeFile(path, bytes, { mode: a.kind === 'executable' || a.name === 'verify/program' ? 0o755 : 0o644 });
      written.push({ target: build.target.requested, path, size: bytes.length });
    }
  }
  return written;
}

/** "rtol=1e-5,atol=1e-6,maxUlp=4" or a JSON object. */
export function parseTolerance(text: string): Record<string, number> {
  const t = text.trim();
  if (t.startsWith('{')) return JSON.parse(t) as Record<string, number>;
  const out: Record<string, number> = {};
  for (const part of t.split(',').map((s) => s.trim()).filter(Boolean)) {
    const m = /^(rtol|atol|maxUlp)\s*=\s*([-+0-9.eE]+)$/.exec(part);
    if (!m) throw new UsageError(`tolerance "${part}": use rtol=..., atol=..., maxUlp=...`);
    out[m[1]] = Number(m[2]);
  }
  return out;
}

export type Outcome = 'succeeded' | 'build-failed' | 'verification-failed' | 'canceled';

/** What a finished job means for a pipeline: a verification failure is told apart from a build failure. */
export function outcomeOf(job: Job): Outcome {
  if (job.status === 'succeeded') return 'succeeded';
  if (job.builds.some((b) => b.status === 'failed' && !b.verification)) return 'build-failed';
  if (job.builds.some((b) => b.status === 'failed')) return 'verification-failed';
  return 'canceled';
}
