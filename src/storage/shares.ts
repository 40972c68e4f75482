// SWR repository sharing (`access-domains`): a repository of one domain that another domain,
// named by `access_domain`, may read until its deadline. One function per operation.
import type { Selectable } from 'kysely';
import type { Db } from './database.js';
import type { RepositoryShareTable } from './schema.js';

export type RepositoryShareRow = Selectable<RepositoryShareTable>;

/** The key of one share: a repository of a region and the domain it is shared with. */
export interface ShareKey {
  region_id: string;
  namespace: string;
  repository: string;
  /** The domain that owns the repository; shares of any other owner are not touched. */
  owner_domain_id: string;
  access_domain: string;
}

/** The repository of a share, with its owner. */
export type RepositoryKey = Omit<ShareKey, 'access_domain'>;

/** The columns of a repository key (and nothing else a caller's object carries). */
function repositoryKey(k: RepositoryKey): RepositoryKey {
  return {
    region_id: k.region_id,
    namespace: k.namespace,
    repository: k.repository,
    owner_domain_id: k.owner_domain_id,
  };
}

/** The columns of a share key. */
function shareKey(k: ShareKey): ShareKey {
  return { ...repositoryKey(k), access_domain: k.access_domain };
}

/** What an update may change. */
export interface ShareChanges {
  permit: string;
  deadline: string;
  description?: string;
}

/** A repository shared with a domain, as `sharedWith` returns it. */
export interface SharedRepository {
  region_id: string;
  namespace: string;
  repository: string;
  owner_domain_id: string;
  owner_domain_name: string;
  permit: string;
  /** `forever` or an ISO-8601 UTC time (`YYYY-MM-DDTHH:mm:ss.SSSZ`). */
  deadline: string;
  description: string;
}

/** Inserts a share; false when the repository is already shared with that domain. */
export async function insertShare(
  db: Db,
  row: ShareKey & {
    permit: string;
    deadline: string;
    description: string;
    creator_id: string;
    creator_name: string;
  },
): Promise<boolean> {
  const r = await db
    .insertInto('repository_shares')
    .values(row)
    .onConflict((oc) =>
      oc.columns(['region_id', 'namespace', 'repository', 'access_domain']).doNothing(),
    )
    .executeTakeFirst();
  return Number(r.numInsertedOrUpdatedRows ?? 0) > 0;
}

/**
 * Deletes the shares of a namespace left by a domain that no longer owns it (the namespace
 * was deleted and another domain created one by that name). Returns how many went.
 */
export async function deleteStaleShares(
  db: Db,
  regionId: string,
  namespace: string,
  ownerDomainId: string,
): Promise<number> {
  const r = await db
    .deleteFrom('repository_shares')
    .where('region_id', '=', regionId)
    .where('namespace', '=', namespace)
    .where('owner_domain_id', '<>', ownerDomainId)
    .executeTakeFirst();
  return Number(r.numDeletedRows);
}

/** The shares of one repository, by access domain. */
export async function listShares(db: Db, repo: RepositoryKey): Promise<RepositoryShareRow[]> {
  return db
    .selectFrom('repository_shares')
    .selectAll()
    .where((eb) => eb.and(repositoryKey(repo)))
    .orderBy('access_domain')
    .execute();
}

/** One share, if any. */
export async function findShare(db: Db, key: ShareKey): Promise<RepositoryShareRow | undefined> {
  return db
    .selectFrom('repository_shares')
    .selectAll()
    .where((eb) => eb.and(shareKey(key)))
    .executeTakeFirst();
}

/** Updates a share's permit, deadline and (when given) description; false when there is none. */
export async function updateShare(db: Db, key: ShareKey, changes: ShareChanges): Promise<boolean> {
  const r = await db
    .updateTable('repository_shares')
    .set({
      permit: changes.permit,
      deadline: changes.deadline,
      ...(changes.description === undefined ? {} : { description: changes.description }),
      updated_at: new Date(),
    })
    .where((eb) => eb.and(shareKey(key)))
    .executeTakeFirst();
  return Number(r.numUpdatedRows) > 0;
}

/** Deletes a share; false when there was none. */
export async function deleteShare(db: Db, key: ShareKey): Promise<boolean> {
  const r = await db
    .deleteFrom('repository_shares')
    .where((eb) => eb.and(shareKey(key)))
    .executeTakeFirst();
  return Number(r.numDeletedRows) > 0;
}

/**
 * The repositories of a region shared with the domain named `accessDomainName` and in effect
 * at `now`: deadline `forever` or later than `now`. A share counts only while its owner still
 * owns the namespace (a namespace deleted and created again by another domain does not carry
 * the old owner's shares over). Ordered by namespace, repository.
 */
export async function sharedWith(
  db: Db,
  accessDomainName: string,
  regionId: string,
  now: Date = new Date(),
): Promise<SharedRepository[]> {
  // Deadlines are stored as `toISOString()` (fixed width, UTC), so text order is time order.
  return db
    .selectFrom('repository_shares as s')
    .innerJoin('namespaces as n', (j) =>
      j
        .onRef('n.region_id', '=', 's.region_id')
        .onRef('n.name', '=', 's.namespace')
        .onRef('n.domain_id', '=', 's.owner_domain_id'),
    )
    .innerJoin('domains as d', 'd.id', 's.owner_domain_id')
    .select([
      's.region_id',
      's.namespace',
      's.repository',
      's.owner_domain_id',
      'd.name as owner_domain_name',
      's.permit',
      's.deadline',
      's.description',
    ])
    .where('s.access_domain', '=', accessDomainName)
    .where('s.region_id', '=', regionId)
    .where((eb) =>
      eb.or([eb('s.deadline', '=', 'forever'), eb('s.deadline', '>', now.toISOString())]),
    )
    .orderBy('s.namespace')
    .orderBy('s.repository')
    .execute();
}
