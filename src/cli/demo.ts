// `ferry demo --cli`: shows Ferry's job on one machine. Starts two local registries (Debian's
// docker-registry), pushes a few sample images to the first (a shared base layer, a
// multi-arch index), syncs the whole registry to the second, then syncs again to show
// that an unchanged registry costs only HEAD requests.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { readCliEnvironment } from '../config/env.js';
import { sha256Digest } from '../registry/digest.js';
import { HttpRegistry } from '../registry/http/registry.js';
import { MediaType, type Descriptor, type RegistryBackend } from '../registry/types.js';
import type { CliIo } from './copy.js';
import { runCopy } from './copy.js';
import { startLocalRegistry, type LocalRegistry } from './local-registry.js';

async function putBlob(
  reg: RegistryBackend,
  repo: string,
  bytes: Buffer,
  mediaType: string,
): Promise<Descriptor> {
  const desc = { mediaType, digest: sha256Digest(bytes), size: bytes.length };
  await reg.blobPut(repo, desc, Readable.from([bytes]));
  return desc;
}

/** Pushes a small image (config + layers) and returns its descriptor. */
export async function putImage(
  reg: RegistryBackend,
  repo: string,
  ref: string,
  layers: Buffer[],
  platform = { architecture: 'amd64', os: 'linux' },
): Promise<Descriptor> {
  const config = Buffer.from(
    JSON.stringify({ ...platform, rootfs: { type: 'layers', diff_ids: [] } }),
  );
  const manifest = {
    schemaVersion: 2,
    mediaType: MediaType.OciManifest,
    config: await putBlob(reg, repo, config, MediaType.OciConfig),
    layers: await Promise.all(layers.map((l) => putBlob(reg, repo, l, MediaType.OciLayer))),
  };
  const bytes = Buffer.from(JSON.stringify(manifest, null, 2));
  const digest = sha256Digest(bytes);
  await reg.manifestPut(repo, ref, { mediaType: MediaType.OciManifest, digest, bytes });
  return { mediaType: MediaType.OciManifest, digest, size: bytes.length, platform };
}

async function pushSamples(reg: RegistryBackend): Promise<void> {
  const base = randomBytes(4 << 20);
  await putImage(reg, 'demo/hello', '1.0', [base, randomBytes(1 << 20)]);
  await putImage(reg, 'demo/hello', '1.1', [base, randomBytes(1 << 20)]);
  await putImage(reg, 'tools/team/cli', 'v1', [base, randomBytes(2 << 20)]);
  const children = [
    await putImage(reg, 'demo/multi', 'amd64-only', [randomBytes(1 << 20)]),
    await putImage(reg, 'demo/multi', 'arm64-only', [randomBytes(1 << 20)], {
      architecture: 'arm64',
      os: 'linux',
    }),
  ];
  const index = Buffer.from(
    JSON.stringify({ schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: children }),
  );
  await reg.manifestPut('demo/multi', 'latest', {
    mediaType: MediaType.OciIndex,
    digest: sha256Digest(index),
    bytes: index,
  });
}

/** Runs the demo; returns the exit code. */
export async function runDemo(io: CliIo, keep: boolean): Promise<number> {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-demo-'));
  const started: LocalRegistry[] = [];
  const say = (s: string): boolean => io.stdout.write(`\n== ${s}\n`);
  try {
    say('starting two local registries (Debian docker-registry)');
    const a = await startLocalRegistry({ dir: join(dir, 'a') });
    started.push(a);
    const b = await startLocalRegistry({ dir: join(dir, 'b') });
    started.push(b);
    io.stdout.write(`source: ${a.host}   target: ${b.host}\n`);

    say(`pushing sample images to ${a.host}`);
    const reg = new HttpRegistry({ host: a.host });
    await pushSamples(reg);
    await reg.close();
    io.stdout.write(
      'demo/hello:1.0, demo/hello:1.1, tools/team/cli:v1 (one shared base layer), demo/multi (amd64 + arm64 index)\n',
    );

    const env = readCliEnvironment();
    say(`ferry sync ${a.host} ${b.host}`);
    let code = await runCopy(a.host, b.host, {}, env, io);
    if (code !== 0) return code;
    say(`ferry sync ${a.host} ${b.host}   (again: nothing changed, only HEAD requests)`);
    code = await runCopy(a.host, b.host, {}, env, io);
    if (code !== 0) return code;
    if (keep) {
      io.stdout.write(`\nregistries running: ${a.url} and ${b.url}; Ctrl-C to stop\n`);
      await new Promise<void>((resolve) => process.once('SIGINT', () => resolve()));
    }
    io.stdout.write('\nNext: `ferry sync --help`, README.md and docs/ for the full CLI.\n');
    return 0;
  } finally {
    await Promise.all(started.map((r) => r.stop()));
    await rm(dir, { recursive: true, force: true });
  }
}
