// Test image generator: deterministic random blobs, image manifests, indexes, Docker manifest
// lists and OCI artifacts, pushed to a registry over plain HTTP with Node's own `fetch` and
// `node:http`. It deliberately shares no code with Ferry's registry client, so a bug there
// cannot hide itself in the fixtures.
import { createCipheriv, createHash } from 'node:crypto';
import { request } from 'node:http';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { MediaType, type Descriptor, type Platform } from '../../src/registry/types.js';

/** The 2-byte `{}` blob OCI uses as an empty config (image spec 1.1, "Guidance for an Empty Descriptor"). */
export const EMPTY_JSON = Buffer.from('{}');

/** Descriptor of `EMPTY_JSON`. */
export const EMPTY_DESCRIPTOR: Descriptor = {
  mediaType: MediaType.OciEmpty,
  digest: 'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a',
  size: 2,
};

/** Layers above this size are streamed by `pushImage` instead of built in memory. */
export const STREAM_THRESHOLD = 16 * 1024 * 1024;

const CHUNK = 1024 * 1024;

/** `sha256:<hex>` of some bytes. */
export function sha256Digest(bytes: Buffer | Uint8Array): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

function keystream(seed: string | number) {
  // AES-256-CTR over zeros is a fast (GB/s with AES-NI), seedable, well-mixed byte source.
  const key = createHash('sha256')
    .update(`ferry-test-bytes:${String(seed)}`)
    .digest();
  return createCipheriv('aes-256-ctr', key, Buffer.alloc(16));
}

/** `size` pseudo-random bytes, always the same for the same seed (a prefix of longer sizes). */
export function randomBytes(size: number, seed: string | number): Buffer {
  if (size === 0) return Buffer.alloc(0);
  return keystream(seed).update(Buffer.alloc(size));
}

/** The bytes of `randomBytes(size, seed)` as chunks, without holding them all in memory. */
export function* randomChunks(
  size: number,
  seed: string | number,
  chunkSize = CHUNK,
): Generator<Buffer> {
  const cipher = keystream(seed);
  const zeros = Buffer.alloc(Math.min(chunkSize, size));
  let left = size;
  while (left > 0) {
    const n = Math.min(left, zeros.length);
    yield cipher.update(n === zeros.length ? zeros : zeros.subarray(0, n));
    left -= n;
  }
}

/** The digest of `randomBytes(size, seed)`, computed in chunks. */
export function randomDigest(size: number, seed: string | number): string {
  const hash = createHash('sha256');
  for (const chunk of randomChunks(size, seed)) hash.update(chunk);
  return `sha256:${hash.digest('hex')}`;
}

// Node's fetch types want an ArrayBuffer-backed view; a Buffer is one, without a copy.
function asBody(bytes: Buffer): Uint8Array<ArrayBuffer> {
  return new Uint8Array(bytes.buffer as ArrayBuffer, bytes.byteOffset, bytes.length);
}

function trimUrl(baseUrl: string): string {
  return baseUrl.replace(/\/+$/, '');
}

async function failure(what: string, res: Response): Promise<Error> {
  const text = await res.text().catch(() => '');
  return new Error(`${what}: HTTP ${res.status} ${text.slice(0, 500)}`);
}

/** True when the registry already has the blob in `repo`. */
export async function blobExists(baseUrl: string, repo: string, digest: string): Promise<boolean> {
  const res = await fetch(`${trimUrl(baseUrl)}/v2/${repo}/blobs/${digest}`, { method: 'HEAD' });
  await res.arrayBuffer();
  return res.status === 200;
}

async function startUpload(baseUrl: string, repo: string, digest: string): Promise<URL> {
  const res = await fetch(`${trimUrl(baseUrl)}/v2/${repo}/blobs/uploads/`, { method: 'POST' });
  if (res.status !== 202) throw await failure(`POST upload ${repo}`, res);
  await res.arrayBuffer();
  const location = res.headers.get('location');
  if (!location) throw new Error(`POST upload ${repo}: no Location header`);
  // The Location may be relative (distribution spec, "Pushing a blob monolithically").
  const url = new URL(location, trimUrl(baseUrl));
  url.searchParams.set('digest', digest);
  return url;
}

