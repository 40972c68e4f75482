// Manifests of every type against a real docker-registry, and digest checks against a tiny
// local server that lies about Docker-Content-Digest or leaves Content-Type out.
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sha256Digest } from '../digest.js';
import { MANIFEST_MEDIA_TYPES, MediaType, type Descriptor, type Manifest } from '../types.js';
import { startRegistry, type TestRegistry } from '../../../test/helpers/registry.js';
import { HttpRegistry } from './registry.js';

let server: TestRegistry;
let reg: HttpRegistry;
const events: Array<{ method: string; url: string; status: number }> = [];
const REPO = 'ns/app';

let config: Descriptor;
let dockerConfig: Descriptor;
let layer: Descriptor;
let dockerLayer: Descriptor;

async function pushBlob(bytes: Buffer, mediaType: string): Promise<Descriptor> {
  const desc = { mediaType, digest: sha256Digest(bytes), size: bytes.length };
  await reg.blobPut(REPO, desc, Readable.from([bytes]));
  return desc;
}

function manifestOf(json: unknown): Manifest {
  const bytes = Buffer.from(JSON.stringify(json, null, 2));
  const mediaType = (json as { mediaType: string }).mediaType;
  return { mediaType, digest: sha256Digest(bytes), bytes };
}

beforeAll(async () => {
  server = await startRegistry();
  reg = new HttpRegistry({
    host: server.host,
    retry: { baseDelayMs: 5, maxDelayMs: 50 },
    onRequest: (e) => events.push(e),
  });
  const configBytes = Buffer.from(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      rootfs: { type: 'layers', diff_ids: [] },
    }),
  );
  config = await pushBlob(configBytes, MediaType.OciConfig);
  dockerConfig = { ...config, mediaType: MediaType.DockerConfig };
  layer = await pushBlob(randomBytes(2048), MediaType.OciLayer);
  dockerLayer = { ...layer, mediaType: MediaType.DockerLayer };
  await pushBlob(Buffer.from('{}'), MediaType.OciEmpty);
});

afterAll(async () => {
  await reg?.close();
  await server?.stop();
});

