// Schedules that fire each tick once across every process: each process computes the next
// tick (6-field cron with seconds, UTC, via croner; or a fixed interval), and at that time
// tries to insert the tick's row; the process whose insert wins runs the tick's action
// (usually: enqueue a job). Processes' clocks only need to agree to within a tick.
import { Cron } from 'croner';
import { FerryError } from '../errors/catalog.js';
import type { Db } from '../storage/database.js';

/** When a schedule fires. */
export type ScheduleSpec = { cron: string } | { everySeconds: number };

/** One schedule. */
export interface Schedule {
  name: string;
  spec: ScheduleSpec;
  /** Runs on the one process that claimed the tick. */
  fire: (tickAt: Date) => Promise<void>;
}

/** The next tick strictly after `after`. */
export function nextTick(spec: ScheduleSpec, after: Date): Date {
  if ('everySeconds' in spec) {
    const ms = spec.everySeconds * 1000;
    return new Date((Math.floor(after.getTime() / ms) + 1) * ms);
  }
  const next = cronOf(spec.cron).nextRun(after);
  if (!next) throw new FerryError('INVALID_ARGUMENT', `cron ${spec.cron}: it never fires`);
  return next;
}

/** Parses a 6-field cron (seconds first, UTC); INVALID_ARGUMENT naming it when wrong. */
export function cronOf(expr: string): Cron {
  if (expr.trim().split(/\s+/).length !== 6) {
    throw new FerryError(
      'INVALID_ARGUMENT',
      `cron ${JSON.stringify(expr)}: needs 6 fields (second minute hour day month weekday)`,
    );
  }
  try {
    return new Cron(expr, { timezone: 'UTC', paused: true });
  } catch (err) {
    throw new FerryError(
      'INVALID_ARGUMENT',
      `cron ${JSON.stringify(expr)}: ${(err as Error).message}`,
    );
  }
}

/** Runs schedules in this process, claiming each tick in the database. */
export class Scheduler {
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private stopped = false;

  constructor(
    private readonly db: Db,
    private readonly processId: string,
    private readonly log: (msg: string, fields?: Record<string, unknown>) => void = () => undefined,
  ) {}

  /** Starts (or replaces) a schedule. */
  add(schedule: Schedule): void {
    this.remove(schedule.name);
    this.arm(schedule, new Date());
  }

  /** Stops a schedule. */
  remove(name: string): void {
    clearTimeout(this.timers.get(name));
    this.timers.delete(name);
  }

  /** Stops every schedule. */
  stop(): void {
    this.stopped = true;
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
  }

  /** Claims a tick: true for exactly one caller per (name, tick). */
  async claim(name: string, tickAt: Date): Promise<boolean> {
    const r = await this.db
      .insertInto('schedule_ticks')
      .values({ name, tick_at: tickAt, process_id: this.processId })
      .onConflict((oc) => oc.columns(['name', 'tick_at']).doNothing())
      .executeTakeFirst();
    return Number(r.numInsertedOrUpdatedRows ?? 0) > 0;
  }

  private arm(schedule: Schedule, after: Date): void {
    if (this.stopped) return;
    const tick = nextTick(schedule.spec, after);
    // setTimeout's limit is about 24.8 days; a longer wait re-arms on the way.
    const wait = Math.min(tick.getTime() - Date.now(), 2 ** 31 - 1);
    const timer = setTimeout(
      () => {
        if (Date.now() < tick.getTime()) return this.arm(schedule, new Date(Date.now() - 1));
        void this.run(schedule, tick).finally(() => this.arm(schedule, tick));
      },
      Math.max(0, wait),
    );
    timer.unref();
    this.timers.set(schedule.name, timer);
  }

  private async run(schedule: Schedule, tick: Date): Promise<void> {
    try {
      if (await this.claim(schedule.name, tick)) await schedule.fire(tick);
    } catch (err) {
      this.log('schedule tick failed', { schedule: schedule.name, tick, err: String(err) });
    }
  }
}
