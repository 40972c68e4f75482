import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pushArtifact, pushImage, pushIndex, pushManifest, sha256Digest } from './images.js';
import { startRegistry, type TestRegistry } from './registry.js';
import {
  assertImageEqual,
  dockerRef,
  skopeoCopy,
  skopeoInspectRaw,
  skopeoListTags,
  verifyImageEqual,
} from './skopeo.js';

describe('skopeo helpers', () => {
  let src: TestRegistry;
  let dst: TestRegistry;
  beforeAll(async () => {
    [src, dst] = await Promise.all([startRegistry(), startRegistry()]);
  });
  afterAll(async () => {
    await Promise.all([src?.stop(), dst?.stop()]);
  });

  it('builds docker references from tags and digests', () => {
    expect(dockerRef('h:1', 'a/b', 'v1')).toBe('docker://h:1/a/b:v1');
    expect(dockerRef('h:1', 'a/b', 'sha256:ab')).toBe('docker://h:1/a/b@sha256:ab');
  });

  it('copies an index with its referrers, and verifies the copy equal', async () => {
    const idx = await pushIndex(src.url, 'app/multi', 'v1', [
      { platform: { architecture: 'amd64', os: 'linux' }, layers: [{ size: 3000, seed: 1 }] },
      { platform: { architecture: 'arm64', os: 'linux' }, layers: [{ size: 3000, seed: 2 }] },
    ]);
    const sig = await pushArtifact(src.url, 'app/multi', {
      subject: idx.descriptor,
      artifactType: 'application/vnd.example.sig',
      blobs: [{ bytes: Buffer.from('sig') }],
    });

    const raw = await skopeoInspectRaw(dockerRef(src.host, 'app/multi', 'v1'));
    expect(raw.digest).toBe(idx.digest);
    expect(raw.bytes.equals(idx.manifest)).toBe(true);

    await skopeoCopy(
      dockerRef(src.host, 'app/multi', 'v1'),
      dockerRef(dst.host, 'copy/multi', 'v1'),
    );
    // skopeo 1.9 cannot copy an index of artifacts; the generator is deterministic, so
    // pushing the same artifact at the destination gives the same bytes.
    await pushArtifact(dst.url, 'copy/multi', {
      subject: idx.descriptor,
      artifactType: 'application/vnd.example.sig',
      blobs: [{ bytes: Buffer.from('sig') }],
    });
    expect(await skopeoListTags(`docker://${dst.host}/copy/multi`)).toEqual(
      [sig.referrersTag, 'v1'].sort(),
    );

    const result = await assertImageEqual(src.host, 'app/multi', 'v1', dst.host, 'copy/multi', {
      referrers: true,
      fullContent: true,
    });
    // index, two children, the referrers index, the signature
    expect(result.manifests).toEqual([
      idx.digest,
      ...(idx.children ?? []).map((c) => c.digest),
      sig.referrersIndexDigest,
      sig.digest,
    ]);
    expect(result.blobs.map((b) => b.digest).sort()).toEqual(
      [...idx.blobs, ...sig.blobs].map((b) => b.digest).sort(),
    );
  });

  it('reports missing blobs, missing manifests and different bytes', async () => {
    const img = await pushImage(src.url, 'app/one', 'v1', {
      layers: [
        { size: 500, seed: 'x' },
        { size: 600, seed: 'y' },
      ],
    });
    // Destination: same manifest bytes, but only the config pushed (a registry would refuse
    // the manifest without its layers, so push them elsewhere and delete one).
    await pushImage(dst.url, 'bad/one', 'v1', {
      layers: [
        { size: 500, seed: 'x' },
        { size: 600, seed: 'y' },
      ],
    });
    const layer = img.blobs[2]!;
    const del = await fetch(`${dst.url}/v2/bad/one/blobs/${layer.digest}`, { method: 'DELETE' });
    expect(del.status).toBe(202);

    const missingBlob = await verifyImageEqual(src.host, 'app/one', 'v1', dst.host, 'bad/one');
    expect(missingBlob.ok).toBe(false);
    expect(missingBlob.problems).toEqual([`blob ${layer.digest}: HTTP 404 at bad/one`]);

    const missing = await verifyImageEqual(src.host, 'app/one', 'v1', dst.host, 'none/here');
    expect(missing.ok).toBe(false);
    expect(missing.problems[0]).toMatch(/^manifest none\/here:v1 at /);

    // Same content, different formatting: different bytes, different digest.
    const reformatted = Buffer.from(JSON.stringify(JSON.parse(img.manifest.toString())));
    await pushImage(dst.url, 'fmt/one', 'v0', {
      layers: [
        { size: 500, seed: 'x' },
        { size: 600, seed: 'y' },
      ],
    });
    await pushManifest(dst.url, 'fmt/one', 'v1', img.mediaType, reformatted);
    const differ = await verifyImageEqual(src.host, 'app/one', 'v1', dst.host, 'fmt/one');
    expect(differ.problems).toEqual([
      `manifest app/one:v1: destination bytes ${sha256Digest(reformatted)} differ from source ${img.digest}`,
    ]);
    await expect(assertImageEqual(src.host, 'app/one', 'v1', dst.host, 'fmt/one')).rejects.toThrow(
      /differ from source/,
    );

    // A copy under another tag verifies with dstRef.
    await skopeoCopy(dockerRef(src.host, 'app/one', 'v1'), dockerRef(dst.host, 'ok/one', 'other'));
    const ok = await verifyImageEqual(src.host, 'app/one', 'v1', dst.host, 'ok/one', {
      dstRef: 'other',
    });
    expect(ok.problems).toEqual([]);

    // Flip a byte of a layer in the destination's storage: HEAD still passes, a full read does not.
    const hex = layer.digest.slice('sha256:'.length);
    const file = join(
      dst.dir,
      'data/docker/registry/v2/blobs/sha256',
      hex.slice(0, 2),
      hex,
      'data',
    );
    const bytes = await readFile(file);
    bytes[0] = (bytes[0] ?? 0) ^ 0xff;
    await writeFile(file, bytes);
    const headOnly = await verifyImageEqual(src.host, 'app/one', 'v1', dst.host, 'ok/one', {
      dstRef: 'other',
    });
    expect(headOnly.ok).toBe(true);
    const full = await verifyImageEqual(src.host, 'app/one', 'v1', dst.host, 'ok/one', {
      dstRef: 'other',
      fullContent: true,
    });
    expect(full.problems).toEqual([
      `blob ${layer.digest}: content hashes to ${sha256Digest(bytes)} at ok/one`,
    ]);
  });
});
