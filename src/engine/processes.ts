// Crash recovery. graphile-worker unlocks a dead worker's jobs only after 4 hours; Ferry
// promises 60 seconds. Every process that runs workers registers itself with a heartbeat
// and the ids of its workers; every such process sweeps for dead ones (heartbeat older than
// `staleMs`, or a pid that no longer exists on this host) and unlocks their jobs with
// graphile-worker's force_unlock_workers, so another live worker picks them up.
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { sql } from 'kysely';
import type { Db } from '../storage/database.js';
import { WORKER_SCHEMA } from './queue.js';

/** Timings of the process registry. */
export interface ProcessTimings {
  heartbeatMs: number;
  /** A heartbeat older than this means the process is dead. */
  staleMs: number;
  sweepMs: number;
}

export const DEFAULT_TIMINGS: ProcessTimings = {
  heartbeatMs: 5000,
  staleMs: 20_000,
  sweepMs: 5000,
};

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** This process's registration; `stop()` deregisters it. */
export class ProcessRegistration {
  readonly id = `${hostname()}-${process.pid}-${randomBytes(4).toString('hex')}`;
  private readonly workerIds = new Set<string>();
  private timers: NodeJS.Timeout[] = [];

  constructor(
    private readonly db: Db,
    private readonly kind: string,
    private readonly timings: ProcessTimings = DEFAULT_TIMINGS,
    private readonly log: (msg: string, fields?: Record<string, unknown>) => void = () => undefined,
  ) {}

  /** Registers, then heartbeats and sweeps until `stop()`. */
  async start(): Promise<void> {
    await this.db
      .insertInto('ferry_processes')
      .values({ id: this.id, host: hostname(), pid: process.pid, kind: this.kind })
      .execute();
    await this.sweep();
    const every = (ms: number, fn: () => Promise<unknown>) => {
      const t = setInterval(
        () => void fn().catch((err) => this.log('process registry', { err })),
        ms,
      );
      t.unref();
      this.timers.push(t);
    };
    every(this.timings.heartbeatMs, () => this.heartbeat());
    every(this.timings.sweepMs, () => this.sweep());
  }

  /** Records a worker of this process (its id is what graphile-worker locks jobs with). */
  addWorker(workerId: string): void {
    this.workerIds.add(workerId);
    void this.heartbeat().catch(() => undefined);
  }

  /** Stops heartbeating and deregisters; `unlock` also frees jobs its workers still hold. */
  async stop(unlock: boolean): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    if (unlock && this.workerIds.size > 0) await this.unlock([...this.workerIds]);
    await this.db.deleteFrom('ferry_processes').where('id', '=', this.id).execute();
  }

  private async heartbeat(): Promise<void> {
    await this.db
      .updateTable('ferry_processes')
      .set({ heartbeat_at: new Date(), worker_ids: [...this.workerIds] })
      .where('id', '=', this.id)
      .execute();
  }

  /** Unlocks the jobs of dead processes and forgets them; returns how many died. */
  async sweep(): Promise<number> {
    const rows = await this.db
      .selectFrom('ferry_processes')
      .select(['id', 'host', 'pid', 'worker_ids', 'heartbeat_at'])
      .where('id', '!=', this.id)
      .execute();
    const staleBefore = Date.now() - this.timings.staleMs;
    const here = hostname();
    const dead = rows.filter(
      (r) =>
        new Date(r.heartbeat_at).getTime() < staleBefore ||
        (r.host === here && r.pid !== process.pid && !pidAlive(r.pid)),
    );
    for (const r of dead) {
      if (r.worker_ids.length > 0) await this.unlock(r.worker_ids);
      await this.db.deleteFrom('ferry_processes').where('id', '=', r.id).execute();
      this.log('unlocked the jobs of a dead process', {
        process: r.id,
        workers: r.worker_ids.length,
      });
    }
    return dead.length;
  }

  private async unlock(workerIds: string[]): Promise<void> {
    await sql`SELECT ${sql.raw(WORKER_SCHEMA)}.force_unlock_workers(${workerIds}::text[])`.execute(
      this.db,
    );
  }
}
