// Runs the numbered migrations in migrations/ that the database has not seen, in order, each
// in its own transaction, under an advisory lock so that processes starting together on one
// database do not race.
import { sql } from 'kysely';
import type { Db } from './database.js';
import * as m0001 from './migrations/0001-iam-and-sync.js';
import * as m0002 from './migrations/0002-engine.js';
import * as m0003 from './migrations/0003-replication.js';
import * as m0004 from './migrations/0004-inventory.js';
import * as m0005 from './migrations/0005-inventory-indexes.js';
import * as m0006 from './migrations/0006-inventory-generations.js';

interface Migration {
  version: number;
  name: string;
  up: string;
}

/** Every migration, in order. A new one is a new numbered file added here. */
export const MIGRATIONS: readonly Migration[] = [
  { version: 1, ...m0001 },
  { version: 2, ...m0002 },
  { version: 3, ...m0003 },
  { version: 4, ...m0004 },
  { version: 5, ...m0005 },
  { version: 6, ...m0006 },
];

// An arbitrary constant naming Ferry's migration lock (pg advisory locks take a bigint).
const LOCK_ID = 0x46657272;

/** Applies pending migrations; returns the versions applied now. */
export async function migrate(db: Db): Promise<number[]> {
  return db.connection().execute(async (conn) => {
    await sql`SELECT pg_advisory_lock(${LOCK_ID})`.execute(conn);
    try {
      await sql`CREATE TABLE IF NOT EXISTS ferry_migrations (
        version integer PRIMARY KEY,
        name text NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT now()
      )`.execute(conn);
      const done = new Set(
        (await conn.selectFrom('ferry_migrations').select('version').execute()).map(
          (r) => r.version,
        ),
      );
      const applied: number[] = [];
      for (const m of MIGRATIONS) {
        if (done.has(m.version)) continue;
        await conn.transaction().execute(async (tx) => {
          await sql.raw(m.up).execute(tx);
          await tx
            .insertInto('ferry_migrations')
            .values({ version: m.version, name: m.name })
            .execute();
        });
        applied.push(m.version);
      }
      return applied;
    } finally {
      await sql`SELECT pg_advisory_unlock(${LOCK_ID})`.execute(conn);
    }
  });
}
