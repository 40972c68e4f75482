// The inventory lists count `total_num` once per filter and inventory generation (migration
// 0006), and the IAM lookups every request makes are kept in memory. These tests show that
// neither ever answers from a stale entry: on a real PostgreSQL, every kind of write to the
// inventory (insert, update, delete, a cascade-like bulk delete, another process's write)
// changes the next total, and a project's writes leave other projects' counts alone.
import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SecretBox } from '../../src/iam/crypto.js';
import { IamService } from '../../src/iam/service.js';
import { InventoryService, type HssCaller } from '../../src/inventory/service.js';
import { Instances } from '../../src/replication/instances.js';
import { BoundedCache } from '../../src/storage/cache.js';
import { openDatabase, type Db } from '../../src/storage/database.js';
import * as store from '../../src/storage/inventory.js';
import { migrate } from '../../src/storage/migrate.js';
import { Regions } from '../../src/sync/regions.js';
import { startSharedPostgres } from '../helpers/ferry.js';

const PAGE = { offset: 0, limit: 5, sortKey: 'latest_update_time', sortDir: 'desc' } as const;

function image(projectId: string, name: string, tag: string, multiArch = false) {
  return {
    project_id: projectId,
    registry_type: 'Other',
    registry_id: 'r1',
    registry_name: 'r1',
    image_type: 'other',
    namespace: 'team',
    image_name: name,
    image_version: tag,
    image_digest: `sha256:${randomBytes(32).toString('hex')}`,
    is_multiple_arch: multiArch,
    latest_update_time: new Date(),
  };
}

/** The stored tags of a project's test registry, by `namespace/name:tag`. */
function stored(db: Db, projectId: string) {
  return store.imageDigests(db, { projectId, registryType: 'Other', registryId: 'r1' });
}

