// IAM as Huawei Cloud clients expect it (huawei-compat.md section 1): password tokens,
// AK/SK signatures, and the project lookups SDK clients built with `withRegion` make.
import { randomBytes } from 'node:crypto';
import { FerryError } from '../errors/catalog.js';
import { BoundedCache } from '../storage/cache.js';
import type { Db } from '../storage/database.js';
import * as store from '../storage/iam.js';
import { hashPassword, newId, SecretBox, tokenHash, verifyPassword } from './crypto.js';
import { verifySignature, type SignedRequest } from './signer.js';

/** Who is calling, resolved from a token or a signature. */
export interface Principal {
  userId: string;
  userName: string;
  domainId: string;
  domainName: string;
  /** The project the call is scoped to (token scope or X-Project-Id), if any. */
  projectId: string | undefined;
  /** How the caller proved who it is. */
  method: 'token' | 'aksk';
}

/** The body of `POST /v3/auth/tokens`, already parsed. */
export interface TokenRequest {
  user: string;
  password: string;
  domain: string;
  scope: { project: { id?: string; name?: string } } | { domain: { id?: string; name?: string } };
}

/** An issued token and the `token` object of the response body. */
export interface IssuedToken {
  token: string;
  expiresAt: Date;
  issuedAt: Date;
  user: store.UserRow;
  domain: store.DomainRow;
  project: store.ProjectRow | undefined;
}

// Every API request resolves its token and project. Both are kept in memory, exactly: a token
// row never changes and is never deleted before it expires (there is no revocation), and a
// project row never changes after it is created. Token entries are still re-read every few
// minutes, so a revocation added later has a bound to work with.
const TOKEN_CACHE_MS = 5 * 60_000;
const CACHE_ENTRIES = 10_000;

/** Users, tokens, access keys and projects, on the database. */
export class IamService {
  private readonly tokenCache = new BoundedCache<string, Principal>(CACHE_ENTRIES);
  private readonly projectCache = new BoundedCache<string, store.ProjectRow>(CACHE_ENTRIES);

