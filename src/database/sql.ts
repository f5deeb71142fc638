import { createHash } from 'node:crypto';
import type { EntityManager, EntityMetadata } from 'typeorm';

/**
 * Runs an UPDATE/DELETE ... RETURNING and gives back the returned rows. (TypeORM's postgres
 * driver answers such statements with [rows, rowCount] rather than the rows alone.)
 */
export async function returning<T>(em: Pick<EntityManager, 'query'>, sql: string, params: unknown[]): Promise<T[]> {
  const result: unknown = await em.query(sql, params);
  if (Array.isArray(result) && result.length === 2 && Array.isArray(result[0]) && typeof result[1] === 'number') {
    return result[0] as T[];
  }
  return result as T[];
}

type JsonColumn = [databaseName: string, propertyName: string, convert: ((v: unknown) => unknown) | null];
const jsonColumns = new WeakMap<EntityMetadata, JsonColumn[]>();

/**
 * An entity from a row that PostgreSQL sent as JSON (row_to_json, json_agg), as TypeORM would
 * have loaded it: columns renamed to their properties, timestamps as Dates, bigints as strings,
 * transformers applied. One query can then bring a row with all its children.
 */
export function entityFromJson<T>(meta: EntityMetadata, row: Record<string, unknown>): T {
  let columns = jsonColumns.get(meta);
  if (!columns) {
    columns = meta.columns.map((c): JsonColumn => {
      const transformer = Array.isArray(c.transformer) ? null : c.transformer;
      if (transformer) return [c.databaseName, c.propertyName, (v) => transformer.from(v)];
      if (c.type === 'timestamptz' || c.type === 'timestamp' || c.type === Date) return [c.databaseName, c.propertyName, (v) => (v === null ? null : new Date(v as string))];
      if (c.type === 'bigint') return [c.databaseName, c.propertyName, (v) => (v === null ? null : String(v))];
      return [c.databaseName, c.propertyName, null];
    });
    jsonColumns.set(meta, columns);
  }
  const entity: Record<string, unknown> = {};
  for (const [db, prop, convert] of columns) {
    const v = row[db] ?? null;
    entity[prop] = convert ? convert(v) : v;
  }
  return entity as T;
}

/**
 * A fixed statement that PostgreSQL parses and plans once per connection (a named prepared
 * statement) instead of on every run. For the statements every request or build runs: parsing
 * and planning them costs PostgreSQL several times what running them does (a job's one-query
 * read took about 1 ms of its CPU each time, 0.3 ms prepared). Only for text that never varies:
 * each distinct text is kept prepared on every connection of the pool.
 */
export interface PreparedStatement {
  readonly name: string;
  readonly text: string;
}

export function prepared(text: string): PreparedStatement {
  return { name: `kiln_${createHash('sha256').update(text).digest('hex').slice(0, 24)}`, text };
}

/**
 * Runs a prepared statement and gives back its rows (also for UPDATE/DELETE ... RETURNING).
 * TypeORM hands the query to node-postgres as it is, and node-postgres takes a {name, text}
 * query: it prepares the statement on the connection the first time and reuses it after.
 */
export async function run<T>(em: Pick<EntityManager, 'query'>, statement: PreparedStatement, params: unknown[]): Promise<T[]> {
  const query = { name: statement.name, text: statement.text } as unknown as string;
  const result: unknown = await em.query(query, params);
  if (Array.isArray(result) && result.length === 2 && Array.isArray(result[0]) && typeof result[1] === 'number') {
    return result[0] as T[];
  }
  return result as T[];
}
