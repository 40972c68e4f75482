// SWR basic edition: namespaces, repositories and tags read from the region's registry,
// auto-sync rules, manual sync with the copy engine, and sync job records
// (huawei-compat.md section 3). Routes call this; it calls storage and the registry.
import { createHash } from 'node:crypto';
import { FerryError, isFerryError } from '../errors/catalog.js';
import type { Principal } from '../iam/service.js';
import type { Db } from '../storage/database.js';
import type { SyncJobStatus } from '../storage/schema.js';
import * as store from '../storage/sync.js';
import { ImageInfoCache, type ImageInfo } from './images.js';
import { enqueueSyncJob } from './jobs.js';
import { checkNamespace, checkTag } from './names.js';
import type { Region, Regions } from './regions.js';

const FINAL_STATUSES: readonly (SyncJobStatus | undefined)[] = [
  'success',
  'failed',
  'existed',
  'timeout',
  'cancel',
];

/** Who calls, in which region. */
export interface CallContext {
  principal: Principal;
  region: Region;
}

/** Tunables of the sync service. */
export interface SyncOptions {
  /** How long `sync_images` waits for its copies before answering. */
  waitSeconds: number;
}

/** A repository as the list and show APIs describe it. */
export interface RepositoryView {
  namespace: string;
  name: string;
  nsId: number;
  tags: string[];
  images: ImageInfo[] | undefined;
  host: string;
  domainId: string;
  domainName: string;
  creatorName: string;
}

/** A repository of an owned namespace, its images not read yet (describeRepositories). */
function repositoryView(
  ctx: CallContext,
  ns: store.NamespaceRow,
  name: string,
  tags: string[],
): RepositoryView {
  return {
    namespace: ns.name,
    name,
    nsId: Number(ns.id),
    tags,
    images: undefined,
    host: ctx.region.host,
    domainId: ctx.principal.domainId,
    domainName: ctx.principal.domainName,
    creatorName: ns.creator_name,
  };
}

/** One tag with its image. */
export interface TagView {
  tag: string;
  regionId: string;
  /** `namespace/name`. */
  repo: string;
  repoId: number;
  image: ImageInfo;
  path: string;
  domainId: string;
}

/** Body of create/delete auto-sync rule and of manual sync. */
export interface RemoteTarget {
  remoteRegionId: string;
  remoteNamespace: string;
}

/** The SWR basic service. */
export class SyncService {
  private readonly images = new ImageInfoCache();
  private readonly abort = new AbortController();

  constructor(
    private readonly db: Db,
    private readonly regions: Regions,
    private readonly options: SyncOptions,
  ) {}

  // ---- namespaces ----

  /** Creates a namespace in the caller's region. */
  async createNamespace(ctx: CallContext, name: string): Promise<void> {
    checkNamespace(name);
    const inserted = await store.insertNamespace(this.db, {
      region_id: ctx.region.id,
      name,
      domain_id: ctx.principal.domainId,
      creator_name: ctx.principal.userName,
    });
    if (!inserted) {
      throw new FerryError(
        'NAMESPACE_EXISTS',
        `organization ${name} already exists in ${ctx.region.id}`,
      );
    }
  }

  /** The caller's namespaces in its region, optionally only those whose name contains `match`. */
  async listNamespaces(ctx: CallContext, match?: string): Promise<store.NamespaceRow[]> {
    const rows = await store.listNamespaces(this.db, ctx.region.id, ctx.principal.domainId);
    return match ? rows.filter((r) => r.name.includes(match)) : rows;
  }

  /** One of the caller's namespaces, or NAMESPACE_NOT_FOUND (also for another domain's). */
  async namespace(
    ctx: CallContext,
    name: string,
    region = ctx.region,
  ): Promise<store.NamespaceRow> {
    checkNamespace(name);
    const row = await store.findNamespace(this.db, region.id, name);
    if (!row || row.domain_id !== ctx.principal.domainId) {
      throw new FerryError(
        'NAMESPACE_NOT_FOUND',
        `organization ${name} does not exist in ${region.id}`,
      );
    }
    return row;
  }

