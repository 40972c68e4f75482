import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MediaType, type ManifestJson } from '../../src/registry/types.js';
import {
  EMPTY_DESCRIPTOR,
  EMPTY_JSON,
  blobExists,
  generateWorkload,
  getManifest,
  pushArtifact,
  pushBlob,
  pushBlobStream,
  pushImage,
  pushIndex,
  randomBytes,
  randomChunks,
  randomDigest,
  referrersTag,
  sha256Digest,
} from './images.js';
import { startRegistry, type TestRegistry } from './registry.js';
import { dockerRef, skopeoInspectRaw, skopeoListTags } from './skopeo.js';

describe('random bytes', () => {
  it('are deterministic per seed, distinct across seeds, and prefixes of longer runs', () => {
    expect(randomBytes(1000, 'a').equals(randomBytes(1000, 'a'))).toBe(true);
    expect(randomBytes(1000, 'a').equals(randomBytes(1000, 'b'))).toBe(false);
    expect(randomBytes(1000, 1).equals(randomBytes(5000, 1).subarray(0, 1000))).toBe(true);
    expect(Buffer.concat([...randomChunks(3000, 'c', 1024)]).equals(randomBytes(3000, 'c'))).toBe(
      true,
    );
    expect(randomDigest(3000, 'c')).toBe(sha256Digest(randomBytes(3000, 'c')));
    expect(EMPTY_DESCRIPTOR.digest).toBe(sha256Digest(EMPTY_JSON));
  });

  it('make 64 MiB in well under a second', () => {
    const start = performance.now();
    const bytes = randomBytes(64 * 1024 * 1024, 'speed');
    expect(bytes.length).toBe(64 * 1024 * 1024);
    expect(performance.now() - start).toBeLessThan(1000);
  });
});

