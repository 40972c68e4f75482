// SWR repository sharing (`access-domains`, docs/api.md "Sharing a repository"): the domain
// owning a repository lets another domain read it, with `permit: read`, until a deadline.
// The checks mirror SyncService: the namespace must be the caller's in its region, and a
// repository exists while it has tags in the region's registry.
import { FerryError } from '../errors/catalog.js';
import type { Db } from '../storage/database.js';
import { findDomainByName } from '../storage/iam.js';
import * as store from '../storage/shares.js';
import { findNamespace } from '../storage/sync.js';
import { checkNamespace } from './names.js';
import type { CallContext } from './service.js';

/** The only permission SWR supports. */
export const SHARE_PERMITS: readonly string[] = ['read'];

/** Longest description accepted. */
const MAX_DESCRIPTION = 1024;

/** Longest domain name looked up. */
const MAX_DOMAIN_NAME = 128;

// `YYYY-MM-DDTHH:mm:ss` in UTC with an optional fraction (up to microseconds, as SWR prints).
const DEADLINE = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,6}))?Z$/;

/** Body of create (with `access_domain`) and update. */
export interface ShareBody {
  permit: string;
  deadline: string;
  description?: string;
}

/** A share as the list and show APIs describe it. */
export interface ShareView extends store.RepositoryShareRow {
  /** True while the share is in effect (deadline `forever` or still ahead). */
  status: boolean;
}

/**
 * A deadline as stored: `forever`, or the time as `toISOString()` (fixed width, so the text
 * order is the time order). BAD_REQUEST when malformed or not after `now`.
 */
export function parseDeadline(value: string, now: Date = new Date()): string {
  if (value === 'forever') return value;
  const m = DEADLINE.exec(value);
  const time = m ? new Date(`${m[1]}.${(m[2] ?? '').padEnd(3, '0').slice(0, 3)}Z`) : undefined;
  // The round trip refuses dates that do not exist (2026-02-30, 24:00:00).
  if (!m || !time || Number.isNaN(time.getTime()) || time.toISOString().slice(0, 19) !== m[1]) {
    throw new FerryError(
      'BAD_REQUEST',
      `deadline ${JSON.stringify(value)}: must be "forever" or a UTC time like 2026-10-01T16:00:00.000Z`,
    );
  }
  if (time.getTime() <= now.getTime()) {
    throw new FerryError(
      'BAD_REQUEST',
      `deadline ${JSON.stringify(value)}: must be in the future (or "forever")`,
    );
  }
  return time.toISOString();
}

/** Whether a stored deadline is still in effect at `now`. */
export function shareInEffect(deadline: string, now: Date = new Date()): boolean {
  return deadline === 'forever' || deadline > now.toISOString();
}

function checkPermit(permit: string): void {
  if (!SHARE_PERMITS.includes(permit)) {
    throw new FerryError(
      'BAD_REQUEST',
      `permit ${JSON.stringify(permit)}: must be ${SHARE_PERMITS.join(' or ')}`,
    );
  }
}

function checkDescription(description: string | undefined): void {
  if (description === undefined) return;
  if (description.length > MAX_DESCRIPTION) {
    throw new FerryError(
      'BAD_REQUEST',
      `description: must be at most ${MAX_DESCRIPTION} characters`,
    );
  }
  // PostgreSQL text cannot hold NUL.
  if (description.includes('\u0000')) {
    throw new FerryError('BAD_REQUEST', 'description: must not contain NUL characters');
  }
}

/** Checks a domain name from a body or a path (it reaches SQL: no control characters). */
function checkAccessDomain(name: string): void {
  // eslint-disable-next-line no-control-regex
  const control = /[\u0000-\u001f\u007f]/.test(name);
  if (name.length === 0 || name.length > MAX_DOMAIN_NAME || control) {
    throw new FerryError(
      'BAD_REQUEST',
      `access_domain ${JSON.stringify(name)}: must be a domain name of 1 to ${MAX_DOMAIN_NAME} characters, without control characters`,
    );
  }
}

/** The sharing of the caller's repositories with other domains. */
export class SharingService {
  constructor(private readonly db: Db) {}