  /** Deletes an empty namespace; NAMESPACE_NOT_EMPTY while it holds tagged repositories. */
  async deleteNamespace(ctx: CallContext, name: string): Promise<void> {
    await this.namespace(ctx, name);
    const repos = await this.repositoriesOf(ctx.region, [name]);
    if (repos.length > 0) {
      throw new FerryError(
        'NAMESPACE_NOT_EMPTY',
        `organization ${name} still holds ${repos.length} repositories (${repos
          .slice(0, 3)
          .map((r) => r.repo)
          .join(', ')}${repos.length > 3 ? ', ...' : ''})`,
      );
    }
    await store.deleteNamespace(this.db, ctx.region.id, name);
  }

  // ---- repositories and tags ----

  /** The caller's repositories in its region that have at least one tag. */
  async listRepositories(
    ctx: CallContext,
    q: { namespace?: string; name?: string },
  ): Promise<RepositoryView[]> {
    let owned = await store.listNamespaces(this.db, ctx.region.id, ctx.principal.domainId);
    if (q.namespace) owned = owned.filter((n) => n.name === q.namespace);
    const byName = new Map(owned.map((n) => [n.name, n]));
    const repos = await this.repositoriesOf(ctx.region, [...byName.keys()]);
    return repos
      .map(({ namespace, repo, tags }) =>
        repositoryView(ctx, byName.get(namespace)!, repo.slice(namespace.length + 1), tags),
      )
      .filter((r) => !q.name || r.name.includes(q.name));
  }

  /** Fills in the images of repositories (size, dates), reading only what is not cached. */
  async describeRepositories(ctx: CallContext, repos: RepositoryView[]): Promise<void> {
    await Promise.all(
      repos.map(async (r) => {
        const infos = await Promise.all(
          r.tags.map((t) =>
            this.images.describe(ctx.region.registry, `${r.namespace}/${r.name}`, t),
          ),
        );
        r.images = infos.filter((i): i is ImageInfo => i !== undefined);
      }),
    );
  }

  /** One repository, with its images; REPOSITORY_NOT_FOUND when it has no tags. */
  async repository(ctx: CallContext, namespace: string, name: string): Promise<RepositoryView> {
    const ns = await this.namespace(ctx, namespace);
    const tags = await this.tagsOf(ctx.region, namespace, name);
    const view = repositoryView(ctx, ns, name, tags);
    await this.describeRepositories(ctx, [view]);
    return view;
  }

  /** Every tag of a repository with its image, optionally only tags containing `match`. */
  async listTags(
    ctx: CallContext,
    namespace: string,
    name: string,
    match?: string,
  ): Promise<TagView[]> {
    await this.namespace(ctx, namespace);
    let tags = await this.tagsOf(ctx.region, namespace, name);
    if (match) tags = tags.filter((t) => t.includes(match));
    const repo = `${namespace}/${name}`;
    const views = await Promise.all(
      tags.map(async (tag) => {
        const image = await this.images.describe(ctx.region.registry, repo, tag);
        return image && this.tagView(ctx, repo, tag, image);
      }),
    );
    return views.filter((v): v is TagView => v !== undefined);
  }

  /** One tag with its image, or TAG_NOT_FOUND. */
  async tag(ctx: CallContext, namespace: string, name: string, tag: string): Promise<TagView> {
    await this.namespace(ctx, namespace);
    checkTag(tag);
    const repo = `${namespace}/${name}`;
    const image = await this.images.describe(ctx.region.registry, repo, tag);
    if (!image) {
      await this.tagsOf(ctx.region, namespace, name);
      throw new FerryError('TAG_NOT_FOUND', `${repo}:${tag} does not exist in ${ctx.region.id}`);
    }
    return this.tagView(ctx, repo, tag, image);
  }

  /**
   * Deletes a tag's manifest. CNCF distribution deletes manifests by digest, so every tag of
   * that repository pointing at the same digest goes with it (docs/api.md says so).
   */
  async deleteTag(ctx: CallContext, namespace: string, name: string, tag: string): Promise<void> {
    const view = await this.tag(ctx, namespace, name, tag);
    await ctx.region.registry.manifestDelete(`${namespace}/${name}`, view.image.digest);
  }

