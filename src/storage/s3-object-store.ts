import type { Readable } from 'node:stream';
import { Client } from 'minio';
import { assertKey, ObjectInfo, ObjectStore } from './object-store';

export interface S3Options {
  endPoint: string;
  port: number;
  useSSL: boolean;
  accessKey: string;
  secretKey: string;
  bucket: string;
  region: string;
  pathStyle: boolean;
  /** Where clients reach the store, for presigned links, when it differs from endPoint. */
  publicEndpoint?: { endPoint: string; port: number; useSSL: boolean } | null;
}

/** Objects in an S3 bucket (MinIO, AWS S3 or any S3 protocol server), through the minio client. */
export class S3ObjectStore implements ObjectStore {
  readonly driver = 's3' as const;
  private readonly client: Client;
  /** Signs download links for the address clients use; signing needs no request to the store. */
  private readonly signer: Client;
  private readonly bucket: string;
  private readonly region: string;

  constructor(options: S3Options) {
    this.client = new Client({
      endPoint: options.endPoint,
      port: options.port,
      useSSL: options.useSSL,
      accessKey: options.accessKey,
      secretKey: options.secretKey,
      region: options.region,
      pathStyle: options.pathStyle,
    });
    this.signer = options.publicEndpoint
      ? new Client({ ...options.publicEndpoint, accessKey: options.accessKey, secretKey: options.secretKey, region: options.region, pathStyle: options.pathStyle })
      : this.client;
    this.bucket = options.bucket;
    this.region = options.region;
  }

  async init(): Promise<void> {
    if (!(await this.client.bucketExists(this.bucket))) {
      try {
        await this.client.makeBucket(this.bucket, this.region);
      } catch (e) {
        // Another process may have created it between the check and the create.
        if (!(await this.client.bucketExists(this.bucket))) throw e;
      }
    }
  }

  async putFile(key: string, localPath: string, contentType: string): Promise<void> {
    assertKey(key);
    await this.client.fPutObject(this.bucket, key, localPath, { 'Content-Type': contentType });
  }

  async get(key: string, range?: { start: number; end: number }): Promise<Readable> {
    assertKey(key);
    return range ? this.client.getPartialObject(this.bucket, key, range.start, range.end - range.start + 1) : this.client.getObject(this.bucket, key);
  }

  async stat(key: string): Promise<ObjectInfo | null> {
    assertKey(key);
    try {
      const s = await this.client.statObject(this.bucket, key);
      return { size: s.size };
    } catch (e) {
      const code = (e as { code?: string }).code;
      if (code === 'NotFound' || code === 'NoSuchKey') return null;
      throw e;
    }
  }

  async delete(key: string): Promise<void> {
    assertKey(key);
    await this.client.removeObject(this.bucket, key);
  }

  async *list(prefix: string): AsyncIterable<{ key: string; size: number; modified: Date }> {
    const stream = this.client.listObjectsV2(this.bucket, prefix, true);
    for await (const o of stream as AsyncIterable<{ name?: string; size: number; lastModified: Date }>) {
      if (o.name) yield { key: o.name, size: o.size, modified: o.lastModified };
    }
  }

  async downloadUrl(key: string, ttlSeconds: number, filename: string): Promise<string> {
    assertKey(key);
    const safe = filename.replace(/[^A-Za-z0-9._-]/g, '_');
    return this.signer.presignedGetObject(this.bucket, key, ttlSeconds, {
      'response-content-disposition': `attachment; filename="${safe}"`,
    });
  }

  async ping(): Promise<void> {
    await this.client.bucketExists(this.bucket);
  }
}
