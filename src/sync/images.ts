// What SWR's tag APIs report about an image (digest, size, manifest, kind), read from the
// region's registry. Manifests are immutable by digest, so what is learned is cached.
//
// One image that cannot be read (its manifest does not match its digest, a platform manifest
// of an index was deleted) must not take every other tag of the list with it: it is
// described with what its HEAD told, and an index counts the platforms it still has. A
// temporary failure (the registry is down) still fails the request, which can be retried.
import { createHash } from 'node:crypto';
import { isFerryError } from '../errors/catalog.js';
import { parseManifest } from '../registry/copy/engine.js';
import { isIndexMediaType, type Descriptor, type RegistryBackend } from '../registry/types.js';
import { BoundedCache } from '../storage/cache.js';

/** An image as the tag APIs describe it. */
export interface ImageInfo {
  digest: string;
  mediaType: string;
  /** The manifest as served, as text (SWR's `manifest` field). */
  manifest: string;
  /** Config plus layers; for an index, summed over its platforms' manifests. */
  size: number;
  /** 1 for an index or manifest list, else 0 (SWR's `tag_type`). */
  tagType: 0 | 1;
  /** The config digest's hex (Docker's image id); for an index, its first platform's. */
  imageId: string;
  /** The config's `created` time (latest platform's for an index); '' when it has none. */
  created: string;
}

const MAX_CACHED = 10_000;
// Image configs are a few KiB; a huge one is not read just for its date.
const MAX_CONFIG = 1 << 20;

async function configCreated(
  registry: RegistryBackend,
  repo: string,
  config: Descriptor,
): Promise<string> {
  try {
    const chunks: Buffer[] = [];
    for await (const chunk of await registry.blobGet(repo, config)) chunks.push(chunk as Buffer);
    const created = (JSON.parse(Buffer.concat(chunks).toString('utf8')) as { created?: unknown })
      .created;
    return typeof created === 'string' ? created : '';
  } catch {
    // An artifact's config may be empty or not JSON: it simply has no date.
    return '';
  }
}

/** What `read` resolves to, or undefined when the image cannot be read for good. */
async function unlessUnreadable(read: Promise<ImageInfo>): Promise<ImageInfo | undefined> {
  try {
    return await read;
  } catch (err) {
    if (isFerryError(err) && !err.temporary) return undefined;
    throw err;
  }
}

/** Reads and caches image descriptions per registry and digest. */
export class ImageInfoCache {
  private readonly cache = new BoundedCache<string, ImageInfo>(MAX_CACHED);
  /** Lookups under way, so tags sharing a digest read its manifest once. */
  private readonly pending = new Map<string, Promise<ImageInfo>>();

  /**
   * The image a tag (or digest) names; undefined when the tag does not exist. An image that
   * cannot be read is described by its HEAD alone: no manifest, size 0.
   */
  async describe(
    registry: RegistryBackend,
    repo: string,
    ref: string,
  ): Promise<ImageInfo | undefined> {
    const head = await registry.manifestHead(repo, ref);
    if (!head) return undefined;
    const info = await unlessUnreadable(this.byDigest(registry, repo, head.digest));
    return (
      info ?? {
        digest: head.digest,
        mediaType: head.mediaType,
        manifest: '',
        size: 0,
        tagType: isIndexMediaType(head.mediaType) ? 1 : 0,
        imageId: '',
        created: '',
      }
    );
  }

  /** The image a digest names (the caller knows it exists, so no HEAD first). */
  async byDigest(registry: RegistryBackend, repo: string, digest: string): Promise<ImageInfo> {
    const key = `${registry.name}|${digest}`;
    const hit = this.cache.get(key, 0);
    if (hit) return hit;
    // Tags sharing a digest, described at once, read its manifest once.
    let p = this.pending.get(key);
    if (!p) {
      p = this.read(registry, repo, digest, key).finally(() => this.pending.delete(key));
      this.pending.set(key, p);
    }
    return p;
  }

  private async read(
    registry: RegistryBackend,
    repo: string,
    digest: string,
    key: string,
  ): Promise<ImageInfo> {
    const m = await registry.manifestGet(repo, digest);
    const json = parseManifest(m, `${registry.name}/${repo}@${digest}`);
    let size = 0;
    let imageId = '';
    let created = '';
    // An index missing a platform is not kept: the platform may be pushed again.
    let complete = true;
    if (isIndexMediaType(m.mediaType) || json.manifests) {
      for (const child of json.manifests ?? []) {
        // Referrer-style artifacts in an index (attestations) count too: they are stored.
        const c = await unlessUnreadable(this.byDigest(registry, repo, child.digest));
        if (!c) {
          complete = false;
          continue;
        }
        size += c.size;
        imageId ||= c.imageId;
        if (c.created > created) created = c.created;
      }
    } else {
      size = (json.config?.size ?? 0) + (json.layers ?? []).reduce((n, l) => n + l.size, 0);
      imageId = json.config?.digest.replace(/^sha256:/, '') ?? '';
      if (json.config && json.config.size <= MAX_CONFIG) {
        created = await configCreated(registry, repo, json.config);
      }
    }
    const info: ImageInfo = {
      digest: m.digest,
      mediaType: m.mediaType,
      manifest: m.bytes.toString('utf8'),
      size,
      tagType: json.manifests ? 1 : 0,
      imageId: imageId || createHash('sha256').update(m.bytes).digest('hex'),
      created,
    };
    if (complete) this.cache.set(key, info);
    return info;
  }
}
