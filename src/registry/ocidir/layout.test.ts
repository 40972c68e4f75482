// Tests for the OCI layout backend, on temporary folders; the real skopeo reads what it
// writes, and copies it into another layout that Ferry then reads back.
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FerryError } from '../../errors/catalog.js';
import { MediaType, type Descriptor, type Manifest } from '../types.js';
import { REF_NAME, type IndexJson } from './indexjson.js';
import { OciLayout } from './layout.js';

const run = promisify(execFile);

function digestOf(bytes: Buffer): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

function descOf(mediaType: string, bytes: Buffer): Descriptor {
  return { mediaType, digest: digestOf(bytes), size: bytes.length };
}

function manifestOf(json: unknown): Manifest {
  const bytes = Buffer.from(JSON.stringify(json));
  const mediaType = (json as { mediaType: string }).mediaType;
  return { mediaType, digest: digestOf(bytes), bytes };
}

/** A small OCI image: a gzip layer, its config, and the manifest naming both. */
interface TestImage {
  config: { desc: Descriptor; bytes: Buffer };
  layer: { desc: Descriptor; bytes: Buffer };
  manifest: Manifest;
}

function makeImage(seed: string, architecture = 'amd64'): TestImage {
  const raw = Buffer.concat([Buffer.from(seed), randomBytes(4096)]);
  const layerBytes = gzipSync(raw);
  const configBytes = Buffer.from(
    JSON.stringify({
      architecture,
      os: 'linux',
      config: {},
      rootfs: { type: 'layers', diff_ids: [digestOf(raw)] },
    }),
  );
  const config = { desc: descOf(MediaType.OciConfig, configBytes), bytes: configBytes };
  const layer = { desc: descOf(MediaType.OciLayer, layerBytes), bytes: layerBytes };
  const manifest = manifestOf({
    schemaVersion: 2,
    mediaType: MediaType.OciManifest,
    config: config.desc,
    layers: [layer.desc],
  });
  return { config, layer, manifest };
}

async function putImage(layout: OciLayout, image: TestImage, ref?: string): Promise<void> {
  for (const blob of [image.config, image.layer]) {
    await layout.blobPut('', blob.desc, Readable.from([blob.bytes]));
  }
  await layout.manifestPut('', ref ?? image.manifest.digest, image.manifest);
}

async function readIndexFile(dir: string): Promise<IndexJson> {
  return JSON.parse(await readFile(join(dir, 'index.json'), 'utf8')) as IndexJson;
}

async function expectCode(promise: Promise<unknown>, code: string): Promise<FerryError> {
  const err: unknown = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(FerryError);
  expect((err as FerryError).code).toBe(code);
  return err as FerryError;
}

let base: string;
let counter = 0;

/** A fresh, not yet existing layout path under the test's temp folder. */
function freshPath(): string {
  counter += 1;
  return join(base, `layout-${counter}`);
}

async function freshLayout(): Promise<{ layout: OciLayout; dir: string }> {
  const dir = freshPath();
  const layout = new OciLayout(dir, { create: true });
  await layout.ping();
  return { layout, dir };
}

beforeAll(async () => {
  base = await mkdtemp(join(tmpdir(), 'ferry-ocidir-'));
});

afterAll(async () => {
  await rm(base, { recursive: true, force: true });
});

