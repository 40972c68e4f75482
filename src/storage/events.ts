// Registry push events: stored before the registry gets its 2xx, then processed by a job.
import type { Insertable, Selectable } from 'kysely';
import type { Db } from './database.js';
import type { RegistryEventTable } from './schema.js';

export type RegistryEventRow = Selectable<RegistryEventTable>;

/** Inserts events, skipping ones already stored (same source and event id); returns the new ones. */
export async function insertEvents(
  db: Db,
  rows: Insertable<RegistryEventTable>[],
): Promise<RegistryEventRow[]> {
  if (rows.length === 0) return [];
  return db
    .insertInto('registry_events')
    .values(rows)
    .onConflict((oc) => oc.columns(['source_kind', 'source_id', 'event_id']).doNothing())
    .returningAll()
    .execute();
}

/** An event by id. */
export async function findEvent(db: Db, id: string): Promise<RegistryEventRow | undefined> {
  return db.selectFrom('registry_events').selectAll().where('id', '=', id).executeTakeFirst();
}

/** Marks an event processed. */
export async function markEventProcessed(db: Db, id: string): Promise<void> {
  await db
    .updateTable('registry_events')
    .set({ processed_at: new Date() })
    .where('id', '=', id)
    .execute();
}
