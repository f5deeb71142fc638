import { lstat, realpath } from 'node:fs/promises';
import { dirname, relative, isAbsolute } from 'node:path';

/**
 * A file that sandboxed code wrote, checked before the worker (which may run as root) reads it:
 * it must be a regular file, not a link, in a folder that really is inside the work folder.
 * Sandboxed processes are gone by the time this runs, so nothing can swap it afterwards.
 */
export async function assertProducedFile(path: string, root: string, maxBytes = Number.MAX_SAFE_INTEGER): Promise<number> {
  const st = await lstat(path).catch(() => null);
  if (!st) throw new ProducedFileError(`${relative(root, path)} was not produced`);
  if (st.isSymbolicLink() || !st.isFile()) throw new ProducedFileError(`${relative(root, path)} is not a regular file`);
  const realRoot = await realpath(root);
  const realDir = await realpath(dirname(path));
  const rel = relative(realRoot, realDir);
  if (rel.startsWith('..') || isAbsolute(rel)) throw new ProducedFileError(`${relative(root, path)} is outside the work folder`);
  if (st.size > maxBytes) throw new ProducedFileError(`${relative(root, path)} is ${st.size} bytes, over the limit of ${maxBytes}`);
  return st.size;
}

export class ProducedFileError extends Error {}
