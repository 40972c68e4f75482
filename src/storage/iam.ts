// IAM rows: domains, users, projects, tokens, access keys. One function per operation.
import type { Db } from './database.js';
import type { Selectable } from 'kysely';
import type { AccessKeyTable, DomainTable, ProjectTable, UserTable } from './schema.js';

export type DomainRow = Selectable<DomainTable>;
export type UserRow = Selectable<UserTable>;
export type ProjectRow = Selectable<ProjectTable>;
export type AccessKeyRow = Selectable<AccessKeyTable>;

/** The domain named `name`, if any. */
export async function findDomainByName(db: Db, name: string): Promise<DomainRow | undefined> {
  return db.selectFrom('domains').selectAll().where('name', '=', name).executeTakeFirst();
}

/** The domain with id `id`, if any. */
export async function findDomainById(db: Db, id: string): Promise<DomainRow | undefined> {
  return db.selectFrom('domains').selectAll().where('id', '=', id).executeTakeFirst();
}

/** Inserts a domain unless one has that name; returns the stored row either way. */
export async function ensureDomain(db: Db, id: string, name: string): Promise<DomainRow> {
  await db
    .insertInto('domains')
    .values({ id, name })
    .onConflict((oc) => oc.column('name').doNothing())
    .execute();
  return (await findDomainByName(db, name))!;
}

/** A user by domain and name. */
export async function findUser(
  db: Db,
  domainId: string,
  name: string,
): Promise<UserRow | undefined> {
  return db
    .selectFrom('users')
    .selectAll()
    .where('domain_id', '=', domainId)
    .where('name', '=', name)
    .executeTakeFirst();
}

/** Who a user is, with its domain: what a request's principal needs, in one query. */
export interface UserIdentity {
  user_id: string;
  user_name: string;
  domain_id: string;
  domain_name: string;
}

const IDENTITY = [
  'users.id as user_id',
  'users.name as user_name',
  'domains.id as domain_id',
  'domains.name as domain_name',
] as const;

/** A user and its domain, by user id. */
export async function findUserIdentity(db: Db, userId: string): Promise<UserIdentity | undefined> {
  return db
    .selectFrom('users')
    .innerJoin('domains', 'domains.id', 'users.domain_id')
    .select(IDENTITY)
    .where('users.id', '=', userId)
    .executeTakeFirst();
}

/** Users named `name` in any domain (for the admin CLI, which may not know the domain). */
export async function findUsersByName(db: Db, name: string): Promise<UserRow[]> {
  return db.selectFrom('users').selectAll().where('name', '=', name).execute();
}

/** Inserts a user unless the domain has one by that name; returns the stored row. */
export async function ensureUser(
  db: Db,
  row: { id: string; domain_id: string; name: string; password_hash: string },
): Promise<UserRow> {
  await db
    .insertInto('users')
    .values(row)
    .onConflict((oc) => oc.columns(['domain_id', 'name']).doNothing())
    .execute();
  return (await findUser(db, row.domain_id, row.name))!;
}

/** Creates the missing projects of a domain, one per region id. */
export async function ensureProjects(
  db: Db,
  domainId: string,
  projects: { id: string; name: string }[],
): Promise<void> {
  if (projects.length === 0) return;
  await db
    .insertInto('projects')
    .values(projects.map((p) => ({ ...p, domain_id: domainId })))
    .onConflict((oc) => oc.columns(['domain_id', 'name']).doNothing())
    .execute();
}

/** The projects of a domain, optionally only the one named `name`. */
export async function listProjects(db: Db, domainId: string, name?: string): Promise<ProjectRow[]> {
  let q = db.selectFrom('projects').selectAll().where('domain_id', '=', domainId);
  if (name !== undefined) q = q.where('name', '=', name);
  return q.orderBy('name').execute();
}

/** A project by id. */
export async function findProjectById(db: Db, id: string): Promise<ProjectRow | undefined> {
  return db.selectFrom('projects').selectAll().where('id', '=', id).executeTakeFirst();
}

/** Every domain id (to create projects for a region added to the config). */
export async function listDomains(db: Db): Promise<DomainRow[]> {
  return db.selectFrom('domains').selectAll().orderBy('name').execute();
}

/** Stores a token's hash. */
export async function insertToken(
  db: Db,
  row: {
    hash: string;
    user_id: string;
    project_id: string | null;
    issued_at: Date;
    expires_at: Date;
  },
): Promise<void> {
  await db.insertInto('tokens').values(row).execute();
}

/** A token that has not expired at `now`, with its user and the user's domain. */
export async function findLiveToken(
  db: Db,
  hash: string,
  now: Date,
): Promise<(UserIdentity & { project_id: string | null; expires_at: Date }) | undefined> {
  return db
    .selectFrom('tokens')
    .innerJoin('users', 'users.id', 'tokens.user_id')
    .innerJoin('domains', 'domains.id', 'users.domain_id')
    .select([...IDENTITY, 'tokens.project_id', 'tokens.expires_at'])
    .where('tokens.hash', '=', hash)
    .where('tokens.expires_at', '>', now)
    .executeTakeFirst();
}

/** Deletes tokens that expired before `now`. */
export async function deleteExpiredTokens(db: Db, now: Date): Promise<number> {
  const r = await db.deleteFrom('tokens').where('expires_at', '<=', now).executeTakeFirst();
  return Number(r.numDeletedRows);
}

/** An access key by AK. */
export async function findAccessKey(db: Db, ak: string): Promise<AccessKeyRow | undefined> {
  return db.selectFrom('access_keys').selectAll().where('ak', '=', ak).executeTakeFirst();
}

/** Stores an access key unless the AK exists; true when inserted. */
export async function insertAccessKey(
  db: Db,
  row: { ak: string; user_id: string; sk_encrypted: string; description?: string },
): Promise<boolean> {
  const r = await db
    .insertInto('access_keys')
    .values(row)
    .onConflict((oc) => oc.column('ak').doNothing())
    .executeTakeFirst();
  return Number(r.numInsertedOrUpdatedRows ?? 0) > 0;
}
