// Registry authentication: anonymous, Basic, a fixed bearer token, and the token flow that
// a `WWW-Authenticate: Bearer realm=...,service=...,scope=...` challenge starts.
// https://distribution.github.io/distribution/spec/auth/token/
// The transport asks `authorization(scopes)` before each request and reports each 401 to
// `challenged()`; tokens are cached per set of scopes until they expire.
import { FerryError } from '../../errors/catalog.js';

/** One challenge from a `WWW-Authenticate` header; the scheme is lower-cased. */
export interface Challenge {
  scheme: string;
  params: Record<string, string>;
}

/** Credentials for one registry: a user and password, a fixed bearer token, or nothing. */
export interface Credentials {
  username?: string;
  password?: string;
  token?: string;
}

/**
 * Fetches a token endpoint URL and returns the body. The transport supplies it, so token
 * requests get the same timeouts, retries and error messages as registry requests.
 */
export type TokenFetch = (
  url: URL,
  authorization: string | undefined,
  what: string,
) => Promise<Buffer>;

/** Scope to pull from a repository. */
export function pullScope(repo: string): string {
  return `repository:${repo}:pull`;
}

/** Scope to push to a repository (pushing needs pull too, as HEAD checks come first). */
export function pushScope(repo: string): string {
  return `repository:${repo}:pull,push`;
}

/**
 * Scope to delete from a repository. Registries differ (`delete` in distribution 3, `*` in
 * older ones); a 401 naming another scope is merged in by `challenged`.
 */
export function deleteScope(repo: string): string {
  return `repository:${repo}:delete`;
}

/** Scope to list the registry's repositories. */
export const CATALOG_SCOPE = 'registry:catalog:*';

// A token, auth-param name, or a scheme: RFC 9110 section 11 ("token" characters).
const TOKEN = "[A-Za-z0-9!#$%&'*+.^_`|~-]+";
const ITEM = new RegExp(`\\s*,?\\s*(${TOKEN})(?:\\s*=\\s*("(?:[^"\\\\]|\\\\.)*"|[^,\\s]*))?`, 'y');

/**
 * Parses `WWW-Authenticate` into challenges. Handles several challenges in one header,
 * quoted values with commas (`scope="repository:a:pull,push"`) and repeated headers.
 */
export function parseChallenges(header: string | string[] | undefined): Challenge[] {
  const out: Challenge[] = [];
  for (const line of Array.isArray(header) ? header : header ? [header] : []) {
    let current: Challenge | undefined;
    ITEM.lastIndex = 0;
    for (;;) {
      const start = ITEM.lastIndex;
      const m = ITEM.exec(line);
      if (!m || m[0] === '' || ITEM.lastIndex === start) break;
      const name = m[1] ?? '';
      const raw = m[2];
      if (raw === undefined) {
        current = { scheme: name.toLowerCase(), params: {} };
        out.push(current);
      } else if (current) {
        current.params[name.toLowerCase()] = raw.startsWith('"')
          ? raw.slice(1, -1).replace(/\\(.)/g, '$1')
          : raw;
      }
    }
  }
  return out;
}

/** What the token endpoint answers; both names are in use (`access_token` is OAuth2's). */
interface TokenResponse {
  token?: unknown;
  access_token?: unknown;
  expires_in?: unknown;
}

interface CachedToken {
  header: string;
  expiresAt: number;
}

// The token spec: "When omitted, this defaults to 60 seconds."
const DEFAULT_TOKEN_SECONDS = 60;
// Renew a little before expiry, so a token does not lapse between our check and the request.
const EXPIRY_MARGIN = 0.9;

/** Builds Authorization headers for one registry and learns its scheme from challenges. */
export class Authenticator {
  private mode: 'unknown' | 'basic' | 'bearer' = 'unknown';
  private realm: URL | undefined;
  private service: string | undefined;
  private readonly tokens = new Map<string, CachedToken>();
  private readonly pending = new Map<string, Promise<string>>();
  // Scopes a registry asked for beyond ours (a 401 with `error="insufficient_scope"`).
  private readonly extraScopes = new Map<string, string[]>();

  constructor(
    private readonly registry: string,
    private readonly credentials: Credentials,
    private readonly fetchToken: TokenFetch,
    private readonly now: () => number = Date.now,
  ) {}

  /** True when a user and password are configured. */
  get hasPassword(): boolean {
    return this.credentials.username !== undefined && this.credentials.password !== undefined;
  }

