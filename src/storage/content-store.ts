import { createHash } from 'node:crypto';
import { createReadStream, readFileSync, statSync } from 'node:fs';
import { Inject, Injectable } from '@nestjs/common';
import { OBJECT_STORE, objectKeys, ObjectStore } from './object-store';

/** Files up to this size are hashed from one read. */
const SMALL_FILE_BYTES = 1024 * 1024;

export async function sha256File(path: string): Promise<{ sha256: string; size: number }> {
  // Most artifacts are small: read at once, synchronously (a round trip through the thread pool
  // per open, read and close costs more than the reading). Larger ones are streamed.
  if (statSync(path).size <= SMALL_FILE_BYTES) {
    const bytes = readFileSync(path);
    return { sha256: createHash('sha256').update(bytes).digest('hex'), size: bytes.length };
  }
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of createReadStream(path)) {
    hash.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { sha256: hash.digest('hex'), size };
}

/** Content-addressed storage on top of the object store: the key is the sha256 of the bytes. */
@Injectable()
export class ContentStore {
  constructor(@Inject(OBJECT_STORE) private readonly store: ObjectStore) {}

  /** Stores a local file by its hash (once: an object with the same hash is already the same bytes). */
  async putFile(localPath: string, contentType: string): Promise<{ key: string; sha256: string; size: number }> {
    const { sha256, size } = await sha256File(localPath);
    const key = objectKeys.content(sha256);
    const existing = await this.store.stat(key);
    if (!existing || existing.size !== size) await this.store.putFile(key, localPath, contentType);
    return { key, sha256, size };
  }
}
