// GET /v2/_catalog: every repository, following `Link: <...>; rel="next"` pages.
// The catalog is an extension the OCI spec does not require (Docker Hub has none).
import { CATALOG_SCOPE } from './auth.js';
import { fetchPages, type Transport } from './transport.js';

/** Lists every repository of the registry, `pageSize` per request. */
export async function catalogList(
  t: Transport,
  pageSize: number,
  signal?: AbortSignal,
): Promise<string[]> {
  const req = {
    url: `/v2/_catalog?n=${pageSize}`,
    scopes: [CATALOG_SCOPE],
    what: 'GET catalog',
    signal,
  };
  const result = await fetchPages(t, req);
  // 404 here means the registry has no catalog endpoint rather than an unknown name.
  if (!result) throw t.fail('UNSUPPORTED', req, '404 the registry has no catalog');
  const out: string[] = [];
  for (const page of result.pages) {
    const list = (page as { repositories?: unknown } | null)?.repositories;
    if (Array.isArray(list)) for (const r of list) if (typeof r === 'string') out.push(r);
  }
  return out;
}
