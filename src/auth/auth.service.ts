import { createHash, randomBytes } from 'node:crypto';
import { Inject, Injectable, Logger, NotFoundException, OnApplicationBootstrap, Optional } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { IsNull, Repository } from 'typeorm';
import { KILN_CONFIG, KilnConfig } from '../config/config';
import { ApiKey, Tenant } from '../database/entities';
import { prepared, run } from '../database/sql';
import { ApiKeyCache } from './api-key-cache';
import { ALL_SCOPES, Scope } from './scopes';

export interface Caller {
  tenantId: string;
  tenantName: string;
  keyId: string;
  scopes: Scope[];
}

/** API keys are 32 random bytes, so a plain sha256 is a safe one-way hash for them. */
export function hashApiKey(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex');
}

export const DEFAULT_TENANT = 'default';

const AUTHENTICATE = prepared(
  `SELECT k.id AS key_id, k.tenant_id, t.name AS tenant_name, k.scopes
     FROM api_keys k JOIN tenants t ON t.id = k.tenant_id
    WHERE k.key_hash = $1 AND k.revoked_at IS NULL`,
);

@Injectable()
export class AuthService implements OnApplicationBootstrap {
  private readonly logger = new Logger(AuthService.name);

  constructor(
    @Inject(KILN_CONFIG) private readonly config: KilnConfig,
    @InjectRepository(ApiKey) private readonly keys: Repository<ApiKey>,
    @InjectRepository(Tenant) private readonly tenants: Repository<Tenant>,
    /** The API's memory of valid keys; none in tools that only manage keys. */
    @Optional() private readonly cache?: ApiKeyCache,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    if (!this.config.bootstrapApiKey) return;
    const tenant = await this.ensureTenant(DEFAULT_TENANT);
    const hash = hashApiKey(this.config.bootstrapApiKey);
    await this.keys
      .createQueryBuilder()
      .insert()
      .values({ tenantId: tenant.id, name: 'bootstrap', prefix: 'bootstrap', keyHash: hash, scopes: ALL_SCOPES })
      .orIgnore()
      .execute();
    // A changed KILN_BOOTSTRAP_API_KEY replaces the previous one rather than adding to it.
    await this.keys
      .createQueryBuilder()
      .update()
      .set({ revokedAt: () => 'now()' })
      .where('tenant_id = :t AND name = :n AND key_hash <> :h AND revoked_at IS NULL', { t: tenant.id, n: 'bootstrap', h: hash })
      .execute();
    this.logger.log(`bootstrap API key enabled for tenant "${tenant.name}"`);
  }

  async ensureTenant(name: string): Promise<Tenant> {
    await this.tenants.createQueryBuilder().insert().values({ name }).orIgnore().execute();
    return this.tenants.findOneByOrFail({ name });
  }

  async authenticate(secret: string): Promise<Caller | null> {
    // Every request comes here: a key seen a moment ago is answered from memory (ApiKeyCache,
    // which a revocation empties), else by a prepared statement.
    const hash = hashApiKey(secret);
    const known = this.cache?.get(hash);
    if (known) return known;
    const ticket = this.cache?.ticket() ?? null;
    const [row] = await run<{ key_id: string; tenant_id: string; tenant_name: string; scopes: Scope[] }>(this.keys.manager, AUTHENTICATE, [hash]);
    if (!row) return null;
    const caller = { keyId: row.key_id, tenantId: row.tenant_id, tenantName: row.tenant_name, scopes: row.scopes };
    this.cache?.remember(ticket, hash, caller);
    return caller;
  }

  /** Creates a key and returns its secret; the secret is not stored and cannot be shown again. */
  async createKey(tenantId: string, name: string, scopes: Scope[] = ['read', 'build']): Promise<{ key: ApiKey; secret: string }> {
    const secret = `kiln_${randomBytes(32).toString('base64url')}`;
    const key = await this.keys.save(
      this.keys.create({ tenantId, name, prefix: secret.slice(0, 12), keyHash: hashApiKey(secret), scopes: [...new Set(scopes)] }),
    );
    return { key, secret };
  }

  listKeys(tenantId: string): Promise<ApiKey[]> {
    return this.keys.find({ where: { tenantId, revokedAt: IsNull() }, order: { createdAt: 'ASC' } });
  }

  async revokeKey(tenantId: string, id: string): Promise<void> {
    const res = await this.keys.update({ id, tenantId, revokedAt: IsNull() }, { revokedAt: new Date() });
    // The notification empties every API's cache; this one's is emptied now, before the answer.
    this.cache?.clear();
    if (!res.affected) throw new NotFoundException(`no API key with id ${id}`);
  }
}
