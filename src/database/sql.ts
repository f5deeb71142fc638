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
