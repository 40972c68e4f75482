// GET /v2/<name>/tags/list: every tag, following `Link: <...>; rel="next"` pages.
// https://github.com/opencontainers/distribution-spec/blob/main/spec.md#listing-tags
import { pullScope } from './auth.js';
import { fetchPages, type Transport } from './transport.js';

/** Lists every tag of a repository, `pageSize` per request; [] for an unknown repository. */
export async function tagList(
  t: Transport,
  repo: string,
  pageSize: number,
  signal?: AbortSignal,
): Promise<string[]> {
  const result = await fetchPages(t, {
    url: `/v2/${repo}/tags/list?n=${pageSize}`,
    scopes: [pullScope(repo)],
    what: `GET tags ${repo}`,
    notFound: 'NAME_UNKNOWN',
    signal,
  });
  const out: string[] = [];
  for (const page of result?.pages ?? []) {
    // distribution answers `"tags": null` for a repository whose tags were all deleted.
    const tags = (page as { tags?: unknown } | null)?.tags;
    if (Array.isArray(tags)) for (const tag of tags) if (typeof tag === 'string') out.push(tag);
  }
  return out;
}