/** Uploads a blob (POST then PUT with the bytes) unless HEAD finds it; returns its descriptor. */
export async function pushBlob(
  baseUrl: string,
  repo: string,
  bytes: Buffer,
  mediaType: string = MediaType.OciLayer,
): Promise<Descriptor> {
  const desc: Descriptor = { mediaType, digest: sha256Digest(bytes), size: bytes.length };
  if (await blobExists(baseUrl, repo, desc.digest)) return desc;
  const url = await startUpload(baseUrl, repo, desc.digest);
  const res = await fetch(url, {
    method: 'PUT',
    headers: { 'content-type': 'application/octet-stream' },
    body: asBody(bytes),
  });
  if (res.status !== 201) throw await failure(`PUT blob ${repo}@${desc.digest}`, res);
  await res.arrayBuffer();
  return desc;
}

/**
 * Streams `randomBytes(size, seed)` as a blob without holding it in memory: a first pass over
 * the generator computes the digest, a second one feeds a `node:http` PUT with Content-Length.
 */
export async function pushBlobStream(
  baseUrl: string,
  repo: string,
  size: number,
  seed: string | number,
  mediaType: string = MediaType.OciLayer,
): Promise<Descriptor> {
  const desc: Descriptor = { mediaType, digest: randomDigest(size, seed), size };
  if (await blobExists(baseUrl, repo, desc.digest)) return desc;
  const url = await startUpload(baseUrl, repo, desc.digest);
  const req = request(url, {
    method: 'PUT',
    headers: { 'content-type': 'application/octet-stream', 'content-length': String(size) },
  });
  const response = new Promise<{ status: number; body: string }>((resolve, reject) => {
    req.once('error', reject);
    req.once('response', (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (s: string) => (body += s));
      res.once('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.once('error', reject);
    });
  });
  await pipeline(Readable.from(randomChunks(size, seed)), req);
  const { status, body } = await response;
  if (status !== 201) {
    throw new Error(`PUT blob ${repo}@${desc.digest}: HTTP ${status} ${body.slice(0, 500)}`);
  }
  return desc;
}

/** Mounts a blob from another repository of the same registry; false when the registry declined. */
export async function mountBlob(
  baseUrl: string,
  repo: string,
  digest: string,
  fromRepo: string,
): Promise<boolean> {
  const query = new URLSearchParams({ mount: digest, from: fromRepo });
  const res = await fetch(`${trimUrl(baseUrl)}/v2/${repo}/blobs/uploads/?${query}`, {
    method: 'POST',
  });
  await res.arrayBuffer();
  // 202 means the registry opened an upload instead; it is left to expire.
  return res.status === 201;
}

/** PUTs manifest bytes under a tag or digest; returns their digest (checked against the registry's). */
export async function pushManifest(
  baseUrl: string,
  repo: string,
  ref: string,
  mediaType: string,
  bytes: Buffer,
): Promise<string> {
  const digest = sha256Digest(bytes);
  const res = await fetch(`${trimUrl(baseUrl)}/v2/${repo}/manifests/${ref}`, {
    method: 'PUT',
    headers: { 'content-type': mediaType },
    body: asBody(bytes),
  });
  if (res.status !== 201) throw await failure(`PUT manifest ${repo}:${ref}`, res);
  await res.arrayBuffer();
  const echoed = res.headers.get('docker-content-digest');
  if (echoed && echoed !== digest) {
    throw new Error(`PUT manifest ${repo}:${ref}: registry says ${echoed}, bytes are ${digest}`);
  }
  return digest;
}

/** GETs a manifest's raw bytes, or undefined on 404. */
export async function getManifest(
  baseUrl: string,
  repo: string,
  ref: string,
): Promise<{ mediaType: string; digest: string; bytes: Buffer } | undefined> {
  const res = await fetch(`${trimUrl(baseUrl)}/v2/${repo}/manifests/${ref}`, {
    headers: {
      accept: [
        MediaType.OciIndex,
        MediaType.OciManifest,
        MediaType.DockerManifestList,
        MediaType.DockerManifest,
      ].join(', '),
    },
  });
  if (res.status === 404) {
    await res.arrayBuffer();
    return undefined;
  }
  if (res.status !== 200) throw await failure(`GET manifest ${repo}:${ref}`, res);
  const bytes = Buffer.from(await res.arrayBuffer());
  return {
    mediaType: res.headers.get('content-type') ?? '',
    digest: sha256Digest(bytes),
    bytes,
  };
}