describe('every manifest type', () => {
  let oci: Manifest;
  let docker: Manifest;

  beforeAll(() => {
    oci = manifestOf({
      schemaVersion: 2,
      mediaType: MediaType.OciManifest,
      config,
      layers: [layer],
      annotations: { 'org.example': 'ferry' },
    });
    docker = manifestOf({
      schemaVersion: 2,
      mediaType: MediaType.DockerManifest,
      config: dockerConfig,
      layers: [dockerLayer],
    });
  });

  async function roundTrip(tag: string, m: Manifest): Promise<void> {
    await reg.manifestPut(REPO, tag, m);
    const byTag = await reg.manifestGet(REPO, tag);
    expect(byTag.digest).toBe(m.digest);
    expect(byTag.mediaType).toBe(m.mediaType);
    expect(byTag.bytes.equals(m.bytes)).toBe(true);
    const byDigest = await reg.manifestGet(REPO, m.digest);
    expect(byDigest.bytes.equals(m.bytes)).toBe(true);
    expect(await reg.manifestHead(REPO, tag)).toEqual({
      mediaType: m.mediaType,
      digest: m.digest,
      size: m.bytes.length,
    });
  }

  it('OCI image manifest', async () => {
    await roundTrip('oci', oci);
  });

  it('Docker schema 2 manifest', async () => {
    await roundTrip('docker', docker);
  });

  it('OCI index', async () => {
    await reg.manifestPut(REPO, oci.digest, oci);
    const index = manifestOf({
      schemaVersion: 2,
      mediaType: MediaType.OciIndex,
      manifests: [
        {
          mediaType: oci.mediaType,
          digest: oci.digest,
          size: oci.bytes.length,
          platform: { architecture: 'amd64', os: 'linux' },
        },
      ],
    });
    await roundTrip('index', index);
  });

  it('Docker manifest list', async () => {
    await reg.manifestPut(REPO, docker.digest, docker);
    const list = manifestOf({
      schemaVersion: 2,
      mediaType: MediaType.DockerManifestList,
      manifests: [
        {
          mediaType: docker.mediaType,
          digest: docker.digest,
          size: docker.bytes.length,
          platform: { architecture: 'arm64', os: 'linux', variant: 'v8' },
        },
      ],
    });
    await roundTrip('list', list);
  });

  it('artifact manifest with artifactType and subject', async () => {
    await reg.manifestPut(REPO, 'oci', oci);
    const artifact = manifestOf({
      schemaVersion: 2,
      mediaType: MediaType.OciManifest,
      artifactType: 'application/vnd.example.sbom.v1+json',
      config: { mediaType: MediaType.OciEmpty, digest: sha256Digest('{}'), size: 2 },
      layers: [layer],
      subject: { mediaType: oci.mediaType, digest: oci.digest, size: oci.bytes.length },
    });
    await reg.manifestPut(REPO, artifact.digest, artifact);
    const got = await reg.manifestGet(REPO, artifact.digest);
    expect(got.bytes.equals(artifact.bytes)).toBe(true);
    expect(JSON.parse(got.bytes.toString()).subject.digest).toBe(oci.digest);
  });

  it('sends every manifest type in Accept', async () => {
    const accepts: string[] = [];
    const srv = createServer((req, res) => {
      accepts.push(req.headers.accept ?? '');
      res.writeHead(404);
      res.end();
    });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const addr = srv.address();
    const r = new HttpRegistry({
      host: `127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`,
    });
    try {
      await r.manifestHead(REPO, 'x');
      await r.manifestGet(REPO, 'x').catch(() => undefined);
      for (const a of accepts) {
        expect(
          a
            .split(',')
            .map((s) => s.trim())
            .sort(),
        ).toEqual([...MANIFEST_MEDIA_TYPES].sort());
      }
      expect(accepts).toHaveLength(2);
    } finally {
      await r.close();
      await new Promise((done) => srv.close(done));
    }
  });

  it('HEAD answers undefined for an unknown tag; GET says MANIFEST_UNKNOWN in one line', async () => {
    expect(await reg.manifestHead(REPO, 'nope')).toBeUndefined();
    await expect(reg.manifestGet(REPO, 'nope')).rejects.toMatchObject({
      code: 'MANIFEST_UNKNOWN',
      message: `${server.host}: GET manifest ${REPO}:nope: 404 manifest unknown`,
    });
  });

  it('DELETEs by digest', async () => {
    const m = manifestOf({
      schemaVersion: 2,
      mediaType: MediaType.OciManifest,
      config,
      layers: [layer],
      annotations: { purpose: 'delete me' },
    });
    await reg.manifestPut(REPO, 'gone', m);
    expect(await reg.manifestHead(REPO, m.digest)).toBeDefined();
    await reg.manifestDelete(REPO, m.digest);
    expect(await reg.manifestHead(REPO, m.digest)).toBeUndefined();
    expect(await reg.manifestHead(REPO, 'gone')).toBeUndefined();
    await expect(reg.manifestDelete(REPO, m.digest)).rejects.toMatchObject({
      code: 'MANIFEST_UNKNOWN',
    });
  });

  it('refuses to PUT bytes under a digest they do not have', async () => {
    const m = { ...oci, digest: sha256Digest('something else') };
    const mark = events.length;
    await expect(reg.manifestPut(REPO, 'bad', m)).rejects.toMatchObject({
      code: 'DIGEST_MISMATCH',
    });
    expect(events.length).toBe(mark); // nothing was sent
  });

  it('reports a manifest whose blobs are missing as REGISTRY_REJECTED', async () => {
    const m = manifestOf({
      schemaVersion: 2,
      mediaType: MediaType.OciManifest,
      config,
      layers: [{ mediaType: MediaType.OciLayer, digest: sha256Digest('missing'), size: 7 }],
    });
    const err = await reg.manifestPut(REPO, 'broken', m).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'REGISTRY_REJECTED' });
    expect((err as Error).message).toMatch(
      new RegExp(`^${server.host.replace(/\./g, '\\.')}: PUT manifest ns/app:broken: 400 `),
    );
  });
});