describe('OciLayout folder', () => {
  it('creates the layout on ping when create is set', async () => {
    const { dir } = await freshLayout();
    expect(JSON.parse(await readFile(join(dir, 'oci-layout'), 'utf8'))).toEqual({
      imageLayoutVersion: '1.0.0',
    });
    expect((await readIndexFile(dir)).manifests).toEqual([]);
  });

  it('fails ping with IO_ERROR naming the path when the folder is missing or not a layout', async () => {
    const missing = freshPath();
    const err = await expectCode(new OciLayout(missing).ping(), 'IO_ERROR');
    expect(err.message).toContain(missing);
    expect(err.message).not.toContain('\n');

    const plain = freshPath();
    await mkdir(plain);
    const err2 = await expectCode(new OciLayout(plain).ping(), 'IO_ERROR');
    expect(err2.message).toContain(plain);
  });

  it('refuses writes into a folder that is not a layout unless create is set', async () => {
    const missing = freshPath();
    const image = makeImage('no-create');
    await expectCode(
      new OciLayout(missing).blobPut('', image.layer.desc, Readable.from([image.layer.bytes])),
      'IO_ERROR',
    );
    // Created lazily on the first write, without a ping.
    const created = new OciLayout(missing, { create: true });
    await putImage(created, image, 'v1');
    expect(await created.tagList('')).toEqual(['v1']);
  });

  it('reports a corrupt index.json as IO_ERROR naming the file', async () => {
    const { layout, dir } = await freshLayout();
    await writeFile(join(dir, 'index.json'), '{not json');
    const err = await expectCode(layout.tagList(''), 'IO_ERROR');
    expect(err.message).toContain(join(dir, 'index.json'));
  });

  it('is one repository named "", never mounts, and matches only its own folder', async () => {
    const { layout, dir } = await freshLayout();
    expect(layout.name).toBe(`oci:${dir}`);
    expect(await layout.catalogList()).toEqual(['']);
    expect(await layout.blobMount('', 'sha256:' + 'a'.repeat(64), '')).toBe(false);
    expect(layout.sameRegistry(new OciLayout(join(dir, '.', '')))).toBe(true);
    expect(layout.sameRegistry(new OciLayout(`${dir}-other`))).toBe(false);
    await layout.close();
  });

  it('reads a layout not yet created as empty', async () => {
    const layout = new OciLayout(freshPath());
    expect(await layout.tagList('')).toEqual([]);
    expect(await layout.manifestHead('', 'latest')).toBeUndefined();
    await expectCode(layout.manifestGet('', 'latest'), 'MANIFEST_UNKNOWN');
  });
});

describe('OciLayout blobs', () => {
  it('stores a verified blob and serves it whole and from an offset', async () => {
    const { layout, dir } = await freshLayout();
    const bytes = randomBytes(300_000);
    const desc = descOf(MediaType.OciLayer, bytes);
    // Several chunks, so the verifier's hold-back path is taken.
    const chunks = [
      bytes.subarray(0, 1000),
      bytes.subarray(1000, 200_000),
      bytes.subarray(200_000),
    ];
    await layout.blobPut('', desc, Readable.from(chunks));
    expect(await layout.blobHead('', desc.digest)).toBe(bytes.length);
    const file = join(dir, 'blobs', 'sha256', desc.digest.slice('sha256:'.length));
    expect((await readFile(file)).equals(bytes)).toBe(true);
    expect((await buffer(await layout.blobGet('', desc))).equals(bytes)).toBe(true);
    const tail = await buffer(await layout.blobGet('', desc, { offset: 123_456 }));
    expect(tail.equals(bytes.subarray(123_456))).toBe(true);
    expect((await buffer(await layout.blobGet('', desc, { offset: bytes.length }))).length).toBe(0);
    await expectCode(layout.blobGet('', desc, { offset: bytes.length + 1 }), 'INVALID_ARGUMENT');
    expect(await readdir(join(dir, 'blobs', 'sha256'))).toEqual([desc.digest.slice(7)]);
  });

  it('rejects a wrong digest with DIGEST_MISMATCH and leaves no file behind', async () => {
    const { layout, dir } = await freshLayout();
    const bytes = randomBytes(5000);
    const desc = { ...descOf(MediaType.OciLayer, bytes), digest: digestOf(randomBytes(10)) };
    await expectCode(layout.blobPut('', desc, Readable.from([bytes])), 'DIGEST_MISMATCH');
    expect(await readdir(join(dir, 'blobs', 'sha256'))).toEqual([]);
    expect(await layout.blobHead('', desc.digest)).toBeUndefined();
  });

  it('rejects a wrong size with SIZE_MISMATCH (short and long) and leaves no file behind', async () => {
    const { layout, dir } = await freshLayout();
    const bytes = randomBytes(5000);
    const desc = descOf(MediaType.OciLayer, bytes);
    await expectCode(
      layout.blobPut('', { ...desc, size: 5001 }, Readable.from([bytes])),
      'SIZE_MISMATCH',
    );
    await expectCode(
      layout.blobPut('', { ...desc, size: 4999 }, Readable.from([bytes])),
      'SIZE_MISMATCH',
    );
    expect(await readdir(join(dir, 'blobs', 'sha256'))).toEqual([]);
  });

  it('removes the temp file and reports CANCELLED when the upload is aborted', async () => {
    const { layout, dir } = await freshLayout();
    const bytes = randomBytes(64 * 1024);
    const desc = descOf(MediaType.OciLayer, bytes);
    const controller = new AbortController();
    const body = new Readable({ read() {} });
    body.push(bytes.subarray(0, 1000));
    const put = layout.blobPut('', desc, body, { signal: controller.signal });
    setTimeout(() => controller.abort(), 20);
    await expectCode(put, 'CANCELLED');
    expect(await readdir(join(dir, 'blobs', 'sha256'))).toEqual([]);
  });

  it('keeps the error of the body stream', async () => {
    const { layout, dir } = await freshLayout();
    const desc = descOf(MediaType.OciLayer, Buffer.from('x'));
    const body = new Readable({
      read() {
        this.destroy(new FerryError('CONNECTION_FAILED', 'reset by peer'));
      },
    });
    await expectCode(layout.blobPut('', desc, body), 'CONNECTION_FAILED');
    expect(await readdir(join(dir, 'blobs', 'sha256'))).toEqual([]);
  });

  it('destroys the body unread when the blob is already there', async () => {
    const { layout } = await freshLayout();
    const bytes = randomBytes(1000);
    const desc = descOf(MediaType.OciLayer, bytes);
    await layout.blobPut('', desc, Readable.from([bytes]));
    let pulled = false;
    const body = new Readable({
      read() {
        pulled = true;
        this.push(null);
      },
    });
    await layout.blobPut('', desc, body);
    expect(pulled).toBe(false);
    expect(body.destroyed).toBe(true);
  });

  it('answers missing and malformed digests', async () => {
    const { layout } = await freshLayout();
    const missing = digestOf(Buffer.from('missing'));
    expect(await layout.blobHead('', missing)).toBeUndefined();
    await expectCode(
      layout.blobGet('', { mediaType: MediaType.OciLayer, digest: missing, size: 1 }),
      'BLOB_UNKNOWN',
    );
    await expectCode(layout.blobHead('', 'sha256:../../etc/passwd'), 'INVALID_REFERENCE');
  });
});

