import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { openApiDocument } from './openapi.js';

describe('docs/openapi.json', () => {
  it('matches the route schemas (run `npm run openapi` after changing a route)', async () => {
    const committed = await readFile(new URL('../../docs/openapi.json', import.meta.url), 'utf8');
    expect(JSON.parse(committed)).toEqual(await openApiDocument());
  });

  it('documents every SWR sync API of the seeds', async () => {
    const doc = (await openApiDocument()) as { paths: Record<string, Record<string, unknown>> };
    const repo = '/v2/manage/namespaces/{namespace}/repos/{repository}';
    expect(Object.keys(doc.paths[`${repo}/sync_repo`]!).sort()).toEqual(['delete', 'get', 'post']);
    expect(Object.keys(doc.paths[`${repo}/sync_images`]!)).toEqual(['post']);
    expect(Object.keys(doc.paths[`${repo}/sync_job`]!)).toEqual(['get']);
    expect(Object.keys(doc.paths['/v3/auth/tokens']!)).toEqual(['post']);
  });
});