describe('inventory totals and IAM lookups kept in memory', () => {
  let pg: Awaited<ReturnType<typeof startSharedPostgres>>;
  let db: Db;
  let other: Db;
  let inventory: InventoryService;
  const caller = (projectId: string): HssCaller => ({
    domainId: 'd',
    domainName: 'd',
    projectId,
    regionId: 'cn-north-4',
  });
  const box = new SecretBox(randomBytes(32));

  beforeAll(async () => {
    pg = await startSharedPostgres();
    db = await openDatabase(pg.url);
    // A second pool stands for another Ferry process writing the same database.
    other = await openDatabase(pg.url);
    await migrate(db);
    inventory = new InventoryService(db, box, new Regions([]), new Instances([]));
  }, 120_000);

  afterAll(async () => {
    await db?.destroy();
    await other?.destroy();
    await pg?.stop();
  });

  it('every write to a project raises its generation once per statement, and only its own', async () => {
    const generation = async (p: string) => (await store.countImages(db, p, {})).generation;
    expect(await generation('p-gen')).toBe('0');
    await store.upsertImages(db, [image('p-gen', 'a', '1'), image('p-gen', 'a', '2')]);
    const afterInsert = await generation('p-gen');
    expect(afterInsert).toBe('1');

    const ids = [...(await stored(db, 'p-gen')).values()].map((r) => r.id);
    await store.touchImages(db, ids, new Date());
    expect(await generation('p-gen')).toBe('2');
    await store.deleteImages(db, ids.slice(0, 1));
    expect(await generation('p-gen')).toBe('3');
    // Another project's write leaves this one's generation (and kept counts) alone.
    await store.upsertImages(db, [image('p-elsewhere', 'x', '1')]);
    expect(await generation('p-gen')).toBe('3');
    expect(await generation('p-elsewhere')).toBe('1');
  });

  it('a total counted once is reused until the inventory changes, then counted again', async () => {
    const p = caller('p-list');
    await store.upsertImages(
      db,
      Array.from({ length: 12 }, (_, i) => image('p-list', i % 2 ? 'web' : 'api', `v${i}`, i < 3)),
    );
    const web = { imageName: 'web' };
    expect((await inventory.listImages(p, web, PAGE)).total).toBe(6);
    expect((await inventory.listImages(p, { isMultiArch: true }, PAGE)).total).toBe(3);

    // Another process inserts: the next page sees a new generation and counts again.
    await store.upsertImages(other, [image('p-list', 'web', 'new')]);
    const afterInsert = await inventory.listImages(p, web, PAGE);
    expect(afterInsert.total).toBe(7);
    expect(afterInsert.rows).toHaveLength(5);

    // Deleting every web tag but one: the first page has one row, the total says so.
    const webIds = [...(await stored(other, 'p-list')).entries()]
      .filter(([k]) => k.startsWith('team/web:'))
      .map(([, v]) => v.id);
    await store.deleteImages(other, webIds.slice(1));
    const afterDelete = await inventory.listImages(p, web, PAGE);
    expect(afterDelete.rows).toHaveLength(1);
    expect(afterDelete.total).toBe(1);

    // A page past the end has no rows to carry a generation: its total is counted fresh.
    await store.deleteImages(other, webIds.slice(0, 1));
    const empty = await inventory.listImages(p, web, PAGE);
    expect(empty).toEqual({ rows: [], total: 0 });
    // The multi-arch count kept earlier included web v1, deleted since.
    expect((await inventory.listImages(p, { isMultiArch: true }, PAGE)).total).toBe(2);
    expect(await inventory.imageTotal(p)).toBe(6);
  });

  it('asset statistics reuse the kept count while the generation holds, and count after a write', async () => {
    const p = caller('p-stats');
    await store.upsertImages(
      db,
      [1, 2, 3, 4].map((i) => image('p-stats', 'app', `v${i}`)),
    );
    expect(await inventory.imageTotal(p)).toBe(4);

    // A row written with the triggers off (replica mode) leaves the generation as it was, so
    // the kept count answers: proof that the statistics no longer count on every call.
    await other.transaction().execute(async (trx) => {
      await sql`SET LOCAL session_replication_role = replica`.execute(trx);
      await store.upsertImages(trx, [image('p-stats', 'app', 'unseen')]);
    });
    expect(await inventory.imageTotal(p)).toBe(4);

    // Any ordinary write raises the generation: the next call counts every row again.
    await store.upsertImages(other, [image('p-stats', 'app', 'v5')]);
    expect(await inventory.imageTotal(p)).toBe(6);
  });

  it('deep pages (read through the sort index first) continue the shallow ones exactly', async () => {
    const p = caller('p-deep');
    const day = 86_400_000;
    await store.upsertImages(
      db,
      Array.from({ length: 320 }, (_, i) => ({
        ...image('p-deep', `app${i % 7}`, `t${i}`, i % 3 === 0),
        // Ties on the sort key, so the id decides the order between them.
        latest_update_time: new Date(Date.UTC(2026, 0, 1) + (i % 40) * day),
      })),
    );
    for (const sortDir of ['desc', 'asc'] as const) {
      for (const f of [{}, { isMultiArch: true }]) {
        const page = (offset: number, limit: number) =>
          inventory.listImages(p, f, { offset, limit, sortKey: 'latest_update_time', sortDir });
        const shallow = await page(0, 200);
        const deep = await page(200, 200);
        const across = await page(150, 100);
        const all = [...shallow.rows, ...deep.rows].map((r) => r.id);
        expect(new Set(all).size).toBe(all.length);
        expect(all).toHaveLength(shallow.total);
        expect(across.rows.map((r) => r.id)).toEqual(all.slice(150, 250));
        // The order really is (update time, id), in the asked direction.
        const keys = all.map((id) => {
          const r = [...shallow.rows, ...deep.rows].find((x) => x.id === id)!;
          return [r.latest_update_time!.getTime(), BigInt(r.id)] as const;
        });
        for (let i = 1; i < keys.length; i++) {
          const [a, b] = [keys[i - 1]!, keys[i]!];
          const cmp = a[0] !== b[0] ? a[0] - b[0] : Number(a[1] - b[1]);
          expect(sortDir === 'asc' ? cmp < 0 : cmp > 0).toBe(true);
        }
      }
    }
  });

  it('a token is accepted from memory only until it expires', async () => {
    let now = new Date('2026-11-23T10:00:00Z');
    const iam = new IamService(db, box, ['cn-north-4'], 60, () => now);
    await iam.bootstrap({ domain: 'acme', user: 'alice', password: 'pw-alice-1', accessKeys: [] });
    const issued = await iam.issueToken({
      user: 'alice',
      password: 'pw-alice-1',
      domain: 'acme',
      scope: { domain: { name: 'acme' } },
    });
    expect((await iam.authenticateToken(issued.token))?.userName).toBe('alice');
    // Within its lifetime the kept principal answers; past it the token is refused.
    now = new Date(now.getTime() + 30_000);
    expect((await iam.authenticateToken(issued.token))?.domainName).toBe('acme');
    now = new Date(now.getTime() + 31_000);
    expect(await iam.authenticateToken(issued.token)).toBeUndefined();
    expect(await iam.authenticateToken('ferry-unknown')).toBeUndefined();
  });
});

describe('BoundedCache', () => {
  it('forgets expired entries and the oldest entry when full', () => {
    const c = new BoundedCache<string, number>(2);
    c.set('a', 1, 100);
    c.set('b', 2);
    expect(c.get('a', 99)).toBe(1);
    expect(c.get('a', 100)).toBeUndefined();
    c.set('a', 1);
    c.set('c', 3);
    expect(c.get('b', 0)).toBeUndefined();
    expect([c.get('a', 0), c.get('c', 0), c.size]).toEqual([1, 3, 2]);
  });
});