describe('OciLayout manifests and tags', () => {
  it('puts by tag and reads back by tag and digest, byte for byte', async () => {
    const { layout, dir } = await freshLayout();
    const image = makeImage('tagged');
    await putImage(layout, image, 'v1');
    const { digest, bytes } = image.manifest;
    expect((await readIndexFile(dir)).manifests).toEqual([
      {
        mediaType: MediaType.OciManifest,
        digest,
        size: bytes.length,
        annotations: { [REF_NAME]: 'v1' },
      },
    ]);
    for (const ref of ['v1', digest]) {
      const got = await layout.manifestGet('', ref);
      expect(got).toEqual({ mediaType: MediaType.OciManifest, digest, bytes });
      expect(await layout.manifestHead('', ref)).toEqual({
        mediaType: MediaType.OciManifest,
        digest,
        size: bytes.length,
      });
    }
    expect(await layout.tagList('')).toEqual(['v1']);
  });

  it('replaces a tag, lists tags sorted, and stores children by digest without an entry', async () => {
    const { layout, dir } = await freshLayout();
    const amd = makeImage('amd', 'amd64');
    const arm = makeImage('arm', 'arm64');
    await putImage(layout, amd);
    await putImage(layout, arm);
    expect((await readIndexFile(dir)).manifests).toEqual([]);
    const index = manifestOf({
      schemaVersion: 2,
      mediaType: MediaType.OciIndex,
      manifests: [
        {
          ...descOf(MediaType.OciManifest, amd.manifest.bytes),
          platform: { architecture: 'amd64', os: 'linux' },
        },
        {
          ...descOf(MediaType.OciManifest, arm.manifest.bytes),
          platform: { architecture: 'arm64', os: 'linux' },
        },
      ],
    });
    await layout.manifestPut('', 'zeta', amd.manifest);
    await layout.manifestPut('', 'alpha', index);
    await layout.manifestPut('', 'zeta', index);
    expect(await layout.tagList('')).toEqual(['alpha', 'zeta']);
    const entries = (await readIndexFile(dir)).manifests;
    expect(entries).toHaveLength(2);
    expect(entries.every((e) => e.digest === index.digest)).toBe(true);
    expect((await layout.manifestGet('', 'zeta')).mediaType).toBe(MediaType.OciIndex);
    expect((await layout.manifestGet('', arm.manifest.digest)).bytes).toEqual(arm.manifest.bytes);
  });

  it('refuses a manifest whose bytes do not match its digest or ref', async () => {
    const { layout } = await freshLayout();
    const image = makeImage('bad');
    const other = makeImage('other');
    await expectCode(
      layout.manifestPut('', 'v1', { ...image.manifest, digest: other.manifest.digest }),
      'DIGEST_MISMATCH',
    );
    await expectCode(
      layout.manifestPut('', other.manifest.digest, image.manifest),
      'DIGEST_MISMATCH',
    );
    expect(await layout.tagList('')).toEqual([]);
  });

  it('detects a manifest blob changed on disk', async () => {
    const { layout, dir } = await freshLayout();
    const image = makeImage('corrupt');
    await putImage(layout, image, 'v1');
    const file = join(dir, 'blobs', 'sha256', image.manifest.digest.slice(7));
    await writeFile(file, Buffer.from(JSON.stringify({ schemaVersion: 2, tampered: true })));
    await expectCode(layout.manifestGet('', 'v1'), 'DIGEST_MISMATCH');
  });

  it('answers unknown tags and digests', async () => {
    const { layout } = await freshLayout();
    expect(await layout.manifestHead('', 'nope')).toBeUndefined();
    expect(await layout.manifestHead('', digestOf(Buffer.from('x')))).toBeUndefined();
    await expectCode(layout.manifestGet('', 'nope'), 'MANIFEST_UNKNOWN');
    await expectCode(layout.manifestGet('', digestOf(Buffer.from('x'))), 'MANIFEST_UNKNOWN');
  });

  it('keeps every tag when 20 are put in parallel, through two instances', async () => {
    const { layout, dir } = await freshLayout();
    const second = new OciLayout(dir);
    const images = Array.from({ length: 20 }, (_, i) => makeImage(`parallel-${i}`));
    await Promise.all(
      images.map((image, i) => putImage(i % 2 === 0 ? layout : second, image, `t${i}`)),
    );
    const tags = images.map((_, i) => `t${i}`).sort();
    expect(await layout.tagList('')).toEqual(tags);
    const entries = (await readIndexFile(dir)).manifests;
    expect(entries).toHaveLength(20);
    for (const [i, image] of images.entries()) {
      expect((await layout.manifestHead('', `t${i}`))?.digest).toBe(image.manifest.digest);
    }
    // No temp files left beside index.json.
    expect((await readdir(dir)).sort()).toEqual(['blobs', 'index.json', 'oci-layout']);
  });

  it('deletes a manifest: its tags and its blob', async () => {
    const { layout } = await freshLayout();
    const image = makeImage('delete');
    const keep = makeImage('keep');
    await putImage(layout, image, 'a');
    await layout.manifestPut('', 'b', image.manifest);
    await putImage(layout, keep, 'c');
    await layout.manifestDelete('', image.manifest.digest);
    expect(await layout.tagList('')).toEqual(['c']);
    expect(await layout.manifestHead('', image.manifest.digest)).toBeUndefined();
    // Layers and config stay: other manifests may share them.
    expect(await layout.blobHead('', image.layer.desc.digest)).toBe(image.layer.desc.size);
    await expectCode(layout.manifestDelete('', image.manifest.digest), 'MANIFEST_UNKNOWN');
    await expectCode(layout.manifestDelete('', 'c'), 'INVALID_REFERENCE');
  });
});

