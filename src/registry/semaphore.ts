// A counting semaphore with FIFO waiters. The transport bounds the requests in flight to one
// registry with it (a slot is held for the whole life of a request, body included); the copy
// engine bounds images and blobs in flight.
import { FerryError } from '../errors/catalog.js';

/** Gives back a slot; calling it again does nothing. */
export type Release = () => void;

/** A counting semaphore with FIFO waiters; `acquire` resolves to a one-shot release. */
export class Semaphore {
  private free: number;
  private readonly waiters: Array<() => void> = [];

  constructor(readonly size: number) {
    if (!Number.isInteger(size) || size < 1) {
      throw new FerryError(
        'INVALID_ARGUMENT',
        `a concurrency limit must be a positive integer, got ${size}`,
      );
    }
    this.free = size;
  }

  /** Slots taken right now. */
  get inUse(): number {
    return this.size - this.free;
  }

  /** Callers waiting for a slot. */
  get waiting(): number {
    return this.waiters.length;
  }

  /** Waits for a slot; rejects with CANCELLED when `signal` aborts first. */
  async acquire(signal?: AbortSignal): Promise<Release> {
    if (signal?.aborted) throw cancelled();
    if (this.free > 0) {
      this.free--;
      return this.releaser();
    }
    return new Promise<Release>((resolve, reject) => {
      const grant = (): void => {
        signal?.removeEventListener('abort', onAbort);
        resolve(this.releaser());
      };
      const onAbort = (): void => {
        const i = this.waiters.indexOf(grant);
        if (i >= 0) this.waiters.splice(i, 1);
        reject(cancelled());
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiters.push(grant);
    });
  }

  /** Runs `fn` holding a slot. */
  async run<T>(fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    const release = await this.acquire(signal);
    try {
      return await fn();
    } finally {
      release();
    }
  }

  private releaser(): Release {
    let done = false;
    return () => {
      if (done) return;
      done = true;
      // Hand the slot straight to the next waiter, so a burst cannot overtake the queue.
      const next = this.waiters.shift();
      if (next) next();
      else this.free++;
    };
  }
}

function cancelled(): FerryError {
  return new FerryError('CANCELLED', 'cancelled while waiting for a connection slot');
}
