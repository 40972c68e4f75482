// Manifests in an OCI layout: stored as blobs, found by digest or through an index.json tag.
// Bytes are verified against their digest on every read and before every write.
import { mkdir, readFile, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { FerryError } from '../../errors/catalog.js';
import { isDigest, verifyBytes } from '../digest.js';
import {
  MediaType,
  type Descriptor,
  type Manifest,
  type ManifestHead,
  type ManifestJson,
} from '../types.js';
import {
  blobPath,
  ioError,
  isNotFound,
  statOrUndefined,
  throwIfAborted,
  writeFileAtomic,
  type LayoutContext,
} from './files.js';
import { findTag, readIndex, REF_NAME, updateIndex } from './indexjson.js';

/**
 * Largest manifest read into memory. Registries refuse bigger ones (distribution's
 * maxManifestBodySize is 4 MiB), so a bigger "manifest" is a layer named by mistake.
 */
export const MANIFEST_MAX_BYTES = 4 * 1024 * 1024;

/** Where a reference points: the digest, and what the index.json entry says (tags only). */
interface Resolved {
  digest: string;
  entry?: Descriptor;
}

/** Resolves a tag through index.json, or takes a digest as is; undefined for an unknown tag. */
async function resolve(ctx: LayoutContext, ref: string): Promise<Resolved | undefined> {
  if (isDigest(ref)) return { digest: ref };
  const entry = findTag(await readIndex(ctx), ref);
  if (!entry) return undefined;
  return { digest: entry.digest, entry };
}

/** Reads a manifest blob (bounded by MANIFEST_MAX_BYTES); undefined when it does not exist. */
export async function readManifestBlob(
  ctx: LayoutContext,
  digest: string,
): Promise<Buffer | undefined> {
  const path = blobPath(ctx, digest);
  const info = await statOrUndefined(path);
  if (!info) return undefined;
  if (info.size > MANIFEST_MAX_BYTES) {
    throw new FerryError(
      'MANIFEST_INVALID',
      `${ctx.name}: ${digest} is ${info.size} bytes, more than a manifest may be`,
    );
  }
  try {
    return await readFile(path);
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw ioError('read', path, err);
  }
}

/** Parses manifest bytes as JSON; MANIFEST_INVALID when they are not a JSON object. */
export function parseManifestJson(bytes: Buffer, what: string): ManifestJson {
  let parsed: unknown;
  try {
    parsed = JSON.parse(bytes.toString('utf8'));
  } catch (err) {
    throw new FerryError('MANIFEST_INVALID', `${what}: not valid JSON`, { cause: err });
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new FerryError('MANIFEST_INVALID', `${what}: not a JSON object`);
  }
  return parsed as ManifestJson;
}

/**
 * The media type a manifest declares; when it has none (OCI makes the field optional), an
 * index if it lists manifests, an image manifest if it has a config.
 */
export function manifestMediaType(json: ManifestJson, what: string): string {
  if (typeof json.mediaType === 'string' && json.mediaType !== '') return json.mediaType;
  if (Array.isArray(json.manifests)) return MediaType.OciIndex;
  if (json.config !== undefined) return MediaType.OciManifest;
  throw new FerryError('MANIFEST_INVALID', `${what}: no mediaType and not an OCI manifest`);
}

/** HEAD: digest, media type and size of a tag or digest; undefined when it does not exist. */
export async function manifestHead(
  ctx: LayoutContext,
  ref: string,
  signal?: AbortSignal,
): Promise<ManifestHead | undefined> {
  throwIfAborted(signal);
  const resolved = await resolve(ctx, ref);
  if (!resolved) return undefined;
  const { digest, entry } = resolved;
  const what = `${ctx.name} manifest ${digest}`;
  if (entry && entry.mediaType) {
    // A tag whose blob is gone is as good as missing (regclient does the same).
    if (!(await statOrUndefined(blobPath(ctx, digest)))) return undefined;
    return { mediaType: entry.mediaType, digest, size: entry.size };
  }
  const bytes = await readManifestBlob(ctx, digest);
  if (!bytes) return undefined;
  verifyBytes(bytes, digest, what);
  return {
    mediaType: manifestMediaType(parseManifestJson(bytes, what), what),
    digest,
    size: bytes.length,
  };
}

/** GET: a manifest's bytes by tag or digest, verified; MANIFEST_UNKNOWN when missing. */
export async function manifestGet(
  ctx: LayoutContext,
  ref: string,
  signal?: AbortSignal,
): Promise<Manifest> {
  throwIfAborted(signal);
  const resolved = await resolve(ctx, ref);
  const bytes = resolved && (await readManifestBlob(ctx, resolved.digest));
  if (!resolved || !bytes) {
    throw new FerryError('MANIFEST_UNKNOWN', `${ctx.name}: manifest ${ref} not found`);
  }
  const { digest, entry } = resolved;
  const what = `${ctx.name} manifest ${ref}`;
  verifyBytes(bytes, digest, what);
  if (entry && entry.size !== bytes.length) {
    throw new FerryError(
      'SIZE_MISMATCH',
      `${what}: ${bytes.length} bytes, its index.json entry declares ${entry.size}`,
    );
  }
  // The index entry's media type is what the tag was written with; the JSON's is the fallback.
  const mediaType = entry?.mediaType || manifestMediaType(parseManifestJson(bytes, what), what);
  return { mediaType, digest, bytes };
}

/** Stores bytes as a blob unless a blob of that size is already there. */
export async function writeBlobBytes(
  ctx: LayoutContext,
  digest: string,
  bytes: Buffer,
): Promise<void> {
  const path = blobPath(ctx, digest);
  // Content-addressed: a file with that name and size already holds these bytes.
  if ((await statOrUndefined(path))?.size === bytes.length) return;
  try {
    await mkdir(dirname(path), { recursive: true });
  } catch (err) {
    throw ioError('create', dirname(path), err);
  }
  await writeFileAtomic(path, bytes);
}

/**
 * PUT: stores the manifest as a blob; a tag also gets its index.json entry (replacing the
 * tag's old one). By digest, only a manifest with a `subject` (a referrer) gets an untagged
 * entry, so referrerList finds it and tools that collect garbage from index.json keep it;
 * other children of an index are reachable through their parent and need none.
 */
export async function manifestPut(
  ctx: LayoutContext,
  ref: string,
  manifest: Manifest,
  signal?: AbortSignal,
): Promise<void> {
  throwIfAborted(signal);
  const { digest, bytes } = manifest;
  const what = `${ctx.name} manifest ${ref}`;
  verifyBytes(bytes, digest, what);
  const byDigest = isDigest(ref);
  if (byDigest && ref !== digest) {
    throw new FerryError('DIGEST_MISMATCH', `${what}: the manifest's digest is ${digest}`);
  }
  if (ref === '') throw new FerryError('INVALID_REFERENCE', `${ctx.name}: empty tag`);
  const json = parseManifestJson(bytes, what);
  const mediaType = manifest.mediaType || manifestMediaType(json, what);
  await ctx.ready();
  await writeBlobBytes(ctx, digest, bytes);
  const size = bytes.length;
  if (!byDigest) {
    await updateIndex(ctx, (index) => {
      const current = index.manifests.filter((d) => d.annotations?.[REF_NAME] === ref);
      const [only] = current;
      if (current.length === 1 && only?.digest === digest && only.mediaType === mediaType) {
        return false;
      }
      index.manifests = index.manifests.filter((d) => d.annotations?.[REF_NAME] !== ref);
      index.manifests.push({ mediaType, digest, size, annotations: { [REF_NAME]: ref } });
      return true;
    });
    return;
  }
  if (json.subject !== undefined) {
    await updateIndex(ctx, (index) => {
      if (index.manifests.some((d) => d.digest === digest)) return false;
      const entry: Descriptor = { mediaType, digest, size };
      const artifactType =
        json.artifactType ?? (json.manifests ? undefined : json.config?.mediaType);
      if (artifactType) entry.artifactType = artifactType;
      index.manifests.push(entry);
      return true;
    });
  }
}

/**
 * DELETE by digest: removes every index.json entry (tags included) with that digest and the
 * blob itself, as a registry would; MANIFEST_UNKNOWN when there was neither.
 */
export async function manifestDelete(
  ctx: LayoutContext,
  digest: string,
  signal?: AbortSignal,
): Promise<void> {
  throwIfAborted(signal);
  const path = blobPath(ctx, digest);
  let removedEntries = false;
  await updateIndex(ctx, (index) => {
    const kept = index.manifests.filter((d) => d.digest !== digest);
    removedEntries = kept.length !== index.manifests.length;
    index.manifests = kept;
    return removedEntries;
  });
  const existed = (await statOrUndefined(path)) !== undefined;
  if (existed) {
    try {
      await rm(path, { force: true });
    } catch (err) {
      throw ioError('remove', path, err);
    }
  }
  if (!removedEntries && !existed) {
    throw new FerryError('MANIFEST_UNKNOWN', `${ctx.name}: manifest ${digest} not found`);
  }
}