/** A layer or artifact blob: generated from a seed, given bytes, or an already pushed blob. */
export type BlobSpec =
  | { size: number; seed: string | number; mediaType?: string }
  | { bytes: Buffer; mediaType?: string }
  | { descriptor: Descriptor };

/** Manifest formats: OCI (image manifest, index) or Docker schema 2 (manifest, manifest list). */
export type ImageFormat = 'oci' | 'docker';

/** What `pushImage` builds. */
export interface ImageSpec {
  layers: BlobSpec[];
  /** Default `oci`. */
  format?: ImageFormat;
  /** Written into the config blob (default linux/amd64). */
  platform?: Platform;
  /** Manifest annotations (OCI only). */
  annotations?: Record<string, string>;
  /** Extra keys merged into the config JSON (e.g. `{ config: { Labels } }`) to vary the config. */
  config?: Record<string, unknown>;
}

/** Something pushed: a manifest (image, index, list or artifact) and every blob under it. */
export interface PushedImage {
  repository: string;
  /** Undefined when pushed by digest only. */
  tag: string | undefined;
  digest: string;
  mediaType: string;
  /** The exact manifest bytes pushed. */
  manifest: Buffer;
  /** The manifest's own descriptor (with `platform` for an index child). */
  descriptor: Descriptor;
  /** Every blob under this manifest (config first, then layers; for an index, its children's). */
  blobs: Descriptor[];
  /** For an index or manifest list: the child images, in order. */
  children?: PushedImage[];
}

const DEFAULT_PLATFORM: Platform = { architecture: 'amd64', os: 'linux' };

/** Pushes one blob described by a `BlobSpec` (streaming big generated ones). */
export async function pushBlobSpec(
  baseUrl: string,
  repo: string,
  spec: BlobSpec,
  defaultMediaType: string,
): Promise<Descriptor> {
  if ('descriptor' in spec) return spec.descriptor;
  const mediaType = spec.mediaType ?? defaultMediaType;
  if ('bytes' in spec) return pushBlob(baseUrl, repo, spec.bytes, mediaType);
  if (spec.size > STREAM_THRESHOLD) {
    return pushBlobStream(baseUrl, repo, spec.size, spec.seed, mediaType);
  }
  return pushBlob(baseUrl, repo, randomBytes(spec.size, spec.seed), mediaType);
}

function json(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value, null, 2));
}

/** Pushes an image (layers, a small config JSON, the manifest) under `tag`, or by digest when undefined. */
export async function pushImage(
  baseUrl: string,
  repo: string,
  tag: string | undefined,
  spec: ImageSpec,
): Promise<PushedImage> {
  const format = spec.format ?? 'oci';
  const layerType = format === 'oci' ? MediaType.OciLayer : MediaType.DockerLayer;
  const layers: Descriptor[] = [];
  for (const layer of spec.layers) layers.push(await pushBlobSpec(baseUrl, repo, layer, layerType));
  const platform = spec.platform ?? DEFAULT_PLATFORM;
  // The layers are not real tarballs, so their digests stand in for the diff IDs.
  const configJson = json({
    architecture: platform.architecture,
    os: platform.os,
    ...(platform.variant ? { variant: platform.variant } : {}),
    created: '2024-01-01T00:00:00Z',
    rootfs: { type: 'layers', diff_ids: layers.map((l) => l.digest) },
    config: {},
    ...spec.config,
  });
  const config = await pushBlob(
    baseUrl,
    repo,
    configJson,
    format === 'oci' ? MediaType.OciConfig : MediaType.DockerConfig,
  );
  const mediaType = format === 'oci' ? MediaType.OciManifest : MediaType.DockerManifest;
  const manifest = json({
    schemaVersion: 2,
    mediaType,
    config,
    layers,
    ...(spec.annotations && format === 'oci' ? { annotations: spec.annotations } : {}),
  });
  return pushPushed(baseUrl, repo, tag, mediaType, manifest, [config, ...layers], { platform });
}