describe('integrity checks against a lying server', () => {
  const body = Buffer.from(
    JSON.stringify({ schemaVersion: 2, mediaType: MediaType.OciManifest, config: {}, layers: [] }),
  );
  const digest = sha256Digest(body);

  async function withServer(
    handler: (req: IncomingMessage, res: ServerResponse) => void,
    fn: (r: HttpRegistry) => Promise<void>,
  ): Promise<void> {
    const srv = createServer(handler);
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const addr = srv.address();
    const r = new HttpRegistry({
      host: `127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`,
      retry: { attempts: 2, baseDelayMs: 1, maxDelayMs: 5 },
    });
    try {
      await fn(r);
    } finally {
      await r.close();
      await new Promise((done) => srv.close(done));
    }
  }

  it('throws DIGEST_MISMATCH when a tag’s bytes do not match Docker-Content-Digest', async () => {
    const claimed = sha256Digest('the original manifest');
    await withServer(
      (_req, res) => {
        res.writeHead(200, {
          'content-type': MediaType.OciManifest,
          'docker-content-digest': claimed,
        });
        res.end(body);
      },
      async (r) => {
        const err = await r.manifestGet('ns/app', 'v1').catch((e: unknown) => e);
        expect(err).toMatchObject({ code: 'DIGEST_MISMATCH' });
        expect((err as Error).message).toMatch(
          new RegExp(
            `^127\\.0\\.0\\.1:\\d+: GET manifest ns/app:v1: expected ${claimed}, the bytes hash to ${digest}$`,
          ),
        );
      },
    );
  });

  it('throws DIGEST_MISMATCH when bytes asked by digest hash to something else', async () => {
    const asked = sha256Digest('another manifest');
    await withServer(
      (_req, res) => {
        res.writeHead(200, { 'content-type': MediaType.OciManifest });
        res.end(body);
      },
      async (r) => {
        await expect(r.manifestGet('ns/app', asked)).rejects.toMatchObject({
          code: 'DIGEST_MISMATCH',
        });
      },
    );
  });

  it('takes the media type from the JSON when Content-Type is not a manifest type', async () => {
    await withServer(
      (_req, res) => {
        res.writeHead(200, { 'content-type': 'application/json', 'docker-content-digest': digest });
        res.end(body);
      },
      async (r) => {
        const m = await r.manifestGet('ns/app', 'v1');
        expect(m).toMatchObject({ mediaType: MediaType.OciManifest, digest });
        // HEAD gave no manifest type either: it falls back to a GET.
        expect(await r.manifestHead('ns/app', 'v1')).toEqual({
          mediaType: MediaType.OciManifest,
          digest,
          size: body.length,
        });
      },
    );
  });

  it('infers an OCI index from its shape when neither header nor JSON names a type', async () => {
    const index = Buffer.from(JSON.stringify({ schemaVersion: 2, manifests: [] }));
    await withServer(
      (_req, res) => {
        res.end(index);
      },
      async (r) => {
        const m = await r.manifestGet('ns/app', 'v1');
        expect(m.mediaType).toBe(MediaType.OciIndex);
        expect(m.digest).toBe(sha256Digest(index));
      },
    );
  });

  it('refuses a manifest larger than 4 MiB with MANIFEST_INVALID', async () => {
    await withServer(
      (_req, res) => {
        res.writeHead(200, { 'content-type': MediaType.OciManifest });
        res.end(Buffer.alloc(5 * 1024 * 1024, 0x20));
      },
      async (r) => {
        const err = await r.manifestGet('ns/app', 'big').catch((e: unknown) => e);
        expect(err).toMatchObject({ code: 'MANIFEST_INVALID' });
        expect((err as Error).message).toContain(
          'GET manifest ns/app:big: the answer is larger than 4194304 bytes',
        );
      },
    );
  });

  it('refuses a schema 1 manifest with MANIFEST_INVALID', async () => {
    const v1 = Buffer.from(JSON.stringify({ schemaVersion: 1, name: 'ns/app', fsLayers: [] }));
    await withServer(
      (_req, res) => {
        res.writeHead(200, {
          'content-type': 'application/vnd.docker.distribution.manifest.v1+prettyjws',
        });
        res.end(v1);
      },
      async (r) => {
        await expect(r.manifestGet('ns/app', 'old')).rejects.toMatchObject({
          code: 'MANIFEST_INVALID',
        });
      },
    );
  });
});
