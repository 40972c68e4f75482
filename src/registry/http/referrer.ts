// Referrers of a manifest (signatures, SBOMs, attestations): the Referrers API, or the
// referrers tag schema on registries without it (distribution 2.8 answers 404).
// https://github.com/opencontainers/distribution-spec/blob/main/spec.md#listing-referrers
// https://github.com/opencontainers/distribution-spec/blob/main/spec.md#referrers-tag-schema
import { isFerryError } from '../../errors/catalog.js';
import { isDigest } from '../digest.js';
import { MediaType, type Descriptor, type ManifestJson } from '../types.js';
import { pullScope } from './auth.js';
import { manifestGet } from './manifest.js';
import { fetchPages, type Transport } from './transport.js';

/** The fallback tag for a digest: `<alg>-<hex>`, truncated to the 128 characters of a tag. */
export function referrersTag(digest: string): string {
  return digest.replace(':', '-').slice(0, 128);
}

/** Lists the referrers of `digest`, filtered by artifactType when given. */
export async function referrerList(
  t: Transport,
  repo: string,
  digest: string,
  artifactType?: string,
  signal?: AbortSignal,
): Promise<Descriptor[]> {
  const what = `GET referrers ${repo}@${digest}`;
  if (!isDigest(digest))
    throw t.fail('INVALID_ARGUMENT', { what }, 'referrers are listed by digest');
  const url = new URL(`/v2/${repo}/referrers/${digest}`, `${t.origin}/`);
  if (artifactType !== undefined) url.searchParams.set('artifactType', artifactType);
  const result = await fetchPages(t, {
    url,
    headers: { accept: MediaType.OciIndex },
    scopes: [pullScope(repo)],
    what,
    signal,
  });
  let found: Descriptor[];
  if (result) {
    found = result.pages.flatMap((page) => descriptorsOf(page as ManifestJson | null));
  } else {
    // No Referrers API: the referrers are an index tagged `sha256-<hex>`, kept by pushers.
    try {
      const index = await manifestGet(t, repo, referrersTag(digest), signal);
      found = descriptorsOf(JSON.parse(index.bytes.toString('utf8')) as ManifestJson);
    } catch (err) {
      if (isFerryError(err, 'MANIFEST_UNKNOWN') || isFerryError(err, 'NAME_UNKNOWN')) return [];
      throw err;
    }
  }
  // Filter here too: a registry may ignore the filter (it says so with OCI-Filters-Applied).
  return artifactType === undefined ? found : found.filter((d) => d.artifactType === artifactType);
}

function descriptorsOf(index: ManifestJson | null): Descriptor[] {
  const list = index?.manifests;
  if (!Array.isArray(list)) return [];
  return list.filter(
    (d): d is Descriptor =>
      d !== null &&
      typeof d === 'object' &&
      typeof d.digest === 'string' &&
      typeof d.mediaType === 'string' &&
      typeof d.size === 'number',
  );
}
