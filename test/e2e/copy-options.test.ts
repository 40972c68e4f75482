// Copy options on real registries: override, tag filters and renaming, platforms, referrers,
// dry run, sync files, and the OCI layout round trip.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sha256Digest } from '../../src/registry/digest.js';
import { runFerry } from '../helpers/cli.js';
import {
  getManifest,
  pushArtifact,
  pushImage,
  pushIndex,
  type PushedArtifact,
  type PushedImage,
} from '../helpers/images.js';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';
import {
  assertImageEqual,
  dockerRef,
  skopeoInspectRaw,
  skopeoListTags,
} from '../helpers/skopeo.js';

const amd64 = { architecture: 'amd64', os: 'linux' };
const arm64 = { architecture: 'arm64', os: 'linux', variant: 'v8' };

describe('copy options', () => {
  let a: TestRegistry;
  let b: TestRegistry;
  let c: TestRegistry;
  let dir: string;
  let v1: PushedImage;
  let v2: PushedImage;
  let multi: PushedImage;
  let sig: PushedArtifact;
  let sbom: PushedArtifact;

  beforeAll(async () => {
    [a, b, c] = await Promise.all([startRegistry(), startRegistry(), startRegistry()]);
    dir = await mkdtemp(join(tmpdir(), 'ferry-options-'));
    const base = { size: 300_000, seed: 'base' };
    v1 = await pushImage(a.url, 'team/app', 'v1', { layers: [base, { size: 5000, seed: 'v1' }] });
    v2 = await pushImage(a.url, 'team/app', 'v2', {
      layers: [base, { size: 5000, seed: 'v2' }],
      format: 'docker',
    });
    await pushImage(a.url, 'team/app', 'v2-rc1', { layers: [{ size: 100, seed: 'rc' }] });
    await pushImage(a.url, 'team/app', 'latest', { layers: [{ size: 100, seed: 'latest' }] });
    multi = await pushIndex(a.url, 'team/multi', 'v1', [
      { platform: amd64, layers: [{ size: 2000, seed: 'amd' }] },
      { platform: arm64, layers: [{ size: 2000, seed: 'arm' }] },
    ]);
    sig = await pushArtifact(a.url, 'team/app', {
      subject: v1.descriptor,
      artifactType: 'application/vnd.example.signature.v1',
      blobs: [{ bytes: Buffer.from('a signature') }],
    });
    // A referrer of a referrer: a signature of the signature.
    sbom = await pushArtifact(a.url, 'team/app', {
      subject: sig.descriptor,
      artifactType: 'application/vnd.example.sbom.v1',
      blobs: [{ bytes: Buffer.from('{"sbom":true}') }],
    });
  });

  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop(), c?.stop()]);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('copies one tag under another repository and tag name', async () => {
    const run = await runFerry('copy', `${a.host}/team/app:v1`, `${b.host}/mirror/app:stable`);
    expect(run.code).toBe(0);
    await assertImageEqual(a.host, 'team/app', 'v1', b.host, 'mirror/app', { dstRef: 'stable' });
  });

  it('leaves a differing target tag untouched without override, replaces it with override', async () => {
    await runFerry('copy', `${a.host}/team/app:v2`, `${b.host}/conflict/app:v1`);
    const before = await skopeoInspectRaw(dockerRef(b.host, 'conflict/app', 'v1'));
    expect(before.digest).toBe(v2.digest);

    const refused = await runFerry('copy', `${a.host}/team/app:v1`, `${b.host}/conflict/app:v1`);
    expect(refused.code).toBe(1);
    expect(refused.stdout).toMatch(
      /^conflict .*TAG_CONFLICT: .*conflict\/app:v1 holds sha256:[0-9a-f]{64}, source has sha256:[0-9a-f]{64} \(use override to replace it\)$/m,
    );
    expect((await skopeoInspectRaw(dockerRef(b.host, 'conflict/app', 'v1'))).digest).toBe(
      v2.digest,
    );

    const replaced = await runFerry(
      'copy',
      '--override',
      `${a.host}/team/app:v1`,
      `${b.host}/conflict/app:v1`,
    );
    expect(replaced.code).toBe(0);
    expect((await skopeoInspectRaw(dockerRef(b.host, 'conflict/app', 'v1'))).digest).toBe(
      v1.digest,
    );
  });

  it('filters tags with anchored allow and deny expressions', async () => {
    const run = await runFerry(
      'copy',
      '--tag',
      'v.*',
      '--exclude-tag',
      '.*-rc.*',
      `${a.host}/team/app`,
      `${b.host}/filtered/app`,
    );
    expect(run.code).toBe(0);
    expect(await skopeoListTags(`docker://${b.host}/filtered/app`)).toEqual(['v1', 'v2']);
  });

  it('a dry run lists what would be copied with its bytes and writes nothing', async () => {
    const run = await runFerry(
      'copy',
      '--dry-run',
      '--json',
      `${a.host}/team/app`,
      `${b.host}/dry/app`,
    );
    expect(run.code).toBe(0);
    const doc = JSON.parse(run.stdout) as {
      summary: { planned: number; bytes: number };
      images: { status: string; bytes: number }[];
    };
    expect(doc.images.every((i) => i.status === 'planned')).toBe(true);
    expect(doc.summary.planned).toBeGreaterThanOrEqual(4);
    // v1 and v2 share the base layer: counted once.
    expect(doc.summary.bytes).toBeGreaterThan(300_000);
    expect(doc.summary.bytes).toBeLessThan(2 * 300_000);
    const res = await fetch(`${b.url}/v2/dry/app/tags/list`);
    expect(res.status).toBe(404);
  });

  it('keeps only the requested platforms, writing a new index (documented digest change)', async () => {
    const run = await runFerry(
      'copy',
      '--platform',
      'linux/arm64',
      `${a.host}/team/multi:v1`,
      `${b.host}/plat/multi:v1`,
    );
    expect(run.code).toBe(0);
    const copied = await skopeoInspectRaw(dockerRef(b.host, 'plat/multi', 'v1'));
    expect(copied.json.manifests?.map((m) => m.platform?.architecture)).toEqual(['arm64']);
    expect(copied.digest).not.toBe(multi.digest);
    expect(copied.digest).toBe(sha256Digest(copied.bytes));
    // The kept child is byte for byte the source's.
    const armChild = multi.children!.find(
      (ch) => ch.descriptor.platform?.architecture === 'arm64',
    )!;
    await assertImageEqual(a.host, 'team/multi', armChild.digest, b.host, 'plat/multi');
    // A re-run is a no-op; all platforms (the default) keep the index digest.
    const again = await runFerry(
      'copy',
      '--json',
      '--platform',
      'linux/arm64',
      `${a.host}/team/multi:v1`,
      `${b.host}/plat/multi:v1`,
    );
    expect(JSON.parse(again.stdout).summary.skipped).toBe(1);
    await runFerry('copy', `${a.host}/team/multi:v1`, `${b.host}/all/multi:v1`);
    expect((await skopeoInspectRaw(dockerRef(b.host, 'all/multi', 'v1'))).digest).toBe(
      multi.digest,
    );
  });

  it('copies referrers, and referrers of referrers, with --referrers', async () => {
    const run = await runFerry(
      'copy',
      '--referrers',
      `${a.host}/team/app:v1`,
      `${c.host}/signed/app:v1`,
    );
    expect(run.code).toBe(0);
    for (const art of [sig, sbom]) {
      const got = await getManifest(c.url, 'signed/app', art.digest);
      expect(got?.bytes.equals(art.manifest)).toBe(true);
    }
    // The target has no referrers API (distribution 2.8): Ferry maintained the fallback tags.
    const index = await getManifest(c.url, 'signed/app', sig.referrersTag);
    expect(
      JSON.parse(index!.bytes.toString()).manifests.map((m: { digest: string }) => m.digest),
    ).toEqual([sig.digest]);
    const index2 = await getManifest(c.url, 'signed/app', sbom.referrersTag);
    expect(
      JSON.parse(index2!.bytes.toString()).manifests.map((m: { digest: string }) => m.digest),
    ).toEqual([sbom.digest]);
    // Without the flag, no referrers.
    await runFerry('copy', `${a.host}/team/app:v1`, `${c.host}/unsigned/app:v1`);
    expect(await getManifest(c.url, 'unsigned/app', sig.digest)).toBeUndefined();
  });

  it('round-trips through an OCI layout folder with every digest equal', async () => {
    const layout = join(dir, 'layout');
    const out = await runFerry('copy', `${a.host}/team/multi`, `oci:${layout}`);
    expect(out.code).toBe(0);
    const out2 = await runFerry('copy', `${a.host}/team/app:v2`, `oci:${layout}:v2`);
    expect(out2.code).toBe(0);
    // skopeo reads the folder as an OCI layout.
    expect((await skopeoInspectRaw(`oci:${layout}:v1`)).digest).toBe(multi.digest);
    const back = await runFerry('copy', `oci:${layout}`, `${c.host}/back/multi`);
    expect(back.code).toBe(0);
    await assertImageEqual(a.host, 'team/multi', 'v1', c.host, 'back/multi', { fullContent: true });
    await assertImageEqual(a.host, 'team/app', 'v2', c.host, 'back/multi', { fullContent: true });
  });

  it('copies a list of repositories of a registry', async () => {
    const run = await runFerry('sync', '--repository', 'team/multi', '--json', a.host, b.host);
    expect(run.code).toBe(0);
    const doc = JSON.parse(run.stdout) as { images: { src: string }[] };
    expect(doc.images.map((i) => i.src)).toEqual([`${a.host}/team/multi:v1`]);
  });

  it('runs a sync file', async () => {
    const file = join(dir, 'sync.yaml');
    await writeFile(
      file,
      `version: 1
defaults: { tags: { deny: ['.*-rc.*'] } }
sync:
  - { source: "${a.host}/team/app", target: "${c.host}/fromfile/app", tags: { allow: ['v.*'] } }
  - { source: "${a.host}", target: "${c.host}", repositories: [team/multi] }
`,
    );
    const run = await runFerry('sync', '--config', file);
    expect(run.code).toBe(0);
    expect(await skopeoListTags(`docker://${c.host}/fromfile/app`)).toEqual(['v1', 'v2']);
    await assertImageEqual(a.host, 'team/multi', 'v1', c.host, 'team/multi');

    await writeFile(file, 'version: 1\nsync: [{ source: a }]\n');
    const bad = await runFerry('sync', '--config', file);
    expect(bad.code).toBe(1);
    expect(bad.stderr.trim()).toBe(`ferry: INVALID_CONFIG: ${file}: sync[0].target: is required`);
  });
});
