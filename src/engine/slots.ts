// Per-registry concurrency limits that hold across every worker of every process: a job
// takes one of N slots per registry it touches, as a PostgreSQL advisory lock held on its
// own connection while it copies. A process that dies loses its connections, and with them
// its slots, so a crash never leaks a slot.
import pg from 'pg';

/** Held slots; `release()` gives them back. */
export interface SlotLease {
  release(): Promise<void>;
}

// Advisory locks take two int4 keys: a constant namespace and the slot number mixed with the
// registry name's hash.
const NAMESPACE = 0x46525259;

function hash32(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h | 0;
}

/** Slots per registry on one database. */
export class RegistrySlots {
  constructor(
    private readonly pool: pg.Pool,
    private readonly perRegistry: number,
    private readonly pollMs = 100,
  ) {}

  /** Takes one slot for each registry (sorted, so two jobs never wait on each other). */
  async acquire(registries: string[], signal?: AbortSignal): Promise<SlotLease> {
    const names = [...new Set(registries)].sort();
    const client = await this.pool.connect();
    const held: [number, number][] = [];
    const release = async () => {
      try {
        for (const [a, b] of held) await client.query('SELECT pg_advisory_unlock($1, $2)', [a, b]);
        client.release();
      } catch (err) {
        // A broken connection has lost its locks anyway.
        client.release(err as Error);
      }
    };
    try {
      for (const name of names) {
        for (;;) {
          signal?.throwIfAborted();
          const key = await this.tryAny(client, name);
          if (key) {
            held.push(key);
            break;
          }
          await new Promise((r) => setTimeout(r, this.pollMs));
        }
      }
    } catch (err) {
      await release();
      throw err;
    }
    return { release };
  }

  private async tryAny(client: pg.PoolClient, name: string): Promise<[number, number] | undefined> {
    const base = hash32(name);
    for (let slot = 0; slot < this.perRegistry; slot++) {
      const key: [number, number] = [NAMESPACE, (base ^ Math.imul(slot + 1, 0x9e3779b1)) | 0];
      const r = await client.query<{ ok: boolean }>(
        'SELECT pg_try_advisory_lock($1, $2) AS ok',
        key,
      );
      if (r.rows[0]!.ok) return key;
    }
    return undefined;
  }
}
