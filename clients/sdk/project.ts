import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve, sep } from 'node:path';
import type { CreateJob, Job, KilnClient } from './index';

export class UsageError extends Error {}

const C_HEADERS = ['.h', '.hh', '.hpp', '.hxx', '.h++', '.inc', '.def', '.ipp', '.tpp'];
/**
 * The files of each language the service builds (as its language table has them): units compiled
 * on their own, headers, and whole file names (go.mod). Aliases are other names for --language.
 */
export const SOURCE_LANGUAGES: Record<string, { units: string[]; headers: string[]; files: string[]; aliases: string[] }> = {
  c: { units: ['.c'], headers: C_HEADERS, files: [], aliases: [] },
  'c++': { units: ['.cc', '.cpp', '.cxx', '.c++', '.C'], headers: C_HEADERS, files: [], aliases: ['cpp', 'cxx'] },
  'llvm-ir': { units: ['.ll', '.bc'], headers: [], files: [], aliases: ['ll', 'llvm'] },
  fortran: { units: ['.f90', '.f95', '.f03', '.f08', '.f', '.for', '.F90', '.F95', '.F03', '.F08', '.F'], headers: ['.inc', '.h'], files: [], aliases: ['f90', 'f95', 'f2008', 'f2018'] },
  go: { units: ['.go'], headers: ['.s'], files: ['go.mod', 'go.sum'], aliases: ['golang'] },
  rust: { units: ['.rs'], headers: [], files: [], aliases: ['rs'] },
  cuda: { units: ['.cu'], headers: ['.cuh', ...C_HEADERS], files: [], aliases: ['cu'] },
  hip: { units: ['.hip'], headers: C_HEADERS, files: [], aliases: [] },
};
/** Files larger than this go as uploads rather than inline text. */
const INLINE_LIMIT = 256 * 1024;
const SKIP_DIRS = new Set(['.git', 'node_modules', 'build', 'dist', '.cache', 'target']);

function ext(path: string): string {
  const base = path.slice(path.lastIndexOf('/') + 1);
  const dot = base.lastIndexOf('.');
  return dot > 0 ? base.slice(dot) : '';
}

function belongs(lang: string, path: string): boolean {
  const l = SOURCE_LANGUAGES[lang];
  const e = ext(path);
  // A C++ job takes C files too, as before.
  return l.units.includes(e) || l.headers.includes(e) || l.files.includes(path.slice(path.lastIndexOf(sep) + 1)) || (lang === 'c++' && e === '.c');
}

/** Every file under dir that some language's build takes. */
async function walk(dir: string, out: string[]): Promise<void> {
  for (const e of await readdir(dir, { withFileTypes: true })) {
    if (e.name.startsWith('.') || SKIP_DIRS.has(e.name)) continue;
    const p = join(dir, e.name);
    if (e.isDirectory()) await walk(p, out);
    else if (e.isFile() && Object.keys(SOURCE_LANGUAGES).some((l) => belongs(l, p))) out.push(p);
  }
}

function commonBase(paths: string[]): string {
  let base = dirname(paths[0]);
  while (!paths.every((p) => p === base || p.startsWith(base + sep))) base = dirname(base);
  return base;
}

/** The language a set of files is written in, from their compiled units (C++ wins over C); a mix is an error. */
function guessLanguage(files: string[], inputs: string[]): string {
  const found = Object.keys(SOURCE_LANGUAGES).filter((l) => files.some((f) => SOURCE_LANGUAGES[l].units.includes(ext(f))));
  const langs = found.includes('c++') ? found.filter((l) => l !== 'c') : found;
  if (langs.length === 1) return langs[0];
  if (langs.length === 0) throw new UsageError(`no source files to compile in ${inputs.join(', ')} (only headers?); name the language with --language`);
  throw new UsageError(`${inputs.join(', ')} hold files of several languages (${langs.join(', ')}): name one with --language`);
}

/**
 * The source of a job from files and folders on disk: paths relative to their common folder,
 * the language from --language or the extensions (a folder keeps that language's files), small
 * files inline and large ones as uploads.
 */
