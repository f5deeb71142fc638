import 'reflect-metadata';
import { Command } from 'commander';
import { DataSource } from 'typeorm';
import { AuthService } from '../src/auth/auth.service';
import { Scope, SCOPES } from '../src/auth/scopes';
import { KilnConfig, loadConfig } from '../src/config/config';
import { assertSchemaCurrent, dataSourceOptions } from '../src/database/data-source';
import { ApiKey, Tenant } from '../src/database/entities';

/**
 * Operator tasks on tenants, which the API does not offer (an API key always belongs to one
 * tenant): make a tenant with its first key, set a tenant's own limits, list tenants.
 */
export class TenantAdmin {
  private constructor(
    private readonly ds: DataSource,
    private readonly auth: AuthService,
  ) {}

  static async open(config: KilnConfig): Promise<TenantAdmin> {
    const ds = await new DataSource(dataSourceOptions(config)).initialize();
    await assertSchemaCurrent(ds);
    return new TenantAdmin(ds, new AuthService(config, ds.getRepository(ApiKey), ds.getRepository(Tenant)));
  }

  close(): Promise<void> {
    return this.ds.destroy();
  }

  /** Makes the tenant if it does not exist, and a key for it; the key's secret is returned once. */
  async create(name: string, keyName: string, scopes: Scope[]): Promise<{ tenant: { id: string; name: string }; key: { id: string; name: string; scopes: Scope[]; secret: string } }> {
    if (!/^[a-z0-9][a-z0-9._-]{0,62}$/.test(name)) throw new Error(`tenant name "${name}": use 1 to 63 lower-case letters, digits and . _ - (starting with a letter or digit)`);
    const tenant = await this.auth.ensureTenant(name);
    const { key, secret } = await this.auth.createKey(tenant.id, keyName, scopes);
    return { tenant: { id: tenant.id, name: tenant.name }, key: { id: key.id, name: key.name, scopes: key.scopes, secret } };
  }

  /** Sets a tenant's own limits; null puts one back to the configured default. */
  async setQuota(name: string, q: { concurrentBuilds?: number | null; storageBytes?: number | null; uploadBytes?: number | null }): Promise<Tenant> {
    const tenant = await this.ds.getRepository(Tenant).findOneBy({ name });
    if (!tenant) throw new Error(`no tenant named "${name}"`);
    const columns = { quota_concurrent_builds: q.concurrentBuilds, quota_storage_bytes: q.storageBytes, quota_upload_bytes: q.uploadBytes };
    const set = Object.entries(columns).filter(([, v]) => v !== undefined);
    if (set.length) {
      await this.ds.query(`UPDATE tenants SET ${set.map(([c], i) => `${c} = $${i + 2}`).join(', ')} WHERE id = $1`, [tenant.id, ...set.map(([, v]) => v)]);
    }
    return this.ds.getRepository(Tenant).findOneByOrFail({ id: tenant.id });
  }

  list(): Promise<Tenant[]> {
    return this.ds.getRepository(Tenant).find({ order: { name: 'ASC' } });
  }
}

/** Commander turns a parser's null into "", so "default" travels as -1 until setQuota's caller. */
const DEFAULT = -1;

function limit(flag: string, min: number): (v: string) => number {
  return (v) => {
    if (v === 'default') return DEFAULT;
    if (!/^\d+$/.test(v) || Number(v) < min) throw new Error(`${flag}: expected a whole number of at least ${min}, or "default", got "${v}"`);
    return Number(v);
  };
}

function parseScopes(v: string): Scope[] {
  const scopes = v.split(',').map((s) => s.trim()).filter(Boolean);
  const bad = scopes.filter((s) => !(SCOPES as readonly string[]).includes(s));
  if (bad.length || scopes.length === 0) throw new Error(`--scopes: use a comma-separated list of ${SCOPES.join(', ')}`);
  return scopes as Scope[];
}

async function main(argv: string[]): Promise<void> {
  const program = new Command('tenant').description('Manage Kiln tenants (reads KILN_DATABASE_URL)');
  const withAdmin = async (fn: (admin: TenantAdmin) => Promise<unknown>) => {
    const admin = await TenantAdmin.open(loadConfig());
    try {
      console.log(JSON.stringify(await fn(admin), null, 2));
    } finally {
      await admin.close();
    }
  };
  program
    .command('create <name>')
    .description('Make a tenant (if missing) and an API key for it; prints the key once')
    .option('--key-name <name>', 'the key\'s name', 'admin')
    .option('--scopes <list>', `comma-separated: ${SCOPES.join(', ')}`, parseScopes, ['read', 'build', 'admin'] as Scope[])
    .action((name: string, o: { keyName: string; scopes: Scope[] }) => withAdmin((a) => a.create(name, o.keyName, o.scopes)));
  program
    .command('quota <name>')
    .description('Set a tenant\'s own limits ("default" goes back to KILN_QUOTA_*; 0: no limit)')
    .option('--concurrent-builds <n>', 'builds queued or running at once', limit('--concurrent-builds', 0))
    .option('--storage-bytes <n>', 'bytes of uploads and artifacts', limit('--storage-bytes', 0))
    .option('--upload-bytes <n>', 'bytes of one upload (at most KILN_MAX_UPLOAD_BYTES)', limit('--upload-bytes', 1))
    .action((name: string, o: { concurrentBuilds?: number; storageBytes?: number; uploadBytes?: number }) => {
      const value = (v: number | undefined) => (v === DEFAULT ? null : v);
      return withAdmin((a) => a.setQuota(name, { concurrentBuilds: value(o.concurrentBuilds), storageBytes: value(o.storageBytes), uploadBytes: value(o.uploadBytes) }));
    });
  program.command('list').description('List tenants and their own limits').action(() => withAdmin((a) => a.list()));
  await program.parseAsync(argv);
}

if (require.main === module) {
  main(process.argv).catch((e) => {
    console.error(`tenant: ${(e as Error).message}`);
    process.exit(1);
  });
}