  /**
   * The Authorization header for a request needing `scopes`, or undefined before the
   * registry has asked for any. Fetches (and caches) a token once the registry is known to
   * use the token flow, so each new scope costs one token request and no extra 401.
   */
  async authorization(scopes: readonly string[]): Promise<string | undefined> {
    if (this.credentials.token !== undefined) return `Bearer ${this.credentials.token}`;
    if (this.mode === 'basic') return this.basic();
    if (this.mode === 'bearer') return this.bearer(scopes);
    return undefined;
  }

  /**
   * Records a 401's challenge. True when another try can succeed: a token flow to run or
   * renew, or Basic credentials not yet sent. `sent` is the header the 401 answered.
   */
  challenged(
    header: string | string[] | undefined,
    scopes: readonly string[],
    sent?: string,
  ): boolean {
    // A fixed token is all we have; nothing to renew.
    if (this.credentials.token !== undefined) return false;
    const challenges = parseChallenges(header);
    const bearer = challenges.find((c) => c.scheme === 'bearer' && c.params.realm);
    if (bearer) {
      let realm: URL;
      try {
        realm = new URL(bearer.params.realm ?? '');
      } catch {
        return false;
      }
      if (realm.protocol !== 'https:' && realm.protocol !== 'http:') return false;
      this.mode = 'bearer';
      this.realm = realm;
      this.service = bearer.params.service;
      const key = scopeKey(scopes);
      const asked = (bearer.params.scope ?? '').split(' ').filter((s) => s !== '');
      const extra = new Set(this.extraScopes.get(key) ?? []);
      for (const s of asked) if (!scopes.includes(s)) extra.add(s);
      if (extra.size > 0) this.extraScopes.set(key, [...extra]);
      // The token we sent was refused (expired or revoked): forget it so the retry renews.
      const cached = this.tokens.get(key);
      if (cached && (sent === undefined || cached.header === sent)) this.tokens.delete(key);
      return true;
    }
    if (challenges.some((c) => c.scheme === 'basic') && this.hasPassword) {
      this.mode = 'basic';
      return sent !== this.basic();
    }
    return false;
  }

  private basic(): string | undefined {
    if (!this.hasPassword) return undefined;
    const pair = `${this.credentials.username ?? ''}:${this.credentials.password ?? ''}`;
    return `Basic ${Buffer.from(pair).toString('base64')}`;
  }

  private async bearer(scopes: readonly string[]): Promise<string> {
    const key = scopeKey(scopes);
    const cached = this.tokens.get(key);
    if (cached && cached.expiresAt > this.now()) return cached.header;
    // Requests that need the same token at the same time share one token request.
    let pending = this.pending.get(key);
    if (!pending) {
      pending = this.requestToken(key, [...scopes, ...(this.extraScopes.get(key) ?? [])]).finally(
        () => this.pending.delete(key),
      );
      this.pending.set(key, pending);
    }
    return pending;
  }

  private async requestToken(key: string, scopes: string[]): Promise<string> {
    const realm = this.realm;
    if (!realm) throw new FerryError('INTERNAL', `${this.registry}: token flow without a realm`);
    const url = new URL(realm);
    if (this.service !== undefined) url.searchParams.set('service', this.service);
    for (const s of new Set(scopes)) url.searchParams.append('scope', s);
    const what = `GET token${scopes.length > 0 ? ` for ${scopes.join(' ')}` : ''}`;
    const body = await this.fetchToken(url, this.basic(), what);
    let parsed: TokenResponse;
    try {
      parsed = JSON.parse(body.toString('utf8')) as TokenResponse;
    } catch {
      throw new FerryError('UNAUTHORIZED', `${this.registry}: ${what}: the answer is not JSON`);
    }
    const token =
      typeof parsed.token === 'string' && parsed.token !== '' ? parsed.token : parsed.access_token;
    if (typeof token !== 'string' || token === '') {
      throw new FerryError('UNAUTHORIZED', `${this.registry}: ${what}: the answer holds no token`);
    }
    const seconds =
      typeof parsed.expires_in === 'number' && parsed.expires_in > 0
        ? parsed.expires_in
        : DEFAULT_TOKEN_SECONDS;
    const header = `Bearer ${token}`;
    this.tokens.set(key, { header, expiresAt: this.now() + seconds * 1000 * EXPIRY_MARGIN });
    return header;
  }
}

function scopeKey(scopes: readonly string[]): string {
  return [...scopes].sort().join(' ');
}
