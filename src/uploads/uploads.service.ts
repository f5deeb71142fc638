import { createHash, randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Transform } from 'node:stream';
import { BadRequestException, ConflictException, Inject, Injectable, Logger, NotFoundException, PayloadTooLargeException } from '@nestjs/common';
import { InjectDataSource, InjectRepository } from '@nestjs/typeorm';
import { DataSource, Repository } from 'typeorm';
import { UUID_RE } from '../jobs/jobs.service';
import type { Caller } from '../auth/auth.service';
import { KILN_CONFIG, KilnConfig } from '../config/config';
import { Upload } from '../database/entities';
import { OBJECT_STORE, objectKeys, ObjectStore } from '../storage/object-store';
import { QuotasService } from '../quotas/quotas.service';
import { deleteUnreferenced, recordReferences } from '../storage/references';
import { cursorTime, decodeCursor, encodeCursor } from '../common/cursor';

const FILENAME_RE = /^[A-Za-z0-9][A-Za-z0-9._+-]{0,254}$/;

/**
 * Where a job's stored input (jobs.source, jobs.model, jobs.verify) names an upload, as JSON
 * paths over {source, model, verify}: the places jobUploadIds() reads in jobs.service.ts.
 */
export const JOB_UPLOAD_PATHS = [
  '$.source.files[*].uploadId ? (@ == $id)',
  '$.source.archive.uploadId ? (@ == $id)',
  '$.model.uploadId ? (@ == $id)',
  '$.verify.args[*].input.uploadId ? (@ == $id)',
  '$.verify.args[*].expected.uploadId ? (@ == $id)',
  '$.verify.reference.files[*].uploadId ? (@ == $id)',
];

class TooLarge extends Error {}

@Injectable()
export class UploadsService {
  private readonly logger = new Logger(UploadsService.name);

  constructor(
    @Inject(KILN_CONFIG) private readonly config: KilnConfig,
    @Inject(OBJECT_STORE) private readonly store: ObjectStore,
    @InjectRepository(Upload) private readonly uploads: Repository<Upload>,
    @InjectDataSource() private readonly db: DataSource,
    private readonly quotas: QuotasService,
  ) {}

  checkFilename(filename: string | undefined): string {
    if (!filename) throw new BadRequestException('name the file with ?filename=<name> (for example ?filename=project.tar)');
    if (!FILENAME_RE.test(filename)) {
      throw new BadRequestException(`filename "${filename}" must be a plain file name: letters, digits and . _ + -, no folders`);
    }
    return filename;
  }

  /**
   * Streams the body to a temporary file while hashing and counting it, refusing it as soon as
   * it passes the limit; only a complete upload reaches the object store and the database.
   */
  async create(caller: Caller, body: Readable, filename: string, contentType: string, declaredLength: number | null): Promise<Upload> {
    // The upload limit (the server's, or the tenant's lower one), or the storage quota left.
    const { maxBytes: limit, tooLarge } = await this.quotas.uploadAllowance(caller.tenantId);
    if (declaredLength !== null && declaredLength > limit) {
      body.resume();
      throw new PayloadTooLargeException(tooLarge(declaredLength));
    }
    const id = randomUUID();
    const dir = join(tmpdir(), 'kiln-uploads');
    await mkdir(dir, { recursive: true });
    const tmp = join(dir, id);
    const hash = createHash('sha256');
    let size = 0;
    const meter = new Transform({
      transform(chunk: Buffer, _enc, done) {
        size += chunk.length;
        if (size > limit) return done(new TooLarge());
        hash.update(chunk);
        done(null, chunk);
      },
    });
    const key = objectKeys.upload(caller.tenantId, id);
    let stored = false;
    try {
      await pipeline(body, meter, createWriteStream(tmp));
      if (size === 0) throw new BadRequestException('the upload is empty');
      await this.store.putFile(key, tmp, contentType);
      stored = true;
      const sha256 = hash.digest('hex');
      return await recordReferences(this.db, this.store, [{ key, localPath: tmp, contentType, size }], async (tx) => {
        await this.quotas.reserveStorage(tx, caller.tenantId, size);
        return tx.getRepository(Upload).save(tx.getRepository(Upload).create({ id, tenantId: caller.tenantId, filename, contentType, size, sha256, storageKey: key }));
      });
    } catch (e) {
      if (stored) await this.store.delete(key).catch(() => undefined);
      if (e instanceof TooLarge) {
        body.resume();
        throw new PayloadTooLargeException(tooLarge(null));
      }
      throw e;
    } finally {
      await rm(tmp, { force: true });
    }
  }

