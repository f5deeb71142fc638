import 'reflect-metadata';
import { DataSource } from 'typeorm';
import { loadConfig } from '../src/config/config';
import { assertSchemaCurrent, dataSourceOptions } from '../src/database/data-source';
import { collectGarbage, databaseReferences } from '../src/storage/gc';
import { createObjectStore } from '../src/storage/storage.module';

/**
 * Deletes stored objects nothing refers to any more. One collection runs at a time (a second
 * one exits at once, saying so); it may run while builds and uploads are being recorded.
 *   npm run gc -- [--dry-run] [--min-age-hours N]   (default 24)
 */
async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const dryRun = args.includes('--dry-run');
  const i = args.indexOf('--min-age-hours');
  const hours = i >= 0 ? Number(args[i + 1]) : 24;
  if (!Number.isFinite(hours) || hours < 1) throw new Error('--min-age-hours must be at least 1 (younger objects may belong to builds being recorded)');
  const config = loadConfig();
  const db = await new DataSource(dataSourceOptions({ databaseUrl: config.databaseUrl })).initialize();
  try {
    await assertSchemaCurrent(db);
    const r = await collectGarbage(databaseReferences(db), createObjectStore(config), { minAgeMs: hours * 3600_000, dryRun, log: console.log });
    console.log(`${r.scanned} objects: ${r.kept} referenced, ${r.young} younger than ${hours} h, ${r.deleted} ${dryRun ? 'to delete' : 'deleted'} (${r.deletedBytes} bytes)`);
  } finally {
    await db.destroy();
  }
}

main().catch((e) => {
  console.error(`gc: ${(e as Error).message}`);
  process.exit(1);
});
