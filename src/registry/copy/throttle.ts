// A bandwidth limit shared by every blob stream that uses it (one per replication policy):
// a token bucket refilled at `bytesPerSecond`, with a burst of one second's worth, so the
// average rate over any few seconds stays at the limit whatever the chunk sizes.
import { Transform, type TransformCallback } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';

/** Bytes per second, shared by every stream that takes from it. */
export class RateLimiter {
  private tokens: number;
  private last = Date.now();
  /** Waiters in order, so one stream cannot starve another. */
  private queue: Promise<void> = Promise.resolve();

  constructor(readonly bytesPerSecond: number) {
    if (!(bytesPerSecond > 0)) throw new Error('bytesPerSecond must be positive');
    // Start empty: the first second is not a free burst, so short copies obey the limit too.
    this.tokens = 0;
  }

  /** Resolves when `n` bytes may pass. */
  take(n: number, signal?: AbortSignal): Promise<void> {
    const turn = this.queue.then(() => this.wait(n, signal));
    this.queue = turn.catch(() => undefined);
    return turn;
  }

  private async wait(n: number, signal?: AbortSignal): Promise<void> {
    for (;;) {
      const now = Date.now();
      this.tokens = Math.min(
        this.bytesPerSecond,
        this.tokens + ((now - this.last) / 1000) * this.bytesPerSecond,
      );
      this.last = now;
      // A chunk larger than the bucket passes once the bucket is full, leaving a debt.
      const need = Math.min(n, this.bytesPerSecond);
      if (this.tokens >= need) {
        this.tokens -= n;
        return;
      }
      const ms = Math.ceil(((need - this.tokens) / this.bytesPerSecond) * 1000);
      await sleep(Math.max(ms, 5), undefined, { signal });
    }
  }
}

/** A pass-through stream that holds each chunk until the limiter lets it go. */
export function throttled(limiter: RateLimiter, signal?: AbortSignal): Transform {
  return new Transform({
    transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback) {
      limiter.take(chunk.length, signal).then(
        () => done(null, chunk),
        (err: unknown) => done(err as Error),
      );
    },
  });
}
