// The OpenAPI document, built from the route schemas alone (no database, no registries):
// `npm run openapi` writes it to docs/openapi.json, and a test fails when that file drifts.
import { buildApp } from './app.js';
import type { AppDeps } from './deps.js';
import { Metrics } from './metrics.js';

/** The API's OpenAPI 3 document. */
export async function openApiDocument(): Promise<unknown> {
  // Route registration only captures the dependencies; none is called while building.
  const inert = { metrics: new Metrics(false) } as unknown as AppDeps;
  const app = await buildApp(inert);
  await app.ready();
  const doc = app.swagger();
  await app.close();
  return doc;
}
