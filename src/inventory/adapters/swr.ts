// Inventory adapters for Ferry's own registries: a region's namespaces of a domain
// (SwrPrivate), repositories other domains shared with it (SwrShared), and an Enterprise
// instance (SwrEnterprise). Their registry clients are the long-lived ones of the service,
// so `close()` leaves them open.
import type { RegistryBackend } from '../../registry/types.js';
import { CONCURRENCY, mapLimit, sortTags, splitRepository } from './oci.js';
import type { InventoryAdapter, TagRef } from './types.js';

async function tagsOf(
  registry: RegistryBackend,
  repositories: string[],
  signal?: AbortSignal,
): Promise<TagRef[]> {
  const perRepo = await mapLimit(repositories, CONCURRENCY, async (repo) =>
    (await registry.tagList(repo, signal)).map((tag) => ({
      repository: repo,
      ...splitRepository(repo),
      tag,
    })),
  );
  return sortTags(perRepo.flat());
}

/** Every repository under some namespaces of a registry (a domain's namespaces in a region). */
export class NamespacesAdapter implements InventoryAdapter {
  constructor(
    readonly registry: RegistryBackend,
    private readonly namespaces: () => Promise<string[]>,
  ) {}

  async listTags(signal?: AbortSignal): Promise<TagRef[]> {
    const owned = new Set(await this.namespaces());
    if (owned.size === 0) return [];
    const repos = (await this.registry.catalogList(signal)).filter((r) =>
      owned.has(splitRepository(r).namespace),
    );
    return tagsOf(this.registry, repos, signal);
  }

  async close(): Promise<void> {}
}

/** Some given repositories of a registry (those shared with a domain). */
export class RepositoriesAdapter implements InventoryAdapter {
  constructor(
    readonly registry: RegistryBackend,
    private readonly repositories: () => Promise<string[]>,
  ) {}

  async listTags(signal?: AbortSignal): Promise<TagRef[]> {
    return tagsOf(this.registry, await this.repositories(), signal);
  }

  async close(): Promise<void> {}
}

/** A whole registry through its catalog (an Enterprise instance). */
export class WholeRegistryAdapter implements InventoryAdapter {
  constructor(readonly registry: RegistryBackend) {}

  async listTags(signal?: AbortSignal): Promise<TagRef[]> {
    return tagsOf(this.registry, await this.registry.catalogList(signal), signal);
  }

  async close(): Promise<void> {}
}
