// Referrers: the tag-schema fallback against a real docker-registry 2.8 (which has no
// Referrers API), and the API itself against a tiny local server.
import { createServer } from 'node:http';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sha256Digest } from '../digest.js';
import { MediaType, type Descriptor, type Manifest } from '../types.js';
import { startRegistry, type TestRegistry } from '../../../test/helpers/registry.js';
import { referrersTag } from './referrer.js';
import { HttpRegistry } from './registry.js';

let server: TestRegistry;
let reg: HttpRegistry;
const events: Array<{ method: string; url: string; status: number }> = [];
const REPO = 'ns/signed';
const SBOM = 'application/vnd.example.sbom.v1+json';
const SIG = 'application/vnd.example.signature.v1';

function manifestOf(json: unknown): Manifest {
  const bytes = Buffer.from(JSON.stringify(json));
  return {
    mediaType: (json as { mediaType: string }).mediaType,
    digest: sha256Digest(bytes),
    bytes,
  };
}

function descOf(m: Manifest, artifactType?: string): Descriptor {
  return {
    mediaType: m.mediaType,
    digest: m.digest,
    size: m.bytes.length,
    ...(artifactType ? { artifactType } : {}),
  };
}

let subject: Manifest;
let sbom: Manifest;
let sig: Manifest;

beforeAll(async () => {
  server = await startRegistry();
  reg = new HttpRegistry({ host: server.host, onRequest: (e) => events.push(e) });
  const empty = Buffer.from('{}');
  const emptyDesc = { mediaType: MediaType.OciEmpty, digest: sha256Digest(empty), size: 2 };
  await reg.blobPut(REPO, emptyDesc, Readable.from([empty]));
  subject = manifestOf({
    schemaVersion: 2,
    mediaType: MediaType.OciManifest,
    config: emptyDesc,
    layers: [],
  });
  await reg.manifestPut(REPO, 'v1', subject);
  const artifact = (artifactType: string, note: string): Manifest =>
    manifestOf({
      schemaVersion: 2,
      mediaType: MediaType.OciManifest,
      artifactType,
      config: emptyDesc,
      layers: [emptyDesc],
      subject: descOf(subject),
      annotations: { note },
    });
  sbom = artifact(SBOM, 'sbom');
  sig = artifact(SIG, 'sig');
  await reg.manifestPut(REPO, sbom.digest, sbom);
  await reg.manifestPut(REPO, sig.digest, sig);
  // Without a Referrers API, pushers keep an index under the subject's digest tag.
  const index = manifestOf({
    schemaVersion: 2,
    mediaType: MediaType.OciIndex,
    manifests: [descOf(sbom, SBOM), descOf(sig, SIG)],
  });
  await reg.manifestPut(REPO, referrersTag(subject.digest), index);
});

afterAll(async () => {
  await reg?.close();
  await server?.stop();
});

describe('referrers tag schema fallback', () => {
  it('reads the sha256-<hex> index when the API answers 404', async () => {
    const mark = events.length;
    const found = await reg.referrerList(REPO, subject.digest);
    expect(found).toEqual([descOf(sbom, SBOM), descOf(sig, SIG)]);
    const calls = events.slice(mark).map((e) => [e.method, new URL(e.url).pathname, e.status]);
    expect(calls).toEqual([
      ['GET', `/v2/${REPO}/referrers/${subject.digest}`, 404],
      ['GET', `/v2/${REPO}/manifests/sha256-${subject.digest.slice(7)}`, 200],
    ]);
  });

  it('filters by artifactType on the client', async () => {
    expect(await reg.referrerList(REPO, subject.digest, SIG)).toEqual([descOf(sig, SIG)]);
    expect(await reg.referrerList(REPO, subject.digest, 'application/none')).toEqual([]);
  });

  it('answers [] when there is no referrers tag', async () => {
    expect(await reg.referrerList(REPO, sbom.digest)).toEqual([]);
  });

  it('truncates the tag to 128 characters for sha512', () => {
    const d = `sha512:${'a'.repeat(128)}`;
    expect(referrersTag(d)).toBe(`sha512-${'a'.repeat(121)}`);
    expect(referrersTag(`sha256:${'b'.repeat(64)}`)).toBe(`sha256-${'b'.repeat(64)}`);
  });
});

describe('Referrers API', () => {
  it('uses the API answer, passes artifactType, and filters when the server did not', async () => {
    const a = {
      mediaType: MediaType.OciManifest,
      digest: sha256Digest('a'),
      size: 10,
      artifactType: SBOM,
    };
    const b = {
      mediaType: MediaType.OciManifest,
      digest: sha256Digest('b'),
      size: 11,
      artifactType: SIG,
    };
    const urls: string[] = [];
    const srv = createServer((req, res) => {
      urls.push(req.url ?? '');
      res.writeHead(200, { 'content-type': MediaType.OciIndex });
      // This server ignores the filter (no OCI-Filters-Applied).
      res.end(
        JSON.stringify({ schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: [a, b] }),
      );
    });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const addr = srv.address();
    const r = new HttpRegistry({
      host: `127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`,
    });
    try {
      const digest = sha256Digest('subject');
      expect(await r.referrerList('ns/app', digest)).toEqual([a, b]);
      expect(await r.referrerList('ns/app', digest, SIG)).toEqual([b]);
      expect(urls).toEqual([
        `/v2/ns/app/referrers/${digest}`,
        `/v2/ns/app/referrers/${digest}?artifactType=${encodeURIComponent(SIG)}`,
      ]);
    } finally {
      await r.close();
      await new Promise((done) => srv.close(done));
    }
  });
});