/** Pushes a manifest under its tag (or its digest) and describes what was pushed. */
async function pushPushed(
  baseUrl: string,
  repo: string,
  tag: string | undefined,
  mediaType: string,
  manifest: Buffer,
  blobs: Descriptor[],
  extra: { platform?: Platform; children?: PushedImage[] } = {},
): Promise<PushedImage> {
  const digest = await pushManifest(
    baseUrl,
    repo,
    tag ?? sha256Digest(manifest),
    mediaType,
    manifest,
  );
  const descriptor: Descriptor = { mediaType, digest, size: manifest.length };
  if (extra.platform) descriptor.platform = extra.platform;
  const pushed: PushedImage = {
    repository: repo,
    tag,
    digest,
    mediaType,
    manifest,
    descriptor,
    blobs,
  };
  if (extra.children) pushed.children = extra.children;
  return pushed;
}

/** One platform of an index or manifest list. */
export interface IndexChildSpec {
  platform: Platform;
  layers: BlobSpec[];
  annotations?: Record<string, string>;
  config?: Record<string, unknown>;
}

function uniqueBlobs(descs: Descriptor[]): Descriptor[] {
  const seen = new Map<string, Descriptor>();
  for (const d of descs) if (!seen.has(d.digest)) seen.set(d.digest, d);
  return [...seen.values()];
}

/** Pushes each child image by digest, then an OCI index (`oci`) or Docker manifest list (`docker`) under `tag`. */
export async function pushIndex(
  baseUrl: string,
  repo: string,
  tag: string | undefined,
  children: IndexChildSpec[],
  format: ImageFormat = 'oci',
): Promise<PushedImage> {
  const pushed: PushedImage[] = [];
  for (const child of children) {
    pushed.push(await pushImage(baseUrl, repo, undefined, { ...child, format }));
  }
  const mediaType = format === 'oci' ? MediaType.OciIndex : MediaType.DockerManifestList;
  const manifest = json({
    schemaVersion: 2,
    mediaType,
    manifests: pushed.map((c) => c.descriptor),
  });
  return pushPushed(
    baseUrl,
    repo,
    tag,
    mediaType,
    manifest,
    uniqueBlobs(pushed.flatMap((c) => c.blobs)),
    {
      children: pushed,
    },
  );
}

/** What `pushArtifact` attaches to a subject. */
export interface ArtifactSpec {
  /** The manifest this artifact refers to (same repository). */
  subject: Descriptor;
  artifactType: string;
  /** Default media type `application/octet-stream`; none gives the one empty-descriptor layer. */
  blobs?: BlobSpec[];
  annotations?: Record<string, string>;
}

/** A pushed artifact, plus the referrers-tag index that lists it. */
export interface PushedArtifact extends PushedImage {
  /** `sha256-<hex of the subject digest>` (OCI distribution spec 1.1, referrers tag schema). */
  referrersTag: string;
  /** The index now under `referrersTag`. */
  referrersIndex: Buffer;
  referrersIndexDigest: string;
}

/** The referrers tag schema's tag for a subject digest: `<alg>-<ref>`, the hex cut to 64 characters. */
export function referrersTag(subjectDigest: string): string {
  const [alg, hex] = subjectDigest.split(':');
  return `${alg ?? ''}-${(hex ?? '').slice(0, 64)}`;
}

/**
 * Pushes an OCI artifact (image manifest with `artifactType`, empty config and `subject`) by
 * digest, and lists it in the subject's referrers tag index, creating or extending it: the
 * fallback of the distribution spec 1.1 for registries without the referrers API (such as 2.8).
 */
