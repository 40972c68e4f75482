// Registry notifications (CNCF distribution's event envelopes): validated, stored and queued
// in one transaction before the registry gets its 2xx, so no push is lost; processed by the
// `registry-event` job. https://distribution.github.io/distribution/about/notifications/
import { FerryError } from '../errors/catalog.js';
import { enqueue } from '../engine/queue.js';
import type { Db } from '../storage/database.js';
import * as events from '../storage/events.js';

/** One event of an envelope, as Ferry reads it. */
interface EnvelopeEvent {
  id: string;
  action: string;
  target: { repository: string; tag?: string; digest?: string; mediaType?: string };
}

function parseEvents(body: unknown): { event: EnvelopeEvent; raw: unknown }[] {
  if (
    typeof body !== 'object' ||
    body === null ||
    !Array.isArray((body as { events?: unknown }).events)
  ) {
    throw new FerryError('BAD_REQUEST', 'body: expected a notification envelope {"events": [...]}');
  }
  return (body as { events: unknown[] }).events.map((raw, i) => {
    const e = raw as Partial<EnvelopeEvent> | null;
    if (
      typeof e !== 'object' ||
      e === null ||
      typeof e.id !== 'string' ||
      e.id === '' ||
      typeof e.action !== 'string' ||
      typeof e.target !== 'object' ||
      e.target === null ||
      typeof e.target.repository !== 'string'
    ) {
      throw new FerryError('BAD_REQUEST', `events[${i}]: needs id, action and target.repository`);
    }
    for (const k of ['tag', 'digest', 'mediaType'] as const) {
      if (e.target[k] !== undefined && typeof e.target[k] !== 'string') {
        throw new FerryError('BAD_REQUEST', `events[${i}].target.${k}: must be a string`);
      }
    }
    return { event: e as EnvelopeEvent, raw };
  });
}

/** Stores an envelope's events (skipping ones seen before) and queues the new ones. */
export async function receiveEvents(
  db: Db,
  source: { kind: 'region' | 'instance'; id: string },
  body: unknown,
): Promise<{ received: number; stored: number }> {
  const parsed = parseEvents(body);
  const stored = await db.transaction().execute(async (tx) => {
    const rows = await events.insertEvents(
      tx,
      parsed.map(({ event, raw }) => ({
        source_kind: source.kind,
        source_id: source.id,
        event_id: event.id,
        action: event.action,
        repository: event.target.repository,
        tag: event.target.tag ?? null,
        digest: event.target.digest ?? null,
        media_type: event.target.mediaType ?? null,
        payload: JSON.stringify(raw),
      })),
    );
    for (const row of rows) {
      await enqueue(
        tx,
        'registry-event',
        { eventId: row.id },
        { jobKey: `registry-event:${row.id}` },
      );
    }
    return rows.length;
  });
  return { received: parsed.length, stored };
}