  /**
   * Deletes an upload: its row, and its stored object unless another row refers to it. Refused
   * (409) while a job whose builds have not finished names it: a worker still has to read it.
   * The upload's row is locked first, and a job being created locks the rows of the uploads it
   * names, so one of the two waits for the other and sees what it did.
   */
  async delete(caller: Caller, id: string): Promise<void> {
    if (!UUID_RE.test(id)) throw new NotFoundException(`no upload with id ${id}`);
    const key = await this.db.transaction(async (tx) => {
      const [upload]: { storage_key: string }[] = await tx.query(`SELECT storage_key FROM uploads WHERE id = $1 AND tenant_id = $2 FOR UPDATE`, [id, caller.tenantId]);
      if (!upload) throw new NotFoundException(`no upload with id ${id}`);
      const users: { id: string }[] = await tx.query(
        `SELECT j.id FROM jobs j
          WHERE j.id IN (SELECT job_id FROM builds WHERE tenant_id = $2 AND status NOT IN ('succeeded','failed','canceled'))
            AND j.tenant_id = $2
            AND EXISTS (SELECT 1 FROM unnest($3::jsonpath[]) AS p
                         WHERE jsonb_path_exists(jsonb_build_object('source', j.source, 'model', j.model, 'verify', j.verify), p, jsonb_build_object('id', $1::text)))
          ORDER BY j.created_at LIMIT 5`,
        [id, caller.tenantId, JOB_UPLOAD_PATHS],
      );
      if (users.length) {
        const jobs = users.map((u) => u.id).join(', ');
        throw new ConflictException(
          `upload ${id} is still needed by job${users.length > 1 ? 's' : ''} ${jobs}, whose builds have not finished; delete the upload once they have finished, or cancel ${users.length > 1 ? 'them' : 'it'} first (DELETE /v1/jobs/{id})`,
        );
      }
      await tx.query(`DELETE FROM uploads WHERE id = $1`, [id]);
      return upload.storage_key;
    });
    // After the commit: what a failure here leaves in the store, the garbage collector takes.
    await deleteUnreferenced(this.db, this.store, [key]).catch((e) => this.logger.warn(`upload ${id}: its stored object ${key} was not deleted (${(e as Error).message}); npm run gc will`));
  }

  /** The tenant's uploads, newest first, a page at a time. */
  async list(caller: Caller, opts: { limit: number; cursor?: string }): Promise<{ items: Upload[]; nextCursor: string | null }> {
    const cursor = opts.cursor ? decodeCursor(opts.cursor) : null;
    const rows: (Upload & { createdAtText: string })[] = await this.uploads
      .createQueryBuilder('u')
      .addSelect(cursorTime('u.created_at'), 'created_at_text')
      .where('u.tenant_id = :tenant', { tenant: caller.tenantId })
      .andWhere(cursor ? '(u.created_at, u.id) < (CAST(:at AS timestamptz), CAST(:id AS uuid))' : 'TRUE', cursor ? { at: cursor.createdAt, id: cursor.id } : {})
      .orderBy('u.created_at', 'DESC')
      .addOrderBy('u.id', 'DESC')
      .limit(opts.limit + 1)
      .getRawAndEntities()
      .then(({ raw, entities }) => entities.map((e, i) => Object.assign(e, { createdAtText: (raw[i] as { created_at_text: string }).created_at_text })));
    const page = rows.slice(0, opts.limit);
    const last = page[page.length - 1];
    return { items: page, nextCursor: rows.length > opts.limit && last ? encodeCursor({ createdAt: last.createdAtText, id: last.id }) : null };
  }

  async get(caller: Caller, id: string): Promise<Upload> {
    const u = UUID_RE.test(id) ? await this.uploads.findOneBy({ id, tenantId: caller.tenantId }) : null;
    if (!u) throw new NotFoundException(`no upload with id ${id}`);
    return u;
  }
}
