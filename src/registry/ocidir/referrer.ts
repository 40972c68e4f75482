// Referrers in an OCI layout, which has no Referrers API: a manifest refers to another
// through its `subject`, so the list is every index.json entry whose manifest's subject is
// the digest, plus the entries of the referrers-tag fallback index (`sha256-<hex>`) when a
// copy from a registry without the API brought that tag along.
// https://github.com/opencontainers/distribution-spec/blob/main/spec.md#listing-referrers
import { FerryError } from '../../errors/catalog.js';
import { isDigest, verifyBytes } from '../digest.js';
import { isManifestMediaType, type Descriptor } from '../types.js';
import { throwIfAborted, type LayoutContext } from './files.js';
import { findTag, readIndex } from './indexjson.js';
import { manifestMediaType, parseManifestJson, readManifestBlob } from './manifest.js';

/** What referrerList needs from one manifest; manifests never change, so this is cached. */
export interface ReferrerSummary {
  /** The digest of the manifest's subject, when it has one. */
  subject?: string;
  /** The descriptor a referrers list gives for this manifest. */
  descriptor: Descriptor;
}

/** Summaries by manifest digest; undefined marks a blob that is missing or not a manifest. */
export type ReferrerCache = Map<string, ReferrerSummary | undefined>;

/** The fallback tag for a digest: `<alg>-<hex>`, the hex cut to 64 characters as the spec says. */
export function referrersTag(digest: string): string {
  const [algorithm = '', hex = ''] = digest.split(':');
  return `${algorithm}-${hex.slice(0, 64)}`;
}

async function summarise(
  ctx: LayoutContext,
  digest: string,
  cache: ReferrerCache,
): Promise<ReferrerSummary | undefined> {
  if (cache.has(digest)) return cache.get(digest);
  let summary: ReferrerSummary | undefined;
  try {
    const bytes = await readManifestBlob(ctx, digest);
    if (bytes) {
      const what = `${ctx.name} manifest ${digest}`;
      const json = parseManifestJson(bytes, what);
      const descriptor: Descriptor = {
        mediaType: manifestMediaType(json, what),
        digest,
        size: bytes.length,
      };
      // The distribution spec: an image manifest without artifactType reports its config's.
      const artifactType =
        json.artifactType ?? (json.manifests ? undefined : json.config?.mediaType);
      if (artifactType) descriptor.artifactType = artifactType;
      if (json.annotations) descriptor.annotations = json.annotations;
      summary = { subject: json.subject?.digest, descriptor };
    }
  } catch (err) {
    // A blob that is not a manifest cannot be a referrer; file system errors still surface.
    if (!(err instanceof FerryError) || err.code === 'IO_ERROR') throw err;
  }
  cache.set(digest, summary);
  return summary;
}

/** Descriptors of the manifests whose subject is `digest`, filtered by artifactType. */
export async function referrerList(
  ctx: LayoutContext,
  digest: string,
  cache: ReferrerCache,
  artifactType?: string,
  signal?: AbortSignal,
): Promise<Descriptor[]> {
  throwIfAborted(signal);
  if (!isDigest(digest)) {
    throw new FerryError('INVALID_REFERENCE', `${ctx.name}: "${digest}" is not a valid digest`);
  }
  const index = await readIndex(ctx);
  const found = new Map<string, Descriptor>();
  const seen = new Set<string>();
  for (const entry of index.manifests) {
    if (seen.has(entry.digest) || !isDigest(entry.digest)) continue;
    seen.add(entry.digest);
    if (entry.mediaType && !isManifestMediaType(entry.mediaType)) continue;
    throwIfAborted(signal);
    const summary = await summarise(ctx, entry.digest, cache);
    if (summary?.subject === digest) found.set(entry.digest, summary.descriptor);
  }
  const fallback = findTag(index, referrersTag(digest));
  if (fallback && isDigest(fallback.digest)) {
    const bytes = await readManifestBlob(ctx, fallback.digest);
    const what = `${ctx.name} referrers tag ${referrersTag(digest)}`;
    if (bytes) verifyBytes(bytes, fallback.digest, what);
    const list = bytes && parseManifestJson(bytes, what);
    for (const desc of list?.manifests ?? []) {
      if (!found.has(desc.digest)) found.set(desc.digest, desc);
    }
  }
  const all = [...found.values()];
  return artifactType === undefined ? all : all.filter((d) => d.artifactType === artifactType);
}