  constructor(
    private readonly db: Db,
    private readonly box: SecretBox,
    private readonly regionIds: readonly string[],
    private readonly tokenTtlSeconds: number,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /** Creates the bootstrap domain, user and access keys when missing, and every domain's projects. */
  async bootstrap(cfg?: {
    domain: string;
    user: string;
    password: string;
    accessKeys: readonly { ak: string; sk: string }[];
  }): Promise<void> {
    if (cfg) {
      const domain = await store.ensureDomain(this.db, newId(), cfg.domain);
      const user = await store.ensureUser(this.db, {
        id: newId(),
        domain_id: domain.id,
        name: cfg.user,
        password_hash: await hashPassword(cfg.password),
      });
      for (const key of cfg.accessKeys) {
        const existing = await store.findAccessKey(this.db, key.ak);
        if (existing && existing.user_id !== user.id) {
          throw new FerryError(
            'INVALID_CONFIG',
            `bootstrap.accessKeys: ${key.ak} already belongs to another user`,
          );
        }
        if (!existing) {
          await store.insertAccessKey(this.db, {
            ak: key.ak,
            user_id: user.id,
            sk_encrypted: this.box.seal(key.sk),
            description: 'bootstrap',
          });
        }
      }
    }
    // A region added to the config gets a project in every domain at the next start.
    for (const d of await store.listDomains(this.db)) {
      await store.ensureProjects(
        this.db,
        d.id,
        this.regionIds.map((r) => ({ id: newId(), name: r })),
      );
    }
  }

  /** Checks a password and issues a scoped token (the token itself is returned once). */
  async issueToken(req: TokenRequest): Promise<IssuedToken> {
    const denied = new FerryError(
      'UNAUTHENTICATED',
      'The username or password is wrong, or the user does not exist in that domain.',
    );
    const domain = await store.findDomainByName(this.db, req.domain);
    if (!domain) throw denied;
    const user = await store.findUser(this.db, domain.id, req.user);
    // Verify against a dummy hash when the user is unknown, so timing does not tell.
    const ok = await verifyPassword(req.password, user?.password_hash ?? DUMMY_HASH);
    if (!user || !ok) throw denied;

    let project: store.ProjectRow | undefined;
    if ('project' in req.scope) {
      const { id, name } = req.scope.project;
      const projects = await store.listProjects(this.db, domain.id, name);
      project = projects.find((p) => id === undefined || p.id === id);
      if (!project) {
        throw new FerryError(
          'BAD_REQUEST',
          `scope.project: no project ${JSON.stringify(id ?? name)} in domain ${domain.name}`,
        );
      }
    } else {
      const { id, name } = req.scope.domain;
      if ((id !== undefined && id !== domain.id) || (name !== undefined && name !== domain.name)) {
        throw new FerryError('FORBIDDEN', 'scope.domain: not the user\u2019s domain');
      }
    }
    const token = `ferry-${randomBytes(32).toString('base64url')}`;
    const issuedAt = this.now();
    const expiresAt = new Date(issuedAt.getTime() + this.tokenTtlSeconds * 1000);
    await store.insertToken(this.db, {
      hash: tokenHash(token),
      user_id: user.id,
      project_id: project?.id ?? null,
      issued_at: issuedAt,
      expires_at: expiresAt,
    });
    return { token, issuedAt, expiresAt, user, domain, project };
  }

  /** The principal of an `X-Auth-Token`, or undefined when unknown or expired. */
  async authenticateToken(token: string): Promise<Principal | undefined> {
    const hash = tokenHash(token);
    const now = this.now();
    const cached = this.tokenCache.get(hash, now.getTime());
    if (cached) return cached;
    const row = await store.findLiveToken(this.db, hash, now);
    if (!row) return undefined;
    const principal = toPrincipal(row, row.project_id ?? undefined, 'token');
    this.tokenCache.set(
      hash,
      principal,
      Math.min(row.expires_at.getTime(), now.getTime() + TOKEN_CACHE_MS),
    );
    return principal;
  }

  /** The principal of an AK/SK-signed request, or the reason it is refused. */
  async authenticateSignature(
    req: SignedRequest,
  ): Promise<{ ok: true; principal: Principal } | { ok: false; reason: string }> {
    let userId: string | undefined;
    const result = await verifySignature(req, {
      now: this.now(),
      lookupSecret: async (ak) => {
        const key = await store.findAccessKey(this.db, ak);
        if (!key) return undefined;
        userId = key.user_id;
        return this.box.open(key.sk_encrypted);
      },
    });
    if (!result.ok) return result;
    const user = await store.findUserIdentity(this.db, userId!);
    return user
      ? { ok: true, principal: toPrincipal(user, undefined, 'aksk') }
      : { ok: false, reason: 'unknown access key' };
  }

  /** Creates an access key for a user; returns the pair (the secret is shown only here). */
  async createAccessKey(
    userName: string,
    domainName?: string,
  ): Promise<{ ak: string; sk: string; domain: string }> {
    let users = await store.findUsersByName(this.db, userName);
    let domain: store.DomainRow | undefined;
    if (domainName !== undefined) {
      domain = await store.findDomainByName(this.db, domainName);
      users = users.filter((u) => u.domain_id === domain?.id);
    }
    if (users.length === 0) {
      throw new FerryError(
        'NOT_FOUND',
        `no user ${userName}${domainName ? ` in ${domainName}` : ''}`,
      );
    }
    if (users.length > 1) {
      throw new FerryError(
        'BAD_REQUEST',
        `several domains have a user ${userName}: name one with --domain`,
      );
    }
    const user = users[0]!;
    domain ??= await store.findDomainById(this.db, user.domain_id);
    // 20 upper-case characters like Huawei's AKs; 40 for the SK.
    const ak = randomBytes(15)
      .toString('base64url')
      .toUpperCase()
      .replace(/[-_]/g, 'X')
      .slice(0, 20);
    const sk = randomBytes(30).toString('base64url').slice(0, 40);
    await store.insertAccessKey(this.db, {
      ak,
      user_id: user.id,
      sk_encrypted: this.box.seal(sk),
      description: 'ferry admin',
    });
    return { ak, sk, domain: domain!.name };
  }

  /** The domain's projects, or only the one named `name`. */
  async projects(domainId: string, name?: string): Promise<store.ProjectRow[]> {
    return store.listProjects(this.db, domainId, name);
  }

  /** A project by id, if any. */
  async project(id: string): Promise<store.ProjectRow | undefined> {
    const cached = this.projectCache.get(id, 0);
    if (cached) return cached;
    const row = await store.findProjectById(this.db, id);
    if (row) this.projectCache.set(id, row);
    return row;
  }

  /** A domain by id. */
  async domain(id: string): Promise<store.DomainRow | undefined> {
    return store.findDomainById(this.db, id);
  }

  /** Deletes expired token rows. */
  async purgeExpiredTokens(): Promise<number> {
    return store.deleteExpiredTokens(this.db, this.now());
  }
}

function toPrincipal(
  u: store.UserIdentity,
  projectId: string | undefined,
  method: Principal['method'],
): Principal {
  return {
    userId: u.user_id,
    userName: u.user_name,
    domainId: u.domain_id,
    domainName: u.domain_name,
    projectId,
    method,
  };
}

// scrypt of a random password: verifying against it costs what a real check costs.
const DUMMY_HASH = 'scrypt$AAAAAAAAAAAAAAAAAAAAAA==$3q2+7wAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=';
