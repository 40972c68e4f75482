// The engine's parts on a real PostgreSQL: job kinds checked at startup, schedule ticks
// claimed once across schedulers, registry slots held across connections and freed when a
// connection dies, and dead processes' jobs unlocked.
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { runMigrations } from 'graphile-worker';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type Db } from '../storage/database.js';
import { startEmbeddedPostgres, type EmbeddedDatabase } from '../storage/embedded.js';
import { migrate } from '../storage/migrate.js';
import { backoffMs } from '../sync/jobs.js';
import { checkHandlers, JOB_KINDS } from './kinds.js';
import { ProcessRegistration } from './processes.js';
import { enqueue } from './queue.js';
import { nextTick, Scheduler, cronOf } from './scheduler.js';
import { RegistrySlots } from './slots.js';

let dir: string;
let pgServer: EmbeddedDatabase;
let db: Db;
let pool: pg.Pool;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ferry-engine-'));
  await chmod(dir, 0o711);
  pgServer = await startEmbeddedPostgres(dir);
  db = await openDatabase(pgServer.url);
  await migrate(db);
  pool = new pg.Pool({ connectionString: pgServer.url, max: 10 });
  pool.on('error', () => undefined);
  await runMigrations({ pgPool: pool });
});

afterAll(async () => {
  await pool?.end();
  await db?.destroy();
  await pgServer?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe('job kinds', () => {
  const noop = async () => undefined;
  it('refuse to start with a kind missing or unknown', () => {
    const all = Object.fromEntries(JOB_KINDS.map((k) => [k, noop]));
    expect(() => checkHandlers(all)).not.toThrow();
    const { 'sync-image': _gone, ...missing } = all;
    expect(() => checkHandlers(missing)).toThrow(/no handler for sync-image/);
    expect(() => checkHandlers({ ...all, 'send-email': noop })).toThrow(/unknown kinds send-email/);
  });
});

describe('scheduler', () => {
  it('computes 6-field UTC cron ticks and intervals, and refuses 5-field crons', () => {
    const at = new Date('2026-11-23T10:00:07.500Z');
    expect(nextTick({ cron: '*/10 * * * * *' }, at).toISOString()).toBe('2026-11-23T10:00:10.000Z');
    expect(nextTick({ cron: '0 30 2 * * *' }, at).toISOString()).toBe('2026-11-24T02:30:00.000Z');
    expect(nextTick({ everySeconds: 300 }, at).toISOString()).toBe('2026-11-23T10:05:00.000Z');
    expect(() => cronOf('*/5 * * * *')).toThrow(/6 fields/);
    expect(() => cronOf('61 * * * * *')).toThrow(/cron/);
  });

  it('fires each tick once across processes', async () => {
    const fired: string[] = [];
    const schedulers = [1, 2, 3].map((i) => new Scheduler(db, `p${i}`));
    for (const [i, s] of schedulers.entries()) {
      s.add({
        name: 'every-second',
        spec: { everySeconds: 1 },
        fire: async (tick) => {
          fired.push(`${i}@${tick.toISOString()}`);
        },
      });
    }
    await new Promise((r) => setTimeout(r, 3500));
    schedulers.forEach((s) => s.stop());
    const ticks = fired.map((f) => f.split('@')[1]);
    expect(ticks.length).toBeGreaterThanOrEqual(3);
    expect(new Set(ticks).size).toBe(ticks.length);
  });
});

describe('registry slots', () => {
  it('hold a per-registry limit across connections, and free them when a connection dies', async () => {
    const slots = new RegistrySlots(pool, 2, 20);
    const a = await slots.acquire(['reg-1:5000']);
    const b = await slots.acquire(['reg-1:5000', 'reg-2:5000']);
    // The third lease for reg-1 must wait.
    let third = false;
    const pending = slots.acquire(['reg-1:5000']).then((l) => {
      third = true;
      return l;
    });
    await new Promise((r) => setTimeout(r, 200));
    expect(third).toBe(false);
    // Another registry is not limited by reg-1's slots.
    const other = await slots.acquire(['reg-2:5000']);
    await a.release();
    const c = await pending;
    expect(third).toBe(true);
    await Promise.all([b.release(), c.release(), other.release()]);

    // A connection that dies (its process killed) gives its slots back.
    const doomed = new pg.Client({ connectionString: pgServer.url });
    doomed.on('error', () => undefined);
    await doomed.connect();
    await doomed.query('SELECT pg_advisory_lock(1, 1)');
    const { rows } = await doomed.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
    const killer = await pool.connect();
    await killer.query('SELECT pg_terminate_backend($1)', [rows[0]!.pid]);
    killer.release();
    await doomed.end().catch(() => undefined);
    const check = await pool.connect();
    const r = await check.query<{ ok: boolean }>('SELECT pg_try_advisory_lock(1, 1) AS ok');
    expect(r.rows[0]!.ok).toBe(true);
    await check.query('SELECT pg_advisory_unlock(1, 1)');
    check.release();
  });

  it('stops waiting when aborted', async () => {
    const slots = new RegistrySlots(pool, 1, 20);
    const held = await slots.acquire(['busy:1']);
    const ac = new AbortController();
    const waiting = slots.acquire(['busy:1'], ac.signal);
    ac.abort(new Error('shutting down'));
    await expect(waiting).rejects.toThrow(/shutting down/);
    await held.release();
  });
});

describe('process registry', () => {
  it('unlocks the jobs of a process whose heartbeat stopped', async () => {
    await enqueue(db, 'reconcile-auto-sync', { tickAt: 'x' }, { jobKey: 'test-dead-worker' });
    // A dead process: its row is stale, and its worker holds the job.
    await db
      .insertInto('ferry_processes')
      .values({
        id: 'dead-1',
        host: 'elsewhere',
        pid: 1,
        kind: 'worker',
        worker_ids: ['worker-dead'],
        heartbeat_at: new Date(Date.now() - 60_000),
      })
      .execute();
    await sql`UPDATE graphile_worker._private_jobs SET locked_by = 'worker-dead', locked_at = now() WHERE key = 'test-dead-worker'`.execute(
      db,
    );
    const live = new ProcessRegistration(db, 'worker', {
      heartbeatMs: 1000,
      staleMs: 20_000,
      sweepMs: 1000,
    });
    await live.start();
    const row = await sql<{
      locked_by: string | null;
    }>`SELECT locked_by FROM graphile_worker._private_jobs WHERE key = 'test-dead-worker'`.execute(
      db,
    );
    expect(row.rows[0]!.locked_by).toBeNull();
    expect(
      await db.selectFrom('ferry_processes').select('id').where('id', '=', 'dead-1').execute(),
    ).toEqual([]);
    await live.stop(true);
  });
});

describe('retry backoff', () => {
  it('doubles from the base, stays under the cap, and spreads with jitter', () => {
    const p = { maxAttempts: 5, baseDelayMs: 1000, maxDelayMs: 8000 };
    expect(backoffMs(p, 1, () => 1)).toBe(1000);
    expect(backoffMs(p, 2, () => 1)).toBe(2000);
    expect(backoffMs(p, 3, () => 0)).toBe(2000);
    expect(backoffMs(p, 10, () => 1)).toBe(8000);
    expect(backoffMs(p, 10, () => 0)).toBe(4000);
  });
});
