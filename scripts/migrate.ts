import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { loadConfig } from '../src/config/config';
import { dataSourceOptions } from '../src/database/data-source';

/** Creates the database if it does not exist yet (local set-up), then runs pending migrations. */
export async function migrate(databaseUrl: string, log: (m: string) => void = console.log): Promise<void> {
  const url = new URL(databaseUrl);
  const dbName = decodeURIComponent(url.pathname.slice(1));
  const admin = new URL(databaseUrl);
  admin.pathname = '/postgres';
  const client = new Client({ connectionString: admin.toString() });
  await client.connect();
  try {
    const exists = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [dbName]);
    if (exists.rowCount === 0) {
      await client.query(`CREATE DATABASE "${dbName.replace(/"/g, '""')}"`);
      log(`created database ${dbName}`);
    }
  } finally {
    await client.end();
  }
  const ds = await new DataSource(dataSourceOptions({ databaseUrl })).initialize();
  try {
    const ran = await ds.runMigrations({ transaction: 'each' });
    log(ran.length ? `applied ${ran.map((m) => m.name).join(', ')}` : 'schema is up to date');
  } finally {
    await ds.destroy();
  }
}

if (require.main === module) {
  migrate(loadConfig().databaseUrl).catch((e) => {
    console.error(`migrate: ${(e as Error).message}`);
    process.exit(1);
  });
}
