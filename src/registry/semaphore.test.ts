// The semaphore that bounds requests in flight.
import { describe, expect, it } from 'vitest';
import { Semaphore } from './semaphore.js';

describe('Semaphore', () => {
  it('lets `size` holders in and queues the rest in order', async () => {
    const s = new Semaphore(2);
    const r1 = await s.acquire();
    const r2 = await s.acquire();
    const order: number[] = [];
    const w3 = s.acquire().then((r) => (order.push(3), r));
    const w4 = s.acquire().then((r) => (order.push(4), r));
    await Promise.resolve();
    expect(s.inUse).toBe(2);
    expect(s.waiting).toBe(2);
    r1();
    r1(); // a second release of the same slot does nothing
    const r3 = await w3;
    expect(order).toEqual([3]);
    expect(s.waiting).toBe(1);
    r2();
    const r4 = await w4;
    expect(order).toEqual([3, 4]);
    r3();
    r4();
    expect(s.inUse).toBe(0);
  });

  it('stops waiting when the signal aborts', async () => {
    const s = new Semaphore(1);
    const r1 = await s.acquire();
    const ac = new AbortController();
    const waiting = s.acquire(ac.signal);
    ac.abort();
    await expect(waiting).rejects.toMatchObject({ code: 'CANCELLED' });
    expect(s.waiting).toBe(0);
    r1();
    expect(s.inUse).toBe(0);
  });

  it('refuses a size below one', () => {
    expect(() => new Semaphore(0)).toThrow(/concurrency limit must be a positive integer, got 0/);
  });
});
