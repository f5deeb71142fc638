import { createWriteStream } from 'node:fs';
import { chmod, mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { PassThrough, Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { Parser, ReadEntry } from 'tar';
import * as yauzl from 'yauzl';

/**
 * Multi-file projects arrive as one uploaded archive (tar, tar.gz or zip). Archives are hostile
 * input: every entry's path is checked, links, devices and other special entries are refused
 * rather than skipped (only macOS metadata is skipped), and the number of files and the bytes
 * they expand to are capped by counting what is really read (not what the headers claim), so a
 * zip bomb stops at the cap.
 */
export class ArchiveError extends Error {}

export type ArchiveFormat = 'tar' | 'tar.gz' | 'zip';

export interface ArchiveLimits {
  maxFiles: number;
  maxBytes: number;
}

export const DEFAULT_ARCHIVE_LIMITS: ArchiveLimits = { maxFiles: 2000, maxBytes: 128 * 1024 * 1024 };

export interface ArchiveFile {
  path: string;
  size: number;
}

/** Tells the format from the first bytes; null when it is none Kiln reads. */
export function archiveFormat(head: Buffer): ArchiveFormat | null {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'tar.gz';
  if (head.length >= 4 && head.readUInt32LE(0) === 0x04034b50) return 'zip';
  if (head.length >= 262 && head.subarray(257, 262).toString('latin1') === 'ustar') return 'tar';
  return null;
}

/** Why an entry's path is refused, or null. Folders are checked with their trailing / removed. */
export function checkArchivePath(path: string): string | null {
  if (path.length === 0) return 'an entry has an empty name';
  if (path.length > 255) return `entry "${path.slice(0, 40)}..." has a path longer than 255 characters`;
  if (path.startsWith('/') || /^[A-Za-z]:/.test(path)) return `entry "${path}" has an absolute path`;
  if (path.includes('\\')) return `entry "${path}" contains a backslash`;
  const parts = path.split('/');
  if (parts.includes('..')) return `entry "${path}" contains "..": files must stay inside the project folder`;
  if (parts.some((p) => p === '' || p === '.')) return `entry "${path}" has an empty or "." component`;
  if (!/^[A-Za-z0-9._+\-/ @=,]+$/.test(path)) return `entry "${path}" may only contain letters, digits, spaces and . _ + - / @ = ,`;
  if (parts.some((p) => p.startsWith('-'))) return `entry "${path}" has a component starting with "-"`;
  return null;
}

/** Strips "./" and a trailing "/" that archivers add. */
function normalize(raw: string): string {
  let p = raw;
  while (p.startsWith('./')) p = p.slice(2);
  return p.endsWith('/') ? p.slice(0, -1) : p;
}

/**
 * Whether an entry is macOS metadata rather than part of the project: Finder's zips put resource
 * forks under a top `__MACOSX/` folder, and macOS tar writes an AppleDouble `._name` next to
 * each file with extended attributes. `__MACOSX/proj/._a.c` would otherwise be compiled as C.
 */
export function isMacOSMetadata(path: string): boolean {
  const parts = path.split('/');
  return parts[0] === '__MACOSX' || parts[parts.length - 1].startsWith('._');
}

type OnFile = (path: string, content: Readable) => Promise<void>;

/** Counts bytes through a stream and fails it at the cap. */
function counter(limits: ArchiveLimits, total: { bytes: number }): Transform {
  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      total.bytes += chunk.length;
      if (total.bytes > limits.maxBytes) cb(new ArchiveError(`the archive expands to more than ${limits.maxBytes} bytes`));
      else cb(null, chunk);
    },
  });
}

/**
 * Reads every regular file of an archive in order, calling `onFile` with its checked path and
 * its (size-capped) content. Returns the files. Throws ArchiveError with a reason a person can
 * act on.
 */