  /**
   * Shares a repository with another domain. 404 when the namespace is not the caller's or
   * the repository has no tags; 400 for a bad field, an unknown domain or the caller's own;
   * 409 when the repository is already shared with that domain.
   */
  async create(
    ctx: CallContext,
    namespace: string,
    repository: string,
    body: ShareBody & { access_domain: string },
  ): Promise<void> {
    await this.namespace(ctx, namespace);
    checkAccessDomain(body.access_domain);
    checkPermit(body.permit);
    const deadline = parseDeadline(body.deadline);
    checkDescription(body.description);
    await this.repositoryExists(ctx, namespace, repository);
    if (body.access_domain === ctx.principal.domainName) {
      throw new FerryError(
        'BAD_REQUEST',
        `access_domain ${JSON.stringify(body.access_domain)}: a repository cannot be shared with its own domain`,
      );
    }
    const target = await findDomainByName(this.db, body.access_domain);
    if (!target) {
      throw new FerryError(
        'BAD_REQUEST',
        `access_domain ${JSON.stringify(body.access_domain)}: no such domain`,
      );
    }
    const inserted = await this.db.transaction().execute(async (tx) => {
      // Rows a former owner of this namespace name left behind would block the key.
      await store.deleteStaleShares(tx, ctx.region.id, namespace, ctx.principal.domainId);
      return store.insertShare(tx, {
        region_id: ctx.region.id,
        namespace,
        repository,
        owner_domain_id: ctx.principal.domainId,
        access_domain: body.access_domain,
        permit: body.permit,
        deadline,
        description: body.description ?? '',
        creator_id: ctx.principal.userId,
        creator_name: ctx.principal.userName,
      });
    });
    if (!inserted) {
      throw new FerryError(
        'ALREADY_EXISTS',
        `${namespace}/${repository} is already shared with ${body.access_domain}`,
      );
    }
  }

  /**
   * The shares of a repository, expired ones included (`status: false`). Only the namespace
   * is checked, so shares of a repository whose tags are all gone can still be seen.
   */
  async list(ctx: CallContext, namespace: string, repository: string): Promise<ShareView[]> {
    await this.namespace(ctx, namespace);
    const now = new Date();
    const rows = await store.listShares(this.db, this.repoKey(ctx, namespace, repository));
    return rows.map((r) => ({ ...r, status: shareInEffect(r.deadline, now) }));
  }

  /** One share, or undefined when the repository is not shared with that domain. */
  async show(
    ctx: CallContext,
    namespace: string,
    repository: string,
    accessDomain: string,
  ): Promise<ShareView | undefined> {
    await this.namespace(ctx, namespace);
    checkAccessDomain(accessDomain);
    const row = await store.findShare(this.db, {
      ...this.repoKey(ctx, namespace, repository),
      access_domain: accessDomain,
    });
    return row && { ...row, status: shareInEffect(row.deadline) };
  }

  /** Changes a share's permit, deadline and (when given) description; 404 when none. */
  async update(
    ctx: CallContext,
    namespace: string,
    repository: string,
    accessDomain: string,
    body: ShareBody,
  ): Promise<void> {
    await this.namespace(ctx, namespace);
    checkAccessDomain(accessDomain);
    checkPermit(body.permit);
    const deadline = parseDeadline(body.deadline);
    checkDescription(body.description);
    const updated = await store.updateShare(
      this.db,
      { ...this.repoKey(ctx, namespace, repository), access_domain: accessDomain },
      { permit: body.permit, deadline, description: body.description },
    );
    if (!updated) throw this.notShared(namespace, repository, accessDomain);
  }

  /** Ends a share; 404 when there is none. */
  async delete(
    ctx: CallContext,
    namespace: string,
    repository: string,
    accessDomain: string,
  ): Promise<void> {
    await this.namespace(ctx, namespace);
    checkAccessDomain(accessDomain);
    const deleted = await store.deleteShare(this.db, {
      ...this.repoKey(ctx, namespace, repository),
      access_domain: accessDomain,
    });
    if (!deleted) throw this.notShared(namespace, repository, accessDomain);
  }

  private repoKey(ctx: CallContext, namespace: string, repository: string): store.RepositoryKey {
    return {
      region_id: ctx.region.id,
      namespace,
      repository,
      owner_domain_id: ctx.principal.domainId,
    };
  }

  private notShared(namespace: string, repository: string, accessDomain: string): FerryError {
    return new FerryError(
      'NOT_FOUND',
      `${namespace}/${repository} is not shared with ${JSON.stringify(accessDomain)}`,
    );
  }

  /** NAMESPACE_NOT_FOUND unless the namespace is the caller's in its region (as SyncService). */
  private async namespace(ctx: CallContext, name: string): Promise<void> {
    checkNamespace(name);
    const row = await findNamespace(this.db, ctx.region.id, name);
    if (!row || row.domain_id !== ctx.principal.domainId) {
      throw new FerryError(
        'NAMESPACE_NOT_FOUND',
        `organization ${name} does not exist in ${ctx.region.id}`,
      );
    }
  }

  /** REPOSITORY_NOT_FOUND unless the repository has tags in the region's registry. */
  private async repositoryExists(ctx: CallContext, namespace: string, name: string): Promise<void> {
    const tags = await ctx.region.registry.tagList(`${namespace}/${name}`);
    if (tags.length === 0) {
      throw new FerryError(
        'REPOSITORY_NOT_FOUND',
        `repository ${namespace}/${name} does not exist in ${ctx.region.id}`,
      );
    }
  }
}