  /**
   * Deletes a repository: the manifest of every tag (CNCF distribution deletes by digest, so
   * each digest once), then its auto-sync rules and shares. REPOSITORY_NOT_FOUND when it has
   * no tags. A failure midway leaves the rest for the next attempt, which goes on from the
   * tags still there, or, when none is left, only removes the rules and shares.
   */
  async deleteRepository(ctx: CallContext, namespace: string, name: string): Promise<void> {
    await this.namespace(ctx, namespace);
    const repo = `${namespace}/${name}`;
    const registry = ctx.region.registry;
    const tags = await this.tagsOf(ctx.region, namespace, name).catch(async (err: unknown) => {
      if (isFerryError(err, 'REPOSITORY_NOT_FOUND')) {
        await store.deleteRepositoryRecords(this.db, ctx.region.id, namespace, name);
      }
      throw err;
    });
    const heads = await Promise.all(tags.map((tag) => registry.manifestHead(repo, tag)));
    const digests = new Set(heads.flatMap((h) => (h ? [h.digest] : [])));
    for (const digest of digests) await registry.manifestDelete(repo, digest);
    await store.deleteRepositoryRecords(this.db, ctx.region.id, namespace, name);
  }

  // ---- auto-sync rules ----

  /** Stores an auto-sync rule (firing on push comes with the job engine). */
  async createRule(
    ctx: CallContext,
    namespace: string,
    repo: string,
    body: RemoteTarget & { syncAuto?: boolean; override?: boolean },
  ): Promise<void> {
    await this.checkTarget(ctx, namespace, repo, body);
    const inserted = await store.insertSyncRule(this.db, {
      domain_id: ctx.principal.domainId,
      region_id: ctx.region.id,
      namespace,
      repo_name: repo,
      remote_region_id: body.remoteRegionId,
      remote_namespace: body.remoteNamespace,
      sync_auto: body.syncAuto ?? false,
      override: body.override ?? false,
    });
    if (!inserted) {
      throw new FerryError(
        'ALREADY_EXISTS',
        `a sync rule from ${namespace}/${repo} to ${body.remoteRegionId}/${body.remoteNamespace} already exists`,
      );
    }
  }

  /** The auto-sync rules of a repository. */
  async listRules(ctx: CallContext, namespace: string, repo: string): Promise<store.SyncRuleRow[]> {
    await this.namespace(ctx, namespace);
    return store.listSyncRules(this.db, ctx.region.id, namespace, repo);
  }

  /** Deletes one auto-sync rule, or NOT_FOUND. */
  async deleteRule(
    ctx: CallContext,
    namespace: string,
    repo: string,
    body: RemoteTarget,
  ): Promise<void> {
    await this.namespace(ctx, namespace);
    const deleted = await store.deleteSyncRule(this.db, {
      region_id: ctx.region.id,
      namespace,
      repo_name: repo,
      remote_region_id: body.remoteRegionId,
      remote_namespace: body.remoteNamespace,
    });
    if (!deleted) {
      throw new FerryError(
        'NOT_FOUND',
        `no sync rule from ${namespace}/${repo} to ${body.remoteRegionId}/${body.remoteNamespace}`,
      );
    }
  }

  // ---- manual sync and jobs ----

  /**
   * Copies tags to another region, one sync job per tag, and waits up to `waitSeconds`.
   * Returns the tags that did not sync (failed, existed, or still running at the deadline),
   * which is SWR's 200 body (huawei-compat.md 3.4, Ferry's rule).
   */
  async manualSync(
    ctx: CallContext,
    namespace: string,
    repo: string,
    body: RemoteTarget & { imageTag: string[]; override?: boolean },
  ): Promise<string[]> {
    const tags = [...new Set(body.imageTag)];
    if (tags.length === 0)
      throw new FerryError('BAD_REQUEST', 'imageTag: must name at least one tag');
    tags.forEach((t) => checkTag(t, 'imageTag'));
    const target = await this.checkTarget(ctx, namespace, repo, body);
    await this.tagsOf(ctx.region, namespace, repo);
    const override = body.override ?? false;
    // The rows and their jobs appear together or not at all (one transaction).
    const jobs = await this.db.transaction().execute(async (tx) => {
      const rows = await store.insertSyncJobs(
        tx,
        tags.map((tag) => ({
          domain_id: ctx.principal.domainId,
          region_id: ctx.region.id,
          namespace,
          repo_name: repo,
          tag,
          remote_region_id: target.id,
          remote_namespace: body.remoteNamespace,
          override,
          status: 'waiting' as const,
          operator_id: ctx.principal.userId,
          operator_name: ctx.principal.userName,
        })),
      );
      for (const row of rows) await enqueueSyncJob(tx, row.id);
      return rows;
    });
    const statuses = await this.waitForJobs(
      jobs.map((j) => j.id),
      this.options.waitSeconds * 1000,
    );
    return jobs.filter((j) => statuses.get(j.id) !== 'success').map((j) => j.tag);
  }

