// Connects to PostgreSQL: a pg pool wrapped in Kysely. bigint columns come back as strings
// (pg's default), so ids that exceed 2^53 are never rounded.
import { Kysely, PostgresDialect, type SelectQueryBuilder } from 'kysely';
import pg from 'pg';
import { FerryError } from '../errors/catalog.js';
import type { Database } from './schema.js';

/** A database handle; `destroy` closes its pool. */
export type Db = Kysely<Database>;

/** Opens a pool on `url` and checks that it answers. */
export async function openDatabase(url: string, maxConnections = 10): Promise<Db> {
  const pool = new pg.Pool({ connectionString: url, max: maxConnections });
  // An idle client that loses its connection (database restart) must not crash the process.
  pool.on('error', () => undefined);
  try {
    const client = await pool.connect();
    client.release();
  } catch (err) {
    await pool.end();
    throw new FerryError(
      'CONNECTION_FAILED',
      `database ${redactUrl(url)}: ${(err as Error).message}`,
      { cause: err },
    );
  }
  return new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
}

/** A database URL with its password replaced, for messages and logs. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(unparseable database URL)';
  }
}

/** How many rows a query (filters only, no select yet) matches: the total beside a page. */
export async function countRows<TB extends keyof Database>(
  query: SelectQueryBuilder<Database, TB, object>,
): Promise<number> {
  const r = await query.select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow();
  return Number(r.n);
}

/**
 * A page of a query and the total it has without the page, read side by side. `order`
 * selects and orders (`(q) => q.selectAll().orderBy('id')`); the page is cut here.
 */
export async function pageWithTotal<TB extends keyof Database, O>(
  base: SelectQueryBuilder<Database, TB, object>,
  page: { offset: number; limit: number },
  order: (q: SelectQueryBuilder<Database, TB, object>) => SelectQueryBuilder<Database, TB, O>,
): Promise<{ rows: O[]; total: number }> {
  const [rows, total] = await Promise.all([
    order(base).offset(page.offset).limit(page.limit).execute(),
    countRows(base),
  ]);
  return { rows: rows as O[], total };
}