export async function readArchive(data: Buffer, limits: ArchiveLimits, onFile: OnFile): Promise<ArchiveFile[]> {
  const format = archiveFormat(data);
  if (!format) throw new ArchiveError('the upload is not a tar, tar.gz or zip archive');
  const files: ArchiveFile[] = [];
  const seen = new Set<string>();
  const total = { bytes: 0 };
  const accept = (raw: string, isDir: boolean): string | null => {
    const path = normalize(raw);
    if (isDir && path === '') return null;
    // Skipped before any other check: it is neither read nor written.
    if (isMacOSMetadata(path)) return null;
    const why = checkArchivePath(path);
    if (why) throw new ArchiveError(why);
    if (isDir) return null;
    if (seen.has(path)) throw new ArchiveError(`entry "${path}" appears twice`);
    for (const s of seen) if (s.startsWith(`${path}/`) || path.startsWith(`${s}/`)) throw new ArchiveError(`"${path}" and "${s}" need one path to be both a file and a folder`);
    seen.add(path);
    if (seen.size > limits.maxFiles) throw new ArchiveError(`the archive has more than ${limits.maxFiles} files`);
    return path;
  };

  if (format === 'zip') {
    const zip = await new Promise<yauzl.ZipFile>((resolve, reject) => yauzl.fromBuffer(data, { lazyEntries: true, strictFileNames: true, validateEntrySizes: true }, (e, z) => (e ? reject(new ArchiveError(`the zip archive is malformed: ${e.message}`)) : resolve(z!))));
    await new Promise<void>((resolve, reject) => {
      const fail = (e: Error) => {
        zip.close();
        reject(e instanceof ArchiveError ? e : new ArchiveError(`the zip archive is malformed: ${e.message}`));
      };
      zip.on('error', fail);
      zip.on('end', resolve);
      zip.on('entry', (entry: yauzl.Entry) => {
        try {
          const isDir = entry.fileName.endsWith('/');
          // Unix mode in the upper half of the external attributes: only plain files and folders.
          const mode = (entry.externalFileAttributes >>> 16) & 0o170000;
          if (mode !== 0 && mode !== 0o100000 && mode !== 0o040000) throw new ArchiveError(`entry "${entry.fileName}" is a link or special file; only plain files and folders are allowed`);
          if (entry.isEncrypted()) throw new ArchiveError(`entry "${entry.fileName}" is encrypted`);
          const path = accept(entry.fileName, isDir);
          if (!path) return zip.readEntry();
          zip.openReadStream(entry, (e, stream) => {
            if (e || !stream) return fail(e ?? new Error('no stream'));
            const body = stream.pipe(counter(limits, total));
            stream.on('error', (err) => body.destroy(err));
            let size = 0;
            body.on('data', (c: Buffer) => (size += c.length));
            const tee = new PassThrough();
            body.pipe(tee);
            body.on('error', (err) => tee.destroy(err));
            onFile(path, tee)
              .then(() => {
                files.push({ path, size });
                zip.readEntry();
              })
              .catch(fail);
          });
        } catch (e) {
          fail(e as Error);
        }
      });
      zip.readEntry();
    });
    return files;
  }

  // tar and tar.gz: entries stream through the parser one after another.
  const work: Promise<void>[] = [];
  let failure: Error | null = null;
  const parser = new Parser({
    strict: true,
    onReadEntry: (entry: ReadEntry) => {
      if (failure) return entry.resume();
      try {
        const type = entry.type;
        if (type === 'Directory') {
          accept(entry.path, true);
          return entry.resume();
        }
        // Extended headers are the parser's business; anything else but a file is refused.
        if (type !== 'File' && type !== 'OldFile' && type !== 'ContiguousFile') throw new ArchiveError(`entry "${entry.path}" is a ${type === 'SymbolicLink' ? 'symbolic link' : type === 'Link' ? 'hard link' : type}; only plain files and folders are allowed`);
        const path = accept(entry.path, false);
        if (!path) return entry.resume();
        const body = entry.pipe(counter(limits, total));
        let size = 0;
        body.on('data', (c: Buffer) => (size += c.length));
        const tee = new PassThrough();
        body.pipe(tee);
        body.on('error', (err) => tee.destroy(err));
        work.push(
          onFile(path, tee).then(
            () => void files.push({ path, size }),
            (e: Error) => {
              failure ??= e;
              parser.abort(e);
            },
          ),
        );
      } catch (e) {
        failure = e as Error;
        entry.resume();
        parser.abort(e as Error);
      }
    },
  });
  const source = Readable.from([data]);
  try {
    // A gzip stream is also capped as it inflates (headers and padding take up to twice the bytes).
    if (format === 'tar.gz') await pipeline(source, createGunzip(), counter({ ...limits, maxBytes: limits.maxBytes * 2 }, { bytes: 0 }), parser);
    else await pipeline(source, parser);
  } catch (e) {
    throw failure ?? (e instanceof ArchiveError ? e : new ArchiveError(`the ${format} archive is malformed: ${(e as Error).message}`));
  }
  await Promise.all(work);
  const failed = failure as Error | null;
  if (failed) throw failed instanceof ArchiveError ? failed : new ArchiveError(failed.message);
  return files;
}

/** Lists an archive's files, reading (and so checking) every byte. */
export function listArchive(data: Buffer, limits: ArchiveLimits = DEFAULT_ARCHIVE_LIMITS): Promise<ArchiveFile[]> {
  return readArchive(data, limits, async (_path, content) => {
    for await (const _chunk of content) void _chunk;
  });
}

/**
 * Extracts an archive under `dest`, writing only plain files at checked paths, with folders the
 * sandbox user may read. The worker does this again even though the API checked the archive.
 */
export function extractArchive(data: Buffer, dest: string, limits: ArchiveLimits = DEFAULT_ARCHIVE_LIMITS): Promise<ArchiveFile[]> {
  return readArchive(data, limits, async (path, content) => {
    const target = join(dest, path);
    if (!target.startsWith(`${dest}/`)) throw new ArchiveError(`entry "${path}" leaves the project folder`);
    await mkdirOpen(dest, dirname(path));
    await pipeline(content, createWriteStream(target, { flags: 'wx', mode: 0o644 }));
  });
}

async function mkdirOpen(root: string, rel: string): Promise<void> {
  let path = root;
  for (const part of rel.split('/').filter((p) => p && p !== '.')) {
    path = join(path, part);
    await mkdir(path, { recursive: true });
    await chmod(path, 0o777);
  }
}

/** The folder of a project's top CMakeLists.txt: the archive's top, or its one top folder; else null. */
export function cmakeRoot(paths: string[]): string | null {
  // Archives listed before macOS metadata was skipped may still name it.
  const lists = paths.filter((p) => !isMacOSMetadata(p)).filter((p) => p === 'CMakeLists.txt' || /^[^/]+\/CMakeLists\.txt$/.test(p));
  if (lists.includes('CMakeLists.txt')) return '';
  return lists.length === 1 ? lists[0].slice(0, lists[0].lastIndexOf('/')) : null;
}

/** What Kiln collects from a CMake build: the files its targets produce. */
export const CMAKE_OUTPUTS = ['executable', 'static', 'shared', 'object'] as const;
