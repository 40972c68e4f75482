// Must show (issue 2): a whole registry with several namespaces, multi-arch tags (OCI index
// and Docker manifest list), shared base layers, an artifact with a subject and a 64 MiB
// layer is copied by the real `ferry` executable, checked independently with skopeo; a
// second run transfers no blob and GETs no manifest.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MediaType } from '../../src/registry/types.js';
import { spawnFerry, runFerry } from '../helpers/cli.js';
import { startFaultProxy, type FaultProxy } from '../helpers/fault-proxy.js';
import {
  generateWorkload,
  pushArtifact,
  type PushedArtifact,
  type Workload,
} from '../helpers/images.js';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';
import {
  assertImageEqual,
  dockerRef,
  skopeoInspectRaw,
  skopeoListTags,
} from '../helpers/skopeo.js';

describe('ferry sync REGISTRY REGISTRY', () => {
  let a: TestRegistry;
  let b: TestRegistry;
  let workload: Workload;
  let artifact: PushedArtifact;
  const proxies: FaultProxy[] = [];

  beforeAll(async () => {
    [a, b] = await Promise.all([startRegistry(), startRegistry()]);
    workload = await generateWorkload(a.url, {
      repositories: 5,
      tagsPerRepository: 3,
      totalBytes: 24_000_000,
      largeLayerSize: 64 << 20,
      multiArchTags: 4,
      seed: 'e2e-sync',
    });
    const first = workload.images[0]!;
    artifact = await pushArtifact(a.url, first.repository, {
      subject: first.descriptor,
      artifactType: 'application/vnd.example.signature.v1',
      blobs: [{ bytes: Buffer.from('signature bytes') }],
    });
  });

  afterAll(async () => {
    await Promise.all(proxies.map((p) => p.stop()));
    await Promise.all([a?.stop(), b?.stop()]);
  });

  it('copies every repository, tag, manifest and blob exactly', async () => {
    // The workload really covers what the issue asks for.
    const types = new Set(workload.images.map((i) => i.mediaType));
    expect(types).toContain(MediaType.OciIndex);
    expect(types).toContain(MediaType.DockerManifestList);
    expect(types).toContain(MediaType.DockerManifest);
    expect(types).toContain(MediaType.OciManifest);
    expect(workload.largeLayer?.size).toBeGreaterThanOrEqual(64 << 20);
    expect(new Set(workload.repositories.map((r) => r.split('/')[0])).size).toBeGreaterThan(1);

    const run = await spawnFerry(['sync', a.host, b.host]);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const tags = workload.images.length + 1; // + the referrers tag of the artifact
    const lines = run.stdout.trim().split('\n');
    expect(lines.at(-1)).toMatch(
      new RegExp(`^ferry: ${tags} images: ${tags} copied, 0 skipped, 0 conflicts, 0 failed; `),
    );
    expect(lines.filter((l) => l.startsWith('copied '))).toHaveLength(tags);

    for (const repo of workload.repositories) {
      expect(await skopeoListTags(`docker://${b.host}/${repo}`)).toEqual(
        await skopeoListTags(`docker://${a.host}/${repo}`),
      );
    }
    for (const image of workload.images) {
      // Full content (download and hash every blob) for the image holding the 64 MiB layer.
      const fullContent = image.blobs.some((d) => d.digest === workload.largeLayer?.digest);
      await assertImageEqual(a.host, image.repository, image.tag!, b.host, image.repository, {
        fullContent,
      });
    }
    // The artifact with a subject, reached through the referrers tag, byte for byte.
    const copied = await skopeoInspectRaw(dockerRef(b.host, artifact.repository, artifact.digest));
    expect(copied.bytes.equals(artifact.manifest)).toBe(true);
    expect(copied.json.subject?.digest).toBe(workload.images[0]!.digest);
    await assertImageEqual(
      a.host,
      artifact.repository,
      artifact.referrersTag,
      b.host,
      artifact.repository,
    );
  });

  it('a second run with nothing changed transfers no blob and GETs no manifest', async () => {
    const pa = await startFaultProxy(a.url);
    const pb = await startFaultProxy(b.url);
    proxies.push(pa, pb);
    const run = await runFerry('sync', pa.host, pb.host, '--json');
    expect(run.code).toBe(0);
    const doc = JSON.parse(run.stdout) as {
      summary: { images: number; skipped: number; bytes: number };
    };
    expect(doc.summary.images).toBe(workload.images.length + 1);
    expect(doc.summary.skipped).toBe(doc.summary.images);
    expect(doc.summary.bytes).toBe(0);
    for (const p of [pa, pb]) {
      expect(p.count({ kind: 'blob', method: 'GET' })).toBe(0);
      expect(p.count({ kind: 'manifest', method: 'GET' })).toBe(0);
      expect(p.count({ kind: 'upload' })).toBe(0);
      expect(p.count({ kind: 'manifest', method: 'PUT' })).toBe(0);
    }
    // What it did instead: one HEAD per tag on each side.
    expect(pa.count({ kind: 'manifest', method: 'HEAD' })).toBe(doc.summary.images);
    expect(pb.count({ kind: 'manifest', method: 'HEAD' })).toBe(doc.summary.images);
  });
});