export async function pushArtifact(
  baseUrl: string,
  repo: string,
  spec: ArtifactSpec,
): Promise<PushedArtifact> {
  const config = await pushBlob(baseUrl, repo, EMPTY_JSON, MediaType.OciEmpty);
  const layers: Descriptor[] = [];
  for (const blob of spec.blobs ?? []) {
    layers.push(await pushBlobSpec(baseUrl, repo, blob, 'application/octet-stream'));
  }
  // Image spec 1.1: a manifest with no layers should carry the empty descriptor as its one layer.
  if (layers.length === 0) layers.push(config);
  const mediaType = MediaType.OciManifest;
  const subject: Descriptor = {
    mediaType: spec.subject.mediaType,
    digest: spec.subject.digest,
    size: spec.subject.size,
  };
  const manifest = json({
    schemaVersion: 2,
    mediaType,
    artifactType: spec.artifactType,
    config,
    layers,
    subject,
    ...(spec.annotations ? { annotations: spec.annotations } : {}),
  });
  const digest = await pushManifest(baseUrl, repo, sha256Digest(manifest), mediaType, manifest);
  const descriptor: Descriptor = {
    mediaType,
    digest,
    size: manifest.length,
    artifactType: spec.artifactType,
    ...(spec.annotations ? { annotations: spec.annotations } : {}),
  };
  const tag = referrersTag(subject.digest);
  const existing = await getManifest(baseUrl, repo, tag);
  const listed: Descriptor[] = existing
    ? ((JSON.parse(existing.bytes.toString('utf8')) as { manifests?: Descriptor[] }).manifests ??
      [])
    : [];
  if (!listed.some((d) => d.digest === digest)) listed.push(descriptor);
  const index = json({ schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: listed });
  const indexDigest = await pushManifest(baseUrl, repo, tag, MediaType.OciIndex, index);
  return {
    repository: repo,
    tag: undefined,
    digest,
    mediaType,
    manifest,
    descriptor,
    blobs: uniqueBlobs([config, ...layers]),
    referrersTag: tag,
    referrersIndex: index,
    referrersIndexDigest: indexDigest,
  };
}

/** Runs `fn` over `items` with at most `limit` at a time; results keep the input order. */
export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i] as T, i);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return results;
}

/** What `generateWorkload` pushes. */
export interface WorkloadSpec {
  /** Number of repositories (N). */
  repositories: number;
  /** Tags per repository (M), named `v0`, `v1`, … */
  tagsPerRepository: number;
  /** Approximate sum of the sizes of all distinct blobs pushed (configs, base, unique and large layers). */
  totalBytes: number;
  /** Namespaces the repositories are spread over, round robin (default `ns1`, `ns2/team`, `ns3`). */
  namespaces?: string[];
  /** Shared base layers, the same blobs in every image (default 2). */
  baseLayers?: number;
  /** Size of each base layer (default 1 MiB). */
  baseLayerSize?: number;
  /** Unique layers per image manifest (default 2). */
  layersPerImage?: number;
  /** How many tags are multi-arch, alternating OCI index and Docker manifest list (default a quarter, at least 2). */
  multiArchTags?: number;
  /** Platforms of a multi-arch tag (default linux/amd64 and linux/arm64). */
  platforms?: Platform[];
  /** Size of one extra large layer, streamed, in the first image (default none). */
  largeLayerSize?: number;
  /** Seed of every byte, so equal specs give equal digests (default `workload`). */
  seed?: string;
  /** Parallel image pushes (default 4). */
  concurrency?: number;
}

/** Everything `generateWorkload` pushed. */
export interface Workload {
  /** One entry per repository and tag, in repository then tag order. */
  images: PushedImage[];
  repositories: string[];
  /** Sum of the sizes of the distinct blobs (by digest) in the registry. */
  totalUniqueBytes: number;
  /** Sum over repositories of each repository's distinct blob sizes (what a copy without mounts moves). */
  totalRepositoryBytes: number;
  /** Distinct blobs in the registry. */
  blobCount: number;
  /** Manifests pushed, children of indexes included. */
  manifestCount: number;
  /** The shared base layers. */
  baseLayers: Descriptor[];
  /** The large layer, when asked for. */
  largeLayer?: Descriptor;
}

/**
 * Pushes N repositories over several namespaces x M tags: shared base layers (uploaded once,
 * mounted elsewhere), multi-arch tags (OCI index and Docker manifest list alternately), an
 * optional large streamed layer, and unique layers sized so the distinct bytes approach
 * `totalBytes`. Single-arch images alternate OCI and Docker formats. Deterministic per seed.
 */