export async function collectSource(client: KilnClient, inputs: string[], opts: { language?: string; cwd?: string } = {}): Promise<NonNullable<CreateJob['source']> & { base: string }> {
  if (inputs.length === 0) throw new UsageError('name at least one source file or folder');
  let language: string | undefined;
  if (opts.language) {
    const l = opts.language.toLowerCase();
    language = Object.keys(SOURCE_LANGUAGES).find((k) => k === l || SOURCE_LANGUAGES[k].aliases.includes(l));
    if (!language) throw new UsageError(`--language ${opts.language}: Kiln builds ${Object.keys(SOURCE_LANGUAGES).join(', ')}`);
  }
  const named: string[] = [];
  const found: string[] = [];
  for (const input of inputs) {
    const p = resolve(opts.cwd ?? process.cwd(), input);
    if (ext(p).toLowerCase() === '.onnx') throw new UsageError(`${input}: an ONNX model is compiled on its own (kiln compile model.onnx), not with sources`);
    const st = await stat(p).catch(() => null);
    if (!st) throw new UsageError(`${input}: no such file or folder`);
    if (st.isDirectory()) await walk(p, found);
    else named.push(p);
  }
  language ??= guessLanguage([...named, ...found], inputs);
  const lang = language;
  const stray = named.find((f) => !belongs(lang, f));
  if (stray) throw new UsageError(`${relative(opts.cwd ?? process.cwd(), stray)} is not a ${lang} source or header file (${lang} takes ${[...SOURCE_LANGUAGES[lang].units, ...SOURCE_LANGUAGES[lang].headers, ...SOURCE_LANGUAGES[lang].files].join(' ')})`);
  const files = [...named, ...found.filter((f) => belongs(lang, f))];
  if (files.length === 0) throw new UsageError(`no ${lang} files in ${inputs.join(', ')}`);
  const unique = [...new Set(files)].sort();
  const base = unique.length === 1 ? dirname(unique[0]) : commonBase(unique);
  // base: the folder the paths are relative to, so diagnostics can be mapped back to disk.
  const files_: NonNullable<NonNullable<CreateJob['source']>['files']> = [];
  const source: NonNullable<CreateJob['source']> & { base: string } = { language: lang as NonNullable<CreateJob['source']>['language'], files: files_, base };
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

/**
 * The folder of each build's files: the target as the request named it, and where two builds share
 * that name (two descriptors on one triple), their CPU and features after it, or their position.
 */
export function buildFolders(job: Job): string[] {
  const safe = (s: string) => s.replace(/[^A-Za-z0-9._+@,-]/g, '_');
  const named = job.builds.map((b) => b.target.requested);
  const shared = (i: number, names: string[]) => names.filter((n) => n === names[i]).length > 1;
  const detailed = named.map((n, i) => (shared(i, named) ? `${n}@${[job.builds[i].target.cpu ?? 'generic', ...job.builds[i].target.features].join(',')}` : n));
  return detailed.map((n, i) => safe(shared(i, detailed) ? `${n}#${i + 1}` : n));
}

/** Writes every artifact of a job under dir/<target>/<artifact name> (see buildFolders); returns the files written. */
export async function downloadArtifacts(client: KilnClient, job: Job, dir: string): Promise<{ target: string; path: string; size: number }[]> {
  const written: { target: string; path: string; size: number }[] = [];
  const folders = buildFolders(job);
  for (const [b, build] of job.builds.entries()) {
    const targetDir = join(dir, folders[b]);
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

export type Outcome = 'succeeded' | 'build-failed' | 'verification-failed' | 'not-verified' | 'canceled';

/**
 * What a finished job means for a pipeline: a verification failure is told apart from a build
 * failure, and a job whose builds succeeded but some verification never ran (no runner served its
 * pool within the device wait) is not a plain success.
 */
export function outcomeOf(job: Job): Outcome {
  if (job.status === 'succeeded') return job.builds.some((b) => b.verification?.status === 'not-run') ? 'not-verified' : 'succeeded';
  if (job.builds.some((b) => b.status === 'failed' && !b.verification)) return 'build-failed';
  if (job.builds.some((b) => b.status === 'failed')) return 'verification-failed';
  return 'canceled';
}
