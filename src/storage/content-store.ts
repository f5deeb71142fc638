import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { Inject, Injectable } from '@nestjs/common';
import { OBJECT_STORE, objectKeys, ObjectStore } from './object-store';

export async function sha256File(path: string): Promise<{ sha256: string; size: number }> {
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