describe('pushing to a real registry', () => {
  let reg: TestRegistry;
  beforeAll(async () => {
    reg = await startRegistry();
  });
  afterAll(async () => {
    await reg?.stop();
  });

  const blobBytes = async (repo: string, digest: string): Promise<Buffer> => {
    const res = await fetch(`${reg.url}/v2/${repo}/blobs/${digest}`);
    expect(res.status).toBe(200);
    return Buffer.from(await res.arrayBuffer());
  };

  it('pushes a blob once, and streams a large one', async () => {
    const bytes = randomBytes(1000, 'blob');
    const desc = await pushBlob(reg.url, 'blobs/a', bytes);
    expect(desc).toEqual({
      mediaType: MediaType.OciLayer,
      digest: sha256Digest(bytes),
      size: 1000,
    });
    expect(await pushBlob(reg.url, 'blobs/a', bytes)).toEqual(desc);
    expect((await blobBytes('blobs/a', desc.digest)).equals(bytes)).toBe(true);

    const size = 40 * 1024 * 1024 + 7;
    const big = await pushBlobStream(reg.url, 'blobs/a', size, 'big');
    expect(big.size).toBe(size);
    expect(big.digest).toBe(randomDigest(size, 'big'));
    const head = await fetch(`${reg.url}/v2/blobs/a/blobs/${big.digest}`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(Number(head.headers.get('content-length'))).toBe(size);
  });

  it('pushes an OCI image and a Docker image that skopeo reads back byte for byte', async () => {
    for (const format of ['oci', 'docker'] as const) {
      const img = await pushImage(reg.url, `img/${format}`, 'v1', {
        format,
        layers: [{ size: 2048, seed: 'l1' }, { bytes: Buffer.from('explicit layer') }],
      });
      const raw = await skopeoInspectRaw(dockerRef(reg.host, `img/${format}`, 'v1'));
      expect(raw.bytes.equals(img.manifest)).toBe(true);
      expect(raw.digest).toBe(img.digest);
      expect(raw.mediaType).toBe(img.mediaType);
      expect(img.mediaType).toBe(
        format === 'oci' ? MediaType.OciManifest : MediaType.DockerManifest,
      );
      expect(img.blobs).toHaveLength(3);
      expect(img.blobs[0]?.mediaType).toBe(
        format === 'oci' ? MediaType.OciConfig : MediaType.DockerConfig,
      );
      for (const b of img.blobs) {
        const bytes = await blobBytes(`img/${format}`, b.digest);
        expect(sha256Digest(bytes)).toBe(b.digest);
        expect(bytes.length).toBe(b.size);
      }
      const config = JSON.parse(
        (await blobBytes(`img/${format}`, img.blobs[0]!.digest)).toString(),
      );
      expect(config).toMatchObject({ architecture: 'amd64', os: 'linux' });
    }
  });

  it('pushes an OCI index and a Docker manifest list, children by digest', async () => {
    for (const format of ['oci', 'docker'] as const) {
      const repo = `multi/${format}`;
      const idx = await pushIndex(
        reg.url,
        repo,
        'latest',
        [
          { platform: { architecture: 'amd64', os: 'linux' }, layers: [{ size: 100, seed: 'a' }] },
          {
            platform: { architecture: 'arm', os: 'linux', variant: 'v7' },
            layers: [{ size: 100, seed: 'b' }],
          },
        ],
        format,
      );
      expect(idx.mediaType).toBe(
        format === 'oci' ? MediaType.OciIndex : MediaType.DockerManifestList,
      );
      const raw = await skopeoInspectRaw(dockerRef(reg.host, repo, 'latest'));
      expect(raw.bytes.equals(idx.manifest)).toBe(true);
      expect(raw.digest).toBe(idx.digest);
      expect(raw.json.manifests?.map((m) => m.platform?.architecture)).toEqual(['amd64', 'arm']);
      for (const child of idx.children ?? []) {
        const c = await skopeoInspectRaw(dockerRef(reg.host, repo, child.digest));
        expect(c.bytes.equals(child.manifest)).toBe(true);
        expect(c.mediaType).toBe(
          format === 'oci' ? MediaType.OciManifest : MediaType.DockerManifest,
        );
      }
      expect(idx.blobs).toHaveLength(4);
    }
  });

  it('pushes artifacts and keeps their referrers tag index up to date', async () => {
    const repo = 'art/app';
    const img = await pushImage(reg.url, repo, 'v1', { layers: [{ size: 10, seed: 's' }] });
    const sig = await pushArtifact(reg.url, repo, {
      subject: img.descriptor,
      artifactType: 'application/vnd.example.signature',
      blobs: [{ bytes: Buffer.from('signature') }],
      annotations: { 'org.example.kind': 'sig' },
    });
    const sbom = await pushArtifact(reg.url, repo, {
      subject: img.descriptor,
      artifactType: 'application/vnd.example.sbom',
    });
    expect(sig.referrersTag).toBe(`sha256-${img.digest.slice('sha256:'.length)}`);
    expect(referrersTag(img.digest)).toBe(sig.referrersTag);

    const raw = await skopeoInspectRaw(dockerRef(reg.host, repo, sig.digest));
    expect(raw.bytes.equals(sig.manifest)).toBe(true);
    expect(raw.json).toMatchObject({
      artifactType: 'application/vnd.example.signature',
      config: EMPTY_DESCRIPTOR,
      subject: { digest: img.digest, size: img.manifest.length, mediaType: img.mediaType },
    });
    const sbomJson = JSON.parse(sbom.manifest.toString()) as ManifestJson;
    expect(sbomJson.layers).toEqual([EMPTY_DESCRIPTOR]);

    const index = await skopeoInspectRaw(dockerRef(reg.host, repo, sig.referrersTag));
    expect(index.bytes.equals(sbom.referrersIndex)).toBe(true);
    expect(index.json.manifests).toEqual([sig.descriptor, sbom.descriptor]);
    expect(index.json.manifests?.[0]?.artifactType).toBe('application/vnd.example.signature');
    expect(await skopeoListTags(`docker://${reg.host}/${repo}`)).toEqual(
      [sig.referrersTag, 'v1'].sort(),
    );
    // Pushing the same artifact again leaves the index alone.
    const again = await pushArtifact(reg.url, repo, {
      subject: img.descriptor,
      artifactType: 'application/vnd.example.sbom',
    });
    expect(again.referrersIndexDigest).toBe(sbom.referrersIndexDigest);
  });

  it('generates a workload over namespaces, with shared, multi-arch and large layers', async () => {
    const spec = {
      repositories: 4,
      tagsPerRepository: 3,
      totalBytes: 8 * 1024 * 1024,
      baseLayerSize: 256 * 1024,
      largeLayerSize: 2 * 1024 * 1024,
      seed: 'wl-test',
    };
    const wl = await generateWorkload(reg.url, spec);
    expect(wl.repositories).toEqual(['ns1/app0', 'ns2/team/app1', 'ns3/app2', 'ns1/app3']);
    expect(wl.images).toHaveLength(12);
    expect(Math.abs(wl.totalUniqueBytes - spec.totalBytes)).toBeLessThan(spec.totalBytes * 0.05);
    expect(wl.totalRepositoryBytes).toBeGreaterThan(wl.totalUniqueBytes);
    const types = new Set(wl.images.map((i) => i.mediaType));
    expect(types).toEqual(
      new Set([
        MediaType.OciManifest,
        MediaType.DockerManifest,
        MediaType.OciIndex,
        MediaType.DockerManifestList,
      ]),
    );
    // Base layers are in every image, the large layer in the first one.
    for (const img of wl.images) {
      for (const base of wl.baseLayers) {
        expect(img.blobs.map((b) => b.digest)).toContain(base.digest);
        expect(await blobExists(reg.url, img.repository, base.digest)).toBe(true);
      }
    }
    expect(wl.images[0]?.blobs.map((b) => b.digest)).toContain(wl.largeLayer?.digest);
    expect(wl.manifestCount).toBe(12 + wl.images.filter((i) => i.children).length * 2);

    for (const img of wl.images.filter((i) => i.children).slice(0, 2)) {
      const raw = await getManifest(reg.url, img.repository, img.tag ?? '');
      expect(raw?.bytes.equals(img.manifest)).toBe(true);
    }
    expect(await skopeoListTags(`docker://${reg.host}/ns2/team/app1`)).toEqual(['v0', 'v1', 'v2']);

    // Same spec, same digests.
    const again = await generateWorkload(reg.url, spec);
    expect(again.images.map((i) => i.digest)).toEqual(wl.images.map((i) => i.digest));
    const catalog = (await (await fetch(`${reg.url}/v2/_catalog`)).json()) as {
      repositories: string[];
    };
    expect(catalog.repositories).toEqual(expect.arrayContaining(wl.repositories));
  });
});
