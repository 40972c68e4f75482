// The inventory adapter for Harbor, through its v2.0 API: projects, their repositories, and
// each repository's artifacts with their tags (so every tag comes with its digest and push
// time, without a manifest request). Manifests are read through Harbor's OCI API on the same
// host. https://github.com/goharbor/harbor/blob/main/api/v2.0/swagger.yaml
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

// Harbor caps page_size at 100.
const DEFAULT_PAGE_SIZE = 100;
// Harbor reads `{project_name_or_id}` as an id when it is all digits, unless told it is a name.
const NAME_HEADER = { 'x-is-resource-name': 'true' };

interface HarborProject {
  name?: unknown;
}
interface HarborRepository {
  name?: unknown;
  artifact_count?: unknown;
}
interface HarborTag {
  name?: unknown;
  push_time?: unknown;
}
interface HarborArtifact {
  digest?: unknown;
  push_time?: unknown;
  tags?: HarborTag[] | null;
}

/** A Harbor time, or undefined when absent or Go's zero time (`0001-01-01T00:00:00Z`). */
function harborTime(value: unknown): Date | undefined {
  if (typeof value !== 'string' || value === '') return undefined;
  const d = new Date(value);
  return Number.isNaN(d.getTime()) || d.getUTCFullYear() <= 1 ? undefined : d;
}

/** Every project (or one), repository and tagged artifact of a Harbor instance. */
export class HarborAdapter implements InventoryAdapter {
  readonly registry: HttpRegistry;
  private readonly api: RestClient;
  private readonly pageSize: number;

  constructor(
    private readonly options: AdapterOptions,
    tuning: AdapterTuning = {},
  ) {
    checkOptions('Harbor', options);
    this.api = new RestClient('Harbor', options, tuning);
    this.registry = registryFor(options, tuning);
    this.pageSize = Math.min(Math.max(1, tuning.pageSize ?? DEFAULT_PAGE_SIZE), 100);
  }

  async listTags(signal?: AbortSignal): Promise<TagRef[]> {
    const only = this.options.namespace;
    const projects = only !== undefined && only !== '' ? [only] : await this.projects(signal);
    const repositories = (
      await mapLimit(projects, CONCURRENCY, (p) => this.repositories(p, p === only, signal))
    ).flat();
    const tags = await mapLimit(repositories, CONCURRENCY, (r) =>
      this.artifactTags(r.project, r.name, signal),
    );
    return sortTags(tags.flat());
  }

  close(): Promise<void> {
    return this.registry.close();
  }

  /** Every project the user can see (GET /api/v2.0/projects). */
  private async projects(signal?: AbortSignal): Promise<string[]> {
    const items = await this.pages('/api/v2.0/projects', {}, signal);
    if (items === undefined) {
      throw this.api.fail(
        'UNSUPPORTED',
        'GET /api/v2.0/projects',
        '404: no Harbor v2.0 API here (Harbor 2.0 or later is needed)',
      );
    }
    const names = (items as HarborProject[])
      .map((p) => p.name)
      .filter((n): n is string => typeof n === 'string' && n !== '');
    return [...new Set(names)];
  }

  /** The repositories of a project; a project gone meanwhile has none, one asked for fails. */
  private async repositories(
    project: string,
    asked: boolean,
    signal?: AbortSignal,
  ): Promise<Array<{ project: string; name: string }>> {
    const path = `/api/v2.0/projects/${encodeURIComponent(project)}/repositories`;
    const items = await this.pages(path, NAME_HEADER, signal);
    if (items === undefined) {
      if (!asked) return [];
      throw new FerryError(
        'NAMESPACE_NOT_FOUND',
        `${this.api.label}: GET ${path}: project "${project}" not found`,
      );
    }
    const out: Array<{ project: string; name: string }> = [];
    for (const repo of items as HarborRepository[]) {
      // `name` is the full path, `project/repo/path`; an empty repository has nothing to list.
      if (typeof repo.name !== 'string' || !repo.name.startsWith(`${project}/`)) continue;
      if (repo.artifact_count === 0) continue;
      out.push({ project, name: repo.name.slice(project.length + 1) });
    }
    return out;
  }

  /** Every tag of a repository's artifacts; untagged artifacts are skipped. */
  private async artifactTags(
    project: string,
    name: string,
    signal?: AbortSignal,
  ): Promise<TagRef[]> {
    // Harbor wants the repository path without the project, with its '/' encoded twice
    // (a%252Fb): its router decodes the path once and the handler once more.
    const path =
      `/api/v2.0/projects/${encodeURIComponent(project)}` +
      `/repositories/${encodeURIComponent(encodeURIComponent(name))}/artifacts`;
    const items = await this.pages(
      path,
      NAME_HEADER,
      signal,
      'with_tag=true&with_label=false&with_scan_overview=false',
    );
    const repository = `${project}/${name}`;
    const out: TagRef[] = [];
    // A repository deleted since it was listed has no artifacts.
    for (const artifact of (items ?? []) as HarborArtifact[]) {
      const digest = typeof artifact.digest === 'string' ? artifact.digest : undefined;
      for (const tag of artifact.tags ?? []) {
        if (typeof tag.name !== 'string' || tag.name === '') continue;
        const pushedAt = harborTime(tag.push_time) ?? harborTime(artifact.push_time);
        out.push({
          repository,
          namespace: project,
          imageName: name,
          tag: tag.name,
          ...(digest !== undefined ? { digest } : {}),
          ...(pushedAt !== undefined ? { pushedAt } : {}),
        });
      }
    }
    return out;
  }

  /**
   * Every item of a paginated list (`page`, `page_size`), until `X-Total-Count` items came,
   * or, without that header, until there is no `Link: rel="next"` and a page is short.
   * Undefined when the first page is a 404.
   */
  private async pages(
    path: string,
    headers: Record<string, string>,
    signal?: AbortSignal,
    query = '',
  ): Promise<unknown[] | undefined> {
    const out: unknown[] = [];
    let previousFirst: string | undefined;
    for (let page = 1; ; page++) {
      const url = `${path}?page=${page}&page_size=${this.pageSize}${query ? `&${query}` : ''}`;
      const res = await this.api.get(url, signal, headers, page === 1);
      if (res === undefined) return undefined;
      if (!Array.isArray(res.body)) {
        throw this.api.fail('REGISTRY_REJECTED', `GET ${url}`, 'the answer is not a JSON array');
      }
      const items = res.body as unknown[];
      if (items.length === 0) break;
      // A server that ignores `page` would send the first page forever.
      const first = JSON.stringify(items[0]);
      if (first === previousFirst) break;
      previousFirst = first;
      out.push(...items);
      const total = Number(res.headers.get('x-total-count') ?? NaN);
      if (Number.isFinite(total)) {
        if (out.length >= total) break;
        continue;
      }
      const link = res.headers.get('link') ?? '';
      if (!/rel="?next"?/i.test(link) && items.length < this.pageSize) break;
    }
    return out;
  }
}
