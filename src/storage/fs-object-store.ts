import { randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { copyFile, mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import { assertKey, ObjectInfo, ObjectStore } from './object-store';

/** Objects as files under one directory: the embedded default for a single machine. */
export class FsObjectStore implements ObjectStore {
  readonly driver = 'fs' as const;

  constructor(private readonly root: string) {}

  private path(key: string): string {
    assertKey(key);
    return join(this.root, key);
  }

  async init(): Promise<void> {
    await mkdir(join(this.root, '.tmp'), { recursive: true });
  }

  async putFile(key: string, localPath: string): Promise<void> {
    const target = this.path(key);
    await mkdir(dirname(target), { recursive: true });
    // Copy then rename, so a reader never sees a half-written object.
    const tmp = join(this.root, '.tmp', randomUUID());
    try {
      await copyFile(localPath, tmp);
      await rename(tmp, target);
    } catch (e) {
      await rm(tmp, { force: true });
      throw e;
    }
  }

  async get(key: string, range?: { start: number; end: number }): Promise<Readable> {
    const p = this.path(key);
    await stat(p);
    return createReadStream(p, range ? { start: range.start, end: range.end } : {});
  }

  async stat(key: string): Promise<ObjectInfo | null> {
    try {
      const s = await stat(this.path(key));
      return { size: s.size };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw e;
    }
  }

  async delete(key: string): Promise<void> {
    await rm(this.path(key), { force: true });
  }

  async *list(prefix: string): AsyncIterable<{ key: string; size: number; modified: Date }> {
    const walk = async function* (dir: string, rel: string): AsyncGenerator<{ key: string; size: number; modified: Date }> {
      let entries;
      try {
        entries = await readdir(dir, { withFileTypes: true });
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
        throw e;
      }
      for (const e of entries) {
        const key = rel ? `${rel}/${e.name}` : e.name;
        if (e.isDirectory()) yield* walk(join(dir, e.name), key);
        else if (e.isFile()) {
          const s = await stat(join(dir, e.name));
          yield { key, size: s.size, modified: s.mtime };
        }
      }
    };
    const base = prefix.replace(/\/+$/, '');
    yield* walk(join(this.root, base), base);
  }

  async downloadUrl(): Promise<string | null> {
    return null;
  }

  async ping(): Promise<void> {
    await stat(this.root);
  }
}
