// The inventory adapter for JFrog Artifactory (and JFrog Container Registry): its Docker
// repositories (GET /artifactory/api/repositories?packageType=docker), each one's images
// through the Docker REST API (`/artifactory/api/docker/{repoKey}/v2/_catalog`) and their
// tags (`.../v2/{image}/tags/list`). Only LOCAL (and FEDERATED, which are local repositories
// mirrored between sites) repositories are inventoried: a REMOTE one is a cache of another
// registry and a VIRTUAL one aggregates others, so both would list images kept elsewhere.
// A named repository key is inventoried whatever its type.
//
// Images are addressed with the "repository path" access method: `{repoKey}/{image}` on the
// same host (`/v2/{repoKey}/{image}/manifests/{tag}`), which is what `registry` is given.
// https://jfrog.com/help/r/jfrog-rest-apis/list-docker-repositories
import { FerryError } from '../../errors/catalog.js';
import type { HttpRegistry } from '../../registry/http/registry.js';
import {
  CONCURRENCY,
  checkOptions,
  mapLimit,
  registryFor,
  RestClient,
  sortTags,
  type AdapterOptions,
  type AdapterTuning,
} from './oci.js';
import type { InventoryAdapter, TagRef } from './types.js';

const DEFAULT_PAGE_SIZE = 1000;
// Repository types holding their own images.
const INVENTORIED_TYPES = new Set(['LOCAL', 'FEDERATED']);

interface ArtifactoryRepository {
  key?: unknown;
  type?: unknown;
  packageType?: unknown;
}

/**
 * The `last` of a `Link: <...?last=X&n=N>; rel="next"` header. Only its query is used:
 * Artifactory's link path is `/v2/...`, without the `/artifactory/api/docker/{repoKey}` the
 * request had, so following it as is fails.
 */
function nextLast(link: string | null): string | undefined {
  if (link === null) return undefined;
  for (const m of link.matchAll(/<([^>]*)>\s*((?:;\s*[^;,]*)*)/g)) {
    if (!/rel\s*=\s*"?next"?/i.test(m[2] ?? '')) continue;
    try {
      return new URL(m[1] ?? '', 'http://x/').searchParams.get('last') ?? undefined;
    } catch {
      return undefined;
    }
  }
  return undefined;
}

/** Every tag of every image of an Artifactory's local Docker repositories (or of one). */
export class JfrogAdapter implements InventoryAdapter {
  readonly registry: HttpRegistry;
  private readonly api: RestClient;
  private readonly pageSize: number;

  constructor(
    private readonly options: AdapterOptions,
    tuning: AdapterTuning = {},
  ) {
    checkOptions('Artifactory', options);
    this.api = new RestClient('Artifactory', options, tuning);
    this.registry = registryFor(options, tuning);
    this.pageSize = Math.max(1, tuning.pageSize ?? DEFAULT_PAGE_SIZE);
  }

  async listTags(signal?: AbortSignal): Promise<TagRef[]> {
    const only = this.options.namespace;
    const keys = only !== undefined && only !== '' ? [only] : await this.repositoryKeys(signal);
    const images = (
      await mapLimit(keys, CONCURRENCY, async (key) =>
        (await this.images(key, key === only, signal)).map((image) => ({ key, image })),
      )
    ).flat();
    const tags = await mapLimit(images, CONCURRENCY, ({ key, image }) =>
      this.tags(key, image, signal),
    );
    return sortTags(tags.flat());
  }

  close(): Promise<void> {
    return this.registry.close();
  }

  /** The keys of the local (and federated) Docker repositories. */
  private async repositoryKeys(signal?: AbortSignal): Promise<string[]> {
    const path = '/artifactory/api/repositories?packageType=docker';
    const res = await this.api.get(path, signal, {}, true);
    if (res === undefined) {
      throw this.api.fail('UNSUPPORTED', `GET ${path}`, '404: no Artifactory REST API here');
    }
    if (!Array.isArray(res.body)) {
      throw this.api.fail('REGISTRY_REJECTED', `GET ${path}`, 'the answer is not a JSON array');
    }
    const keys: string[] = [];
    for (const repo of res.body as ArtifactoryRepository[]) {
      if (typeof repo.key !== 'string' || repo.key === '') continue;
      if (typeof repo.type !== 'string' || !INVENTORIED_TYPES.has(repo.type.toUpperCase())) {
        continue;
      }
      // Older versions ignore the packageType filter.
      if (typeof repo.packageType === 'string' && repo.packageType.toLowerCase() !== 'docker') {
        continue;
      }
      keys.push(repo.key);
    }
    return [...new Set(keys)];
  }

  /** The images of a repository; one gone meanwhile has none, one asked for fails. */
  private async images(key: string, asked: boolean, signal?: AbortSignal): Promise<string[]> {
    const path = `/artifactory/api/docker/${encodeURIComponent(key)}/v2/_catalog`;
    const images = await this.list(path, 'repositories', signal);
    if (images === undefined && asked) {
      throw new FerryError(
        'NAMESPACE_NOT_FOUND',
        `${this.api.label}: GET ${path}: repository "${key}" not found`,
      );
    }
    return images ?? [];
  }

  private async tags(key: string, image: string, signal?: AbortSignal): Promise<TagRef[]> {
    const imagePath = image.split('/').map(encodeURIComponent).join('/');
    const path = `/artifactory/api/docker/${encodeURIComponent(key)}/v2/${imagePath}/tags/list`;
    // An image deleted since the catalog was read has no tags.
    const tags = (await this.list(path, 'tags', signal)) ?? [];
    return tags.map((tag) => ({
      repository: `${key}/${image}`,
      namespace: key,
      imageName: image,
      tag,
    }));
  }

  /**
   * Every name of a Docker list (`_catalog` or `tags/list`), `n` per page, the next page
   * from the `last` of the `Link` header, or from the last name of a full page.
   * Undefined when the first page is a 404.
   */
  private async list(
    path: string,
    field: 'repositories' | 'tags',
    signal?: AbortSignal,
  ): Promise<string[] | undefined> {
    const out = new Set<string>();
    let last: string | undefined;
    for (let first = true; ; first = false) {
      const url = `${path}?n=${this.pageSize}${last !== undefined ? `&last=${encodeURIComponent(last)}` : ''}`;
      const res = await this.api.get(url, signal, {}, first);
      if (res === undefined) return undefined;
      const value = (res.body as Record<string, unknown> | null)?.[field];
      // `"tags": null` for an image whose tags were all deleted.
      if (value !== null && value !== undefined && !Array.isArray(value)) {
        throw this.api.fail('REGISTRY_REJECTED', `GET ${url}`, `"${field}" is not a list`);
      }
      const names = ((value ?? []) as unknown[]).filter(
        (s): s is string => typeof s === 'string' && s !== '',
      );
      for (const name of names) out.add(name);
      const next =
        nextLast(res.headers.get('link')) ??
        (names.length >= this.pageSize ? names[names.length - 1] : undefined);
      if (names.length === 0 || next === undefined || next === last) break;
      last = next;
    }
    return [...out];
  }
}
