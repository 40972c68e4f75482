// Tag lists against a real docker-registry: pagination with `n` and Link, unknown names.
import { createServer } from 'node:http';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sha256Digest } from '../digest.js';
import { MediaType } from '../types.js';
import { startRegistry, type TestRegistry } from '../../../test/helpers/registry.js';
import { HttpRegistry } from './registry.js';

let server: TestRegistry;
let reg: HttpRegistry;
const events: Array<{ method: string; url: string; status: number }> = [];
const TAGS = ['1.0', '1.1', '2.0', 'latest', 'v7'];

beforeAll(async () => {
  server = await startRegistry();
  reg = new HttpRegistry({ host: server.host, onRequest: (e) => events.push(e) });
  const configBytes = Buffer.from('{"architecture":"amd64","os":"linux"}');
  const config = {
    mediaType: MediaType.OciConfig,
    digest: sha256Digest(configBytes),
    size: configBytes.length,
  };
  await reg.blobPut('ns/tags', config, Readable.from([configBytes]));
  const bytes = Buffer.from(
    JSON.stringify({ schemaVersion: 2, mediaType: MediaType.OciManifest, config, layers: [] }),
  );
  const manifest = { mediaType: MediaType.OciManifest, digest: sha256Digest(bytes), bytes };
  for (const tag of TAGS) await reg.manifestPut('ns/tags', tag, manifest);
});

afterAll(async () => {
  await reg?.close();
  await server?.stop();
});

describe('tagList', () => {
  it('lists every tag of a real registry', async () => {
    // distribution 2.8 ignores `n` for tags (pagination came in distribution 3): one page.
    expect((await reg.tagList('ns/tags')).sort()).toEqual(TAGS);
  });

  it('follows Link pages with n and last until the last one', async () => {
    // A local server paginates the way the spec describes, which 2.8 does not for tags.
    const all = ['a', 'b', 'c', 'd', 'e'];
    const seen: string[] = [];
    const srv = createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      seen.push(`${url.pathname}${url.search}`);
      const n = Number(url.searchParams.get('n'));
      const last = url.searchParams.get('last');
      const from = last === null ? 0 : all.indexOf(last) + 1;
      const page = all.slice(from, from + n);
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      if (from + n < all.length) {
        headers.link = `</v2/ns/paged/tags/list?n=${n}&last=${page.at(-1) ?? ''}>; rel="next"`;
      }
      res.writeHead(200, headers);
      res.end(JSON.stringify({ name: 'ns/paged', tags: page }));
    });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const addr = srv.address();
    const r = new HttpRegistry(
      { host: `127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}` },
      { pageSize: 2 },
    );
    try {
      expect(await r.tagList('ns/paged')).toEqual(all);
      expect(seen).toEqual([
        '/v2/ns/paged/tags/list?n=2',
        '/v2/ns/paged/tags/list?n=2&last=b',
        '/v2/ns/paged/tags/list?n=2&last=d',
      ]);
    } finally {
      await r.close();
      await new Promise((done) => srv.close(done));
    }
  });

  it('asks for 1000 per page by default', async () => {
    const seen: string[] = [];
    const r = new HttpRegistry({ host: server.host, onRequest: (e) => seen.push(e.url) });
    try {
      expect((await r.tagList('ns/tags')).sort()).toEqual(TAGS);
      expect(seen).toHaveLength(1);
      expect(new URL(seen[0] ?? '').searchParams.get('n')).toBe('1000');
    } finally {
      await r.close();
    }
  });

  it('answers [] for an unknown repository (404 NAME_UNKNOWN)', async () => {
    const mark = events.length;
    expect(await reg.tagList('ns/nothing-here')).toEqual([]);
    expect(events.slice(mark).map((e) => e.status)).toEqual([404]);
  });
});
