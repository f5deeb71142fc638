import { closeSync, constants, fchmodSync, lstatSync, mkdirSync, openSync, readdirSync, rmSync, unlinkSync, writeSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join, posix } from 'node:path';

/**
 * The worker's only way into a folder where sandboxed code has run (a build's work folder, a
 * verification run's output folder). Whatever such code left behind is data: a path is walked
 * beneath its root one component at a time, and a symbolic link, a device, a FIFO or anything but
 * a folder (on the way) or a regular file (at the end) is refused, never followed. Files are
 * opened with O_NOFOLLOW and checked again on the open descriptor.
 *
 * The walk and the open cannot race with the sandboxed code: a sandboxed run's processes are all
 * gone when the worker looks (bubblewrap's PID namespace ends with its first process, and the
 * run's cgroup is emptied), and nothing else writes there.
 */
export class ProducedFileError extends Error {}

const { O_RDONLY, O_WRONLY, O_CREAT, O_EXCL, O_NOFOLLOW, O_NONBLOCK } = constants;

/** The components of a path relative to a root: no absolute paths, no `..`, no empty names. */
function components(rel: string): string[] {
  if (rel.startsWith('/')) throw new ProducedFileError(`${rel} is not a path inside the folder`);
  const parts = rel.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.length === 0 || parts.some((p) => p === '..')) throw new ProducedFileError(`${rel} is not a path inside the folder`);
  return parts;
}

/**
 * The folder that holds `rel`'s last component, walked from root without following links: each
 * component on the way must be a real folder (made, with `mode`, when `create` and missing).
 */
function parentOf(root: string, rel: string, create: { mode: number } | null): { dir: string; name: string; shown: string } {
  const parts = components(rel);
  let dir = root;
  for (const part of parts.slice(0, -1)) {
    dir = join(dir, part);
    const st = lstatSync(dir, { throwIfNoEntry: false });
    if (!st) {
      if (!create) throw new ProducedFileError(`${rel} was not produced`);
      mkdirSync(dir, { mode: create.mode });
      continue;
    }
    if (!st.isDirectory()) throw new ProducedFileError(`${posix.join(...parts.slice(0, parts.indexOf(part) + 1))} (on the way to ${rel}) is ${st.isSymbolicLink() ? 'a link' : 'not a folder'}`);
  }
  return { dir, name: parts[parts.length - 1], shown: parts.join('/') };
}

/**
 * Makes the folders of `rel` below root (each a real folder, never a link), with `mode` set on
 * each (so that the sandbox user, when it is another user, may write there).
 */
export function mkdirBeneath(root: string, rel: string, mode = 0o777): string {
  let dir = root;
  for (const part of components(rel)) {
    dir = join(dir, part);
    const st = lstatSync(dir, { throwIfNoEntry: false });
    if (st && !st.isDirectory()) throw new ProducedFileError(`${rel} is ${st.isSymbolicLink() ? 'a link' : 'not a folder'}`);
    if (!st) mkdirSync(dir, { mode });
    // chmod through a descriptor of the folder itself (O_NOFOLLOW: a link would fail to open).
    const fd = openSync(dir, O_RDONLY | O_NOFOLLOW | constants.O_DIRECTORY);
    try {
      fchmodSync(fd, mode);
    } finally {
      closeSync(fd);
    }
  }
  return dir;
}

/**
 * Writes a new file at `rel` below root: folders on the way are made (never followed when they
 * are links), whatever the name held is removed (a file or a link, not a folder), and the file is
 * created exclusively, without following links.
 */
export function writeBeneath(root: string, rel: string, data: string | Uint8Array, opts: { mode?: number; dirMode?: number } = {}): string {
  const { dir, name, shown } = parentOf(root, rel, { mode: opts.dirMode ?? 0o755 });
  const path = join(dir, name);
  const st = lstatSync(path, { throwIfNoEntry: false });
  if (st?.isDirectory()) throw new ProducedFileError(`${shown} is a folder`);
  if (st) unlinkSync(path);
  const fd = openSync(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, opts.mode ?? 0o644);
  try {
    const bytes = typeof data === 'string' ? Buffer.from(data) : data;
    for (let off = 0; off < bytes.length; ) off += writeSync(fd, bytes, off, bytes.length - off);
    if (opts.mode !== undefined) fchmodSync(fd, opts.mode);
  } finally {
    closeSync(fd);
  }
  return path;
}