describe('OciLayout referrers', () => {
  it('lists manifests whose subject is the digest, and the referrers tag entries', async () => {
    const { layout, dir } = await freshLayout();
    const image = makeImage('subject');
    await putImage(layout, image, 'v1');
    const subject = descOf(MediaType.OciManifest, image.manifest.bytes);
    const emptyBytes = Buffer.from('{}');
    const empty = descOf(MediaType.OciEmpty, emptyBytes);
    await layout.blobPut('', empty, Readable.from([emptyBytes]));
    const sbom = manifestOf({
      schemaVersion: 2,
      mediaType: MediaType.OciManifest,
      artifactType: 'application/spdx+json',
      config: empty,
      layers: [empty],
      subject,
      annotations: { 'org.example': 'sbom' },
    });
    const signature = manifestOf({
      schemaVersion: 2,
      mediaType: MediaType.OciManifest,
      config: { ...empty, mediaType: 'application/vnd.example.signature' },
      layers: [empty],
      subject,
    });
    await layout.manifestPut('', sbom.digest, sbom);
    await layout.manifestPut('', signature.digest, signature);
    // Referrers put by digest get untagged entries so they can be found again.
    const untagged = (await readIndexFile(dir)).manifests.filter((e) => !e.annotations);
    expect(untagged.map((e) => e.digest).sort()).toEqual([sbom.digest, signature.digest].sort());

    const all = await layout.referrerList('', image.manifest.digest);
    expect(all).toEqual([
      {
        ...descOf(MediaType.OciManifest, sbom.bytes),
        artifactType: 'application/spdx+json',
        annotations: { 'org.example': 'sbom' },
      },
      {
        ...descOf(MediaType.OciManifest, signature.bytes),
        artifactType: 'application/vnd.example.signature',
      },
    ]);
    const sboms = await layout.referrerList('', image.manifest.digest, 'application/spdx+json');
    expect(sboms.map((d) => d.digest)).toEqual([sbom.digest]);
    expect(await layout.referrerList('', sbom.digest)).toEqual([]);

    // The fallback schema: an index tagged sha256-<hex> listing more referrers.
    const legacy: Descriptor = {
      mediaType: MediaType.OciManifest,
      digest: digestOf(Buffer.from('legacy')),
      size: 6,
      artifactType: 'application/vnd.example.legacy',
    };
    const fallback = manifestOf({
      schemaVersion: 2,
      mediaType: MediaType.OciIndex,
      manifests: [legacy, { ...descOf(MediaType.OciManifest, sbom.bytes), artifactType: 'x' }],
    });
    await layout.manifestPut('', `sha256-${image.manifest.digest.slice(7)}`, fallback);
    const merged = await layout.referrerList('', image.manifest.digest);
    expect(merged.map((d) => d.digest)).toEqual([sbom.digest, signature.digest, legacy.digest]);
    expect(
      await layout.referrerList('', image.manifest.digest, 'application/vnd.example.legacy'),
    ).toEqual([legacy]);
  });
});