export async function generateWorkload(baseUrl: string, spec: WorkloadSpec): Promise<Workload> {
  const seed = spec.seed ?? 'workload';
  const namespaces = spec.namespaces ?? ['ns1', 'ns2/team', 'ns3'];
  const baseCount = spec.baseLayers ?? 2;
  const baseSize = spec.baseLayerSize ?? 1024 * 1024;
  const perImage = spec.layersPerImage ?? 2;
  const platforms = spec.platforms ?? [
    { architecture: 'amd64', os: 'linux' },
    { architecture: 'arm64', os: 'linux' },
  ];
  const concurrency = spec.concurrency ?? 4;
  const repositories = Array.from(
    { length: spec.repositories },
    (_, i) => `${namespaces[i % namespaces.length] ?? 'ns'}/app${i}`,
  );
  const slots = repositories.flatMap((repository) =>
    Array.from({ length: spec.tagsPerRepository }, (_, t) => ({ repository, tag: `v${t}` })),
  );
  const multiCount = Math.min(
    slots.length,
    spec.multiArchTags ?? Math.max(Math.min(2, slots.length), Math.ceil(slots.length / 4)),
  );
  // Spread the multi-arch tags evenly; the k-th is an OCI index when k is even.
  const multi = new Map<number, ImageFormat>();
  for (let k = 0; k < multiCount; k++) {
    multi.set(Math.floor(((k + 0.5) * slots.length) / multiCount), k % 2 === 0 ? 'oci' : 'docker');
  }
  const manifestsWithLayers = slots.length + multi.size * (platforms.length - 1);
  const largeSize = spec.largeLayerSize ?? 0;
  const budget = spec.totalBytes - baseCount * baseSize - largeSize - manifestsWithLayers * 400;
  const layerSize = Math.max(256, Math.floor(budget / Math.max(1, manifestsWithLayers * perImage)));

  const baseSpecs = Array.from({ length: baseCount }, (_, i) => ({
    size: baseSize,
    seed: `${seed}/base/${i}`,
  }));
  // Upload the base layers once, then mount them: each repository then holds them.
  const first = repositories[0];
  const baseLayers: Descriptor[] = [];
  if (first !== undefined) {
    for (const b of baseSpecs)
      baseLayers.push(await pushBlobSpec(baseUrl, first, b, MediaType.OciLayer));
    await mapLimit(repositories.slice(1), concurrency, async (repo) => {
      for (const [i, d] of baseLayers.entries()) {
        const again = baseSpecs[i];
        if (!(await mountBlob(baseUrl, repo, d.digest, first)) && again) {
          await pushBlobSpec(baseUrl, repo, again, d.mediaType);
        }
      }
    });
  }
  let largeLayer: Descriptor | undefined;
  if (largeSize > 0 && first !== undefined) {
    largeLayer = await pushBlobStream(baseUrl, first, largeSize, `${seed}/large`);
  }

  const layersFor = (slot: number, child: number, format: ImageFormat): BlobSpec[] => {
    const mediaType = format === 'oci' ? MediaType.OciLayer : MediaType.DockerLayer;
    const layers: BlobSpec[] = baseLayers.map((d) => ({ descriptor: { ...d, mediaType } }));
    if (slot === 0 && child === 0 && largeLayer) {
      layers.push({ descriptor: { ...largeLayer, mediaType } });
    }
    for (let l = 0; l < perImage; l++) {
      layers.push({ size: layerSize, seed: `${seed}/layer/${slot}/${child}/${l}` });
    }
    return layers;
  };

  const images = await mapLimit(slots, concurrency, async ({ repository, tag }, i) => {
    const multiFormat = multi.get(i);
    if (multiFormat) {
      const children = platforms.map((platform, c) => ({
        platform,
        layers: layersFor(i, c, multiFormat),
      }));
      return pushIndex(baseUrl, repository, tag, children, multiFormat);
    }
    const format: ImageFormat = i % 2 === 0 ? 'oci' : 'docker';
    return pushImage(baseUrl, repository, tag, {
      format,
      platform: platforms[0],
      layers: layersFor(i, 0, format),
    });
  });

  const all = new Map<string, number>();
  let totalRepositoryBytes = 0;
  for (const repo of repositories) {
    const inRepo = new Map<string, number>();
    for (const img of images) {
      if (img.repository !== repo) continue;
      for (const b of img.blobs) inRepo.set(b.digest, b.size);
    }
    for (const [d, s] of inRepo) {
      all.set(d, s);
      totalRepositoryBytes += s;
    }
  }
  let totalUniqueBytes = 0;
  for (const s of all.values()) totalUniqueBytes += s;
  return {
    images,
    repositories,
    totalUniqueBytes,
    totalRepositoryBytes,
    blobCount: all.size,
    manifestCount: images.reduce((n, img) => n + 1 + (img.children?.length ?? 0), 0),
    baseLayers,
    ...(largeLayer ? { largeLayer } : {}),
  };
}
