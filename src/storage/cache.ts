// A small in-process cache of what is costly to read again: database rows for the lookups every
// API request makes (token, project, list totals), and image descriptions read from registries.
// Bounded: past `maxEntries`, the oldest entry goes.
// Callers decide what is safe to keep and for how long; each use says why it stays exact.

/** Entries with an expiry time, at most `maxEntries` of them. */
export class BoundedCache<K, V> {
  private readonly entries = new Map<K, { value: V; expiresAt: number }>();

  constructor(private readonly maxEntries: number) {}

  /** The value of `key` when it has not expired at `now` (ms). */
  get(key: K, now: number): V | undefined {
    const e = this.entries.get(key);
    if (!e) return undefined;
    if (e.expiresAt <= now) {
      this.entries.delete(key);
      return undefined;
    }
    return e.value;
  }

  /** Stores `value` until `expiresAt` (ms; Infinity for as long as it fits). */
  set(key: K, value: V, expiresAt = Infinity): void {
    this.entries.delete(key);
    if (this.entries.size >= this.maxEntries) {
      // Map keeps insertion order: the first key is the oldest.
      this.entries.delete(this.entries.keys().next().value as K);
    }
    this.entries.set(key, { value, expiresAt });
  }

  get size(): number {
    return this.entries.size;
  }
}