/**
 * Opens a file that sandboxed code produced at `rel` below root, for reading: a regular file,
 * reached through real folders only, of at most maxBytes.
 */
export async function openProduced(root: string, rel: string, maxBytes = Number.MAX_SAFE_INTEGER) {
  const { dir, name, shown } = parentOf(root, rel, null);
  const path = join(dir, name);
  const st = lstatSync(path, { throwIfNoEntry: false });
  if (!st) throw new ProducedFileError(`${shown} was not produced`);
  if (!st.isFile()) throw new ProducedFileError(`${shown} is ${st.isSymbolicLink() ? 'a link' : 'not a regular file'}`);
  // O_NONBLOCK: a FIFO put there since would not hang the open (and fails the checks below).
  const fh = await open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK).catch((e: NodeJS.ErrnoException) => {
    throw new ProducedFileError(`${shown} could not be opened (${e.code ?? e.message})`);
  });
  const fst = await fh.stat();
  if (!fst.isFile() || fst.ino !== st.ino || fst.dev !== st.dev) {
    await fh.close();
    throw new ProducedFileError(`${shown} changed while it was read`);
  }
  if (fst.size > maxBytes) {
    await fh.close();
    throw new ProducedFileError(`${shown} is ${fst.size} bytes, over the limit of ${maxBytes}`);
  }
  return { fh, size: fst.size, mode: fst.mode };
}

/** The bytes of a produced file (see openProduced). */
export async function readProduced(root: string, rel: string, maxBytes = 1024 ** 3): Promise<Buffer> {
  const { fh, size } = await openProduced(root, rel, maxBytes);
  try {
    const out = Buffer.alloc(size);
    let off = 0;
    while (off < size) {
      const { bytesRead } = await fh.read(out, off, size - off, off);
      if (bytesRead === 0) break;
      off += bytesRead;
    }
    return off === size ? out : out.subarray(0, off);
  } finally {
    await fh.close();
  }
}

/**
 * Copies a produced file out of the sandbox's folder into a folder no sandboxed code can write
 * (`dest` must not exist). Returns its size. The copy keeps the execute bits.
 */
export async function copyProduced(root: string, rel: string, dest: string, maxBytes = Number.MAX_SAFE_INTEGER): Promise<number> {
  const { fh, size, mode } = await openProduced(root, rel, maxBytes);
  const out = await open(dest, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, mode & 0o755);
  try {
    const buf = Buffer.alloc(Math.min(Math.max(size, 1), 1024 * 1024));
    let copied = 0;
    while (copied < size) {
      const { bytesRead } = await fh.read(buf, 0, Math.min(buf.length, size - copied), copied);
      if (bytesRead === 0) break;
      await out.write(buf, 0, bytesRead);
      copied += bytesRead;
    }
    return copied;
  } finally {
    await out.close();
    await fh.close();
  }
}

/** Whether `rel` below root names a regular file (not a link), reached through real folders. */
export function isProducedFile(root: string, rel: string): boolean {
  try {
    const { dir, name } = parentOf(root, rel, null);
    return lstatSync(join(dir, name), { throwIfNoEntry: false })?.isFile() ?? false;
  } catch {
    return false;
  }
}

/**
 * Removes a folder where sandboxed code ran. Code running as the worker's own user can leave
 * folders without write permission, which a plain recursive removal cannot empty: those are made
 * writable (through descriptors, never following links) and the removal tried again.
 */
export function removeTree(path: string): void {
  try {
    rmSync(path, { recursive: true, force: true });
    return;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EACCES' && (e as NodeJS.ErrnoException).code !== 'EPERM') throw e;
  }
  const open = (dir: string) => {
    const fd = openSync(dir, O_RDONLY | O_NOFOLLOW | constants.O_DIRECTORY);
    try {
      fchmodSync(fd, 0o700);
    } finally {
      closeSync(fd);
    }
    for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) open(join(dir, e.name));
  };
  open(path);
  rmSync(path, { recursive: true, force: true });
}