describe('OciLayout and skopeo', () => {
  it('writes a layout skopeo reads and copies, and reads the copy back', async () => {
    const { layout, dir } = await freshLayout();
    const amd = makeImage('skopeo-amd', 'amd64');
    const arm = makeImage('skopeo-arm', 'arm64');
    await putImage(layout, amd, 'single');
    await putImage(layout, arm);
    const index = manifestOf({
      schemaVersion: 2,
      mediaType: MediaType.OciIndex,
      manifests: [
        {
          ...descOf(MediaType.OciManifest, amd.manifest.bytes),
          platform: { architecture: 'amd64', os: 'linux' },
        },
        {
          ...descOf(MediaType.OciManifest, arm.manifest.bytes),
          platform: { architecture: 'arm64', os: 'linux' },
        },
      ],
    });
    await layout.manifestPut('', 'multi', index);

    const raw = async (ref: string): Promise<Buffer> =>
      (await run('skopeo', ['inspect', '--raw', ref], { encoding: 'buffer' })).stdout;
    expect((await raw(`oci:${dir}:single`)).equals(amd.manifest.bytes)).toBe(true);
    expect((await raw(`oci:${dir}:multi`)).equals(index.bytes)).toBe(true);

    const other = freshPath();
    for (const tag of ['single', 'multi']) {
      await run('skopeo', [
        'copy',
        '--quiet',
        '--all',
        '--preserve-digests',
        `oci:${dir}:${tag}`,
        `oci:${other}:${tag}`,
      ]);
    }
    const copy = new OciLayout(other);
    await copy.ping();
    expect(await copy.tagList('')).toEqual(['multi', 'single']);
    expect((await copy.manifestGet('', 'multi')).bytes.equals(index.bytes)).toBe(true);
    expect((await copy.manifestGet('', 'single')).bytes.equals(amd.manifest.bytes)).toBe(true);
    const layer = await buffer(await copy.blobGet('', arm.layer.desc));
    expect(layer.equals(arm.layer.bytes)).toBe(true);
  });
});