  /** Polls jobs until all are final, the wait ends, or the service stops. */
  private async waitForJobs(ids: string[], waitMs: number): Promise<Map<string, SyncJobStatus>> {
    const deadline = Date.now() + waitMs;
    let delay = 50;
    for (;;) {
      const statuses = await store.syncJobStatuses(this.db, ids);
      const done = ids.every((id) => FINAL_STATUSES.includes(statuses.get(id)));
      if (done || Date.now() >= deadline || this.abort.signal.aborted) return statuses;
      await new Promise((r) => setTimeout(r, Math.min(delay, Math.max(0, deadline - Date.now()))));
      // Quick first checks for small copies, then a gentler pace.
      delay = Math.min(delay * 2, 500);
    }
  }

  /** A page of a repository's sync jobs and the total. */
  async listJobs(
    ctx: CallContext,
    namespace: string,
    repo: string,
    page: { offset: number; limit: number; order: 'asc' | 'desc' },
  ): Promise<{ rows: store.SyncJobRow[]; total: number }> {
    await this.namespace(ctx, namespace);
    return store.listSyncJobs(
      this.db,
      { domain_id: ctx.principal.domainId, region_id: ctx.region.id, namespace, repo_name: repo },
      page,
    );
  }

  /** Ends the waits of sync_images requests (their jobs go on in the workers). */
  stop(): void {
    this.abort.abort();
  }

  /** Checks a rule or sync target; returns the target region. */
  private async checkTarget(
    ctx: CallContext,
    namespace: string,
    repo: string,
    body: RemoteTarget,
  ): Promise<Region> {
    await this.namespace(ctx, namespace);
    const target = this.regions.get(body.remoteRegionId, 'remoteRegionId');
    checkNamespace(body.remoteNamespace, 'remoteNamespace');
    if (target.id === ctx.region.id && body.remoteNamespace === namespace) {
      throw new FerryError(
        'BAD_REQUEST',
        `${namespace}/${repo}: cannot sync a repository onto itself`,
      );
    }
    const ns = await store.findNamespace(this.db, target.id, body.remoteNamespace);
    if (!ns || ns.domain_id !== ctx.principal.domainId) {
      throw new FerryError(
        'NAMESPACE_NOT_FOUND',
        `remoteNamespace: organization ${body.remoteNamespace} does not exist in ${target.id}`,
      );
    }
    return target;
  }

  /** Tags of a repository; REPOSITORY_NOT_FOUND when it has none. */
  private async tagsOf(region: Region, namespace: string, name: string): Promise<string[]> {
    const tags = await region.registry.tagList(`${namespace}/${name}`);
    if (tags.length === 0) {
      throw new FerryError(
        'REPOSITORY_NOT_FOUND',
        `repository ${namespace}/${name} does not exist in ${region.id}`,
      );
    }
    return tags.sort();
  }

  /** Repositories with tags under the given namespaces, from the registry's catalog. */
  private async repositoriesOf(
    region: Region,
    namespaces: string[],
  ): Promise<{ namespace: string; repo: string; tags: string[] }[]> {
    if (namespaces.length === 0) return [];
    const wanted = new Set(namespaces);
    const catalog = (await region.registry.catalogList()).filter((r) => {
      const i = r.indexOf('/');
      return i > 0 && wanted.has(r.slice(0, i));
    });
    const withTags = await Promise.all(
      catalog.map(async (repo) => ({
        namespace: repo.slice(0, repo.indexOf('/')),
        repo,
        tags: (await region.registry.tagList(repo)).sort(),
      })),
    );
    // The registry keeps a repository in its catalog after its last tag is deleted.
    return withTags.filter((r) => r.tags.length > 0).sort((a, b) => a.repo.localeCompare(b.repo));
  }

  private tagView(ctx: CallContext, repo: string, tag: string, image: ImageInfo): TagView {
    return {
      tag,
      regionId: ctx.region.id,
      repo,
      repoId: repositoryId(ctx.region.id, repo),
      image,
      path: `${ctx.region.host}/${repo}:${tag}`,
      domainId: ctx.principal.domainId,
    };
  }
}

/** A stable numeric id for a repository (SWR ids are integers; the registry has none). */
export function repositoryId(regionId: string, repo: string): number {
  return createHash('sha256').update(`${regionId}/${repo}`).digest().readUIntBE(0, 6);
}
