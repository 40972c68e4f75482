// The catalog against a real docker-registry: every repository across Link pages.
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sha256Digest } from '../digest.js';
import { MediaType } from '../types.js';
import { startRegistry, type TestRegistry } from '../../../test/helpers/registry.js';
import { HttpRegistry } from './registry.js';

let server: TestRegistry;
let reg: HttpRegistry;
const events: Array<{ method: string; url: string; status: number }> = [];
const REPOS = ['a/one', 'b/two', 'c/three/deep', 'd'];

beforeAll(async () => {
  server = await startRegistry();
  reg = new HttpRegistry({ host: server.host, onRequest: (e) => events.push(e) }, { pageSize: 3 });
  const configBytes = Buffer.from('{"architecture":"amd64","os":"linux"}');
  const config = {
    mediaType: MediaType.OciConfig,
    digest: sha256Digest(configBytes),
    size: configBytes.length,
  };
  const bytes = Buffer.from(
    JSON.stringify({ schemaVersion: 2, mediaType: MediaType.OciManifest, config, layers: [] }),
  );
  const manifest = { mediaType: MediaType.OciManifest, digest: sha256Digest(bytes), bytes };
  for (const repo of REPOS) {
    await reg.blobPut(repo, config, Readable.from([configBytes]));
    await reg.manifestPut(repo, 'v1', manifest);
  }
});

afterAll(async () => {
  await reg?.close();
  await server?.stop();
});

describe('catalogList', () => {
  it('lists every repository across pages', async () => {
    const mark = events.length;
    expect((await reg.catalogList()).sort()).toEqual(REPOS);
    const gets = events.slice(mark);
    expect(gets).toHaveLength(2);
    expect(new URL(gets[0]?.url ?? '').pathname).toBe('/v2/_catalog');
    expect(new URL(gets[0]?.url ?? '').searchParams.get('n')).toBe('3');
    expect(new URL(gets[1]?.url ?? '').searchParams.get('last')).toBe('c/three/deep');
  });

  it('checks the registry answers with ping', async () => {
    const mark = events.length;
    await reg.ping();
    expect(events.slice(mark).map((e) => [e.method, new URL(e.url).pathname, e.status])).toEqual([
      ['GET', '/v2/', 200],
    ]);
  });
});
