// GET /v2/: checks that the host speaks the Distribution API and that our credentials work.
// https://github.com/opencontainers/distribution-spec/blob/main/spec.md#determining-support
import { discard, type Transport } from './transport.js';

/** Pings the registry; a 401 runs the auth flow, so success means we can authenticate. */
export async function ping(t: Transport, signal?: AbortSignal): Promise<void> {
  const res = await t.send({
    method: 'GET',
    url: '/v2/',
    scopes: [],
    what: 'GET /v2/',
    // No /v2/ at all: this is not an OCI registry (or the path prefix is wrong).
    notFound: 'UNSUPPORTED',
    ...(signal ? { signal } : {}),
  });
  await discard(res);
}
