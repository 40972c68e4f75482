// Authentication: challenge parsing and the token cache in isolation, then Basic auth
// (htpasswd) and the token flow (a real token server issuing ES256 JWTs) against real
// docker-registry processes, and token renewal against a tiny local server.
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FerryError } from '../../errors/catalog.js';
import { sha256Digest } from '../digest.js';
import { MediaType, type Descriptor, type Manifest } from '../types.js';
import {
  htpasswdAuth,
  startTokenServer,
  writeHtpasswd,
  type TokenServer,
} from '../../../test/helpers/auth.js';
import { startRegistry, type TestRegistry } from '../../../test/helpers/registry.js';
import { Authenticator, parseChallenges } from './auth.js';
import { HttpRegistry } from './registry.js';

type Event = { method: string; url: string; status: number };

const configBytes = Buffer.from('{"architecture":"amd64","os":"linux"}');
const config: Descriptor = {
  mediaType: MediaType.OciConfig,
  digest: sha256Digest(configBytes),
  size: configBytes.length,
};
const manifestBytes = Buffer.from(
  JSON.stringify({ schemaVersion: 2, mediaType: MediaType.OciManifest, config, layers: [] }),
);
const manifest: Manifest = {
  mediaType: MediaType.OciManifest,
  digest: sha256Digest(manifestBytes),
  bytes: manifestBytes,
};

async function rejection(p: Promise<unknown>): Promise<FerryError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (err instanceof FerryError) return err;
  throw new Error(`expected a FerryError, got ${String(err)}`);
}

describe('parseChallenges', () => {
  it('reads a Bearer challenge with quoted commas and an error', () => {
    expect(
      parseChallenges(
        'Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull,push",error="insufficient_scope"',
      ),
    ).toEqual([
      {
        scheme: 'bearer',
        params: {
          realm: 'https://auth.example/token',
          service: 'registry.example',
          scope: 'repository:a/b:pull,push',
          error: 'insufficient_scope',
        },
      },
    ]);
  });

  it('reads several challenges, unquoted values and repeated headers', () => {
    expect(
      parseChallenges([
        'Basic realm="Registry Realm"',
        'Bearer realm=https://t.example/tok, service=reg',
      ]),
    ).toEqual([
      { scheme: 'basic', params: { realm: 'Registry Realm' } },
      { scheme: 'bearer', params: { realm: 'https://t.example/tok', service: 'reg' } },
    ]);
    expect(parseChallenges('Basic realm="a", Bearer realm="b"').map((c) => c.scheme)).toEqual([
      'basic',
      'bearer',
    ]);
    expect(parseChallenges(undefined)).toEqual([]);
  });
});

describe('Authenticator', () => {
  const challenge = 'Bearer realm="https://auth.example/token",service="reg"';

  function make(answers: Array<Record<string, unknown>>, creds = {}) {
    let now = 1_000_000;
    const calls: Array<{ url: URL; authorization: string | undefined }> = [];
    const auth = new Authenticator(
      'reg.example',
      creds,
      async (url, authorization) => {
        calls.push({ url, authorization });
        return Buffer.from(JSON.stringify(answers[Math.min(calls.length - 1, answers.length - 1)]));
      },
      () => now,
    );
    return { auth, calls, advance: (ms: number) => (now += ms) };
  }

  it('caches a token per scope set until expires_in', async () => {
    const { auth, calls, advance } = make([
      { token: 't1', expires_in: 300 },
      { token: 't2', expires_in: 300 },
      { token: 't3', expires_in: 300 },
    ]);
    expect(await auth.authorization(['repository:a:pull'])).toBeUndefined();
    expect(auth.challenged(challenge, ['repository:a:pull'])).toBe(true);
    expect(await auth.authorization(['repository:a:pull'])).toBe('Bearer t1');
    expect(await auth.authorization(['repository:a:pull'])).toBe('Bearer t1');
    expect(await auth.authorization(['repository:b:pull'])).toBe('Bearer t2');
    expect(calls).toHaveLength(2);
    expect(calls[0]?.url.toString()).toBe(
      'https://auth.example/token?service=reg&scope=repository%3Aa%3Apull',
    );
    advance(299_000);
    expect(await auth.authorization(['repository:a:pull'])).toBe('Bearer t3');
    expect(calls).toHaveLength(3);
  });

  it('assumes 60 s without expires_in, and accepts access_token', async () => {
    const { auth, calls, advance } = make([{ access_token: 'a1' }, { access_token: 'a2' }]);
    auth.challenged(challenge, []);
    expect(await auth.authorization([])).toBe('Bearer a1');
    advance(50_000);
    expect(await auth.authorization([])).toBe('Bearer a1');
    advance(10_000);
    expect(await auth.authorization([])).toBe('Bearer a2');
    expect(calls).toHaveLength(2);
  });

  it('shares one token request between concurrent callers', async () => {
    const { auth, calls } = make([{ token: 't' }]);
    auth.challenged(challenge, ['repository:a:pull']);
    const all = await Promise.all(
      Array.from({ length: 10 }, () => auth.authorization(['repository:a:pull'])),
    );
    expect(new Set(all)).toEqual(new Set(['Bearer t']));
    expect(calls).toHaveLength(1);
  });

  it('drops a refused token and asks again with the scopes the registry named', async () => {
    const { auth, calls } = make([{ token: 't1' }, { token: 't2' }]);
    const scopes = ['repository:a:delete'];
    auth.challenged(challenge, scopes);
    const sent = await auth.authorization(scopes);
    const more = `${challenge},scope="repository:a:*",error="insufficient_scope"`;
    expect(auth.challenged(more, scopes, sent)).toBe(true);
    expect(await auth.authorization(scopes)).toBe('Bearer t2');
    expect(calls[1]?.url.searchParams.getAll('scope')).toEqual([
      'repository:a:delete',
      'repository:a:*',
    ]);
  });

  it('sends Basic credentials to the token endpoint', async () => {
    const { auth, calls } = make([{ token: 't' }], { username: 'alice', password: 'p:w' });
    auth.challenged(challenge, []);
    await auth.authorization([]);
    expect(calls[0]?.authorization).toBe(`Basic ${Buffer.from('alice:p:w').toString('base64')}`);
  });

  it('uses Basic for a Basic challenge, once', async () => {
    const { auth } = make([], { username: 'u', password: 'p' });
    expect(auth.challenged('Basic realm="r"', [])).toBe(true);
    const basic = await auth.authorization([]);
    expect(basic).toBe(`Basic ${Buffer.from('u:p').toString('base64')}`);
    // The same credentials were refused: nothing else to try.
    expect(auth.challenged('Basic realm="r"', [], basic)).toBe(false);
  });

  it('sends a fixed token as is and never renews it', async () => {
    const { auth, calls } = make([], { token: 'pat' });
    expect(await auth.authorization(['repository:a:pull'])).toBe('Bearer pat');
    expect(auth.challenged(challenge, ['repository:a:pull'], 'Bearer pat')).toBe(false);
    expect(calls).toHaveLength(0);
  });

  it('fails with UNAUTHORIZED when the answer has no token', async () => {
    const { auth } = make([{ nothing: true }]);
    auth.challenged(challenge, []);
    await expect(auth.authorization([])).rejects.toMatchObject({
      code: 'UNAUTHORIZED',
      message: 'reg.example: GET token: the answer holds no token',
    });
  });
});

describe('Basic auth (htpasswd)', () => {
  let dir: string;
  let server: TestRegistry;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-basic-'));
    const path = await writeHtpasswd(dir, { alice: 's3cret' });
    server = await startRegistry({ auth: htpasswdAuth(path) });
  });

  afterAll(async () => {
    await server?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('authenticates once, then sends Basic with every request', async () => {
    const events: Event[] = [];
    const reg = new HttpRegistry({
      host: server.host,
      username: 'alice',
      password: 's3cret',
      onRequest: (e) => events.push(e),
    });
    try {
      await reg.ping();
      await reg.blobPut('team/app', config, Readable.from([configBytes]));
      await reg.manifestPut('team/app', 'v1', manifest);
      expect((await reg.manifestGet('team/app', 'v1')).digest).toBe(manifest.digest);
      expect(await reg.tagList('team/app')).toEqual(['v1']);
      expect(events.filter((e) => e.status === 401)).toHaveLength(1);
      expect(events[0]).toMatchObject({ method: 'GET', status: 401 });
      expect(events[1]).toMatchObject({ method: 'GET', status: 200 });
    } finally {
      await reg.close();
    }
  });

  it('refuses bad credentials with a one-line UNAUTHORIZED, without retrying', async () => {
    const events: Event[] = [];
    const reg = new HttpRegistry({
      host: server.host,
      username: 'alice',
      password: 'wrong',
      onRequest: (e) => events.push(e),
    });
    try {
      const err = await rejection(reg.manifestGet('team/app', 'v1'));
      expect(err.code).toBe('UNAUTHORIZED');
      expect(err.temporary).toBe(false);
      expect(err.message).toBe(
        `${server.host}: GET manifest team/app:v1: 401 authentication required`,
      );
      expect(err.message).not.toContain('\n');
      expect(events.map((e) => e.status)).toEqual([401, 401]);
    } finally {
      await reg.close();
    }
  });

  it('refuses anonymous access with UNAUTHORIZED', async () => {
    const reg = new HttpRegistry({ host: server.host });
    try {
      const err = await rejection(reg.ping());
      expect(err.code).toBe('UNAUTHORIZED');
      expect(err.message).toBe(`${server.host}: GET /v2/: 401 authentication required`);
    } finally {
      await reg.close();
    }
  });
});

describe('token auth', () => {
  let dir: string;
  let tokens: TokenServer;
  let server: TestRegistry;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-token-'));
    tokens = await startTokenServer({ dir, users: { alice: 'pw' } });
    server = await startRegistry({ auth: tokens.registryAuth });
  });

  afterAll(async () => {
    await server?.stop();
    await tokens?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('fetches one token per scope and reuses it', async () => {
    const events: Event[] = [];
    const reg = new HttpRegistry({
      host: server.host,
      username: 'alice',
      password: 'pw',
      onRequest: (e) => events.push(e),
    });
    const hitsBefore = tokens.hits.length;
    const scopesHit = (): string[][] => tokens.hits.slice(hitsBefore).map((h) => h.scopes);
    try {
      await reg.ping();
      await reg.blobPut('ns/a', config, Readable.from([configBytes]));
      await reg.manifestPut('ns/a', 'v1', manifest);
      expect(await reg.blobHead('ns/a', config.digest)).toBe(config.size);
      expect(await reg.blobHead('ns/a', config.digest)).toBe(config.size);
      expect(await reg.tagList('ns/a')).toEqual(['v1']);
      expect((await reg.manifestGet('ns/a', 'v1')).digest).toBe(manifest.digest);
      expect(scopesHit()).toEqual([[], ['repository:ns/a:pull,push'], ['repository:ns/a:pull']]);
      // Parallel reads of a new repository share one token request.
      await Promise.all(Array.from({ length: 8 }, () => reg.blobHead('ns/b', config.digest)));
      expect(scopesHit()).toHaveLength(4);
      expect(scopesHit()[3]).toEqual(['repository:ns/b:pull']);
      // Once the flow is known, a new scope costs a token request and no extra 401.
      expect(events.filter((e) => e.status === 401)).toHaveLength(1);
      expect(
        tokens.hits
          .slice(hitsBefore)
          .every((h) => h.user === 'alice' && h.service === tokens.service),
      ).toBe(true);
      expect(reg.stats.tokenFetches).toBe(4);
    } finally {
      await reg.close();
    }
  });

  it('asks pull on the source repository for a mount, and catalog scope for the catalog', async () => {
    const reg = new HttpRegistry({ host: server.host, username: 'alice', password: 'pw' });
    const hitsBefore = tokens.hits.length;
    try {
      await reg.blobPut('ns/src', config, Readable.from([configBytes]));
      expect(await reg.blobMount('ns/dst', config.digest, 'ns/src')).toBe(true);
      expect(await reg.blobHead('ns/dst', config.digest)).toBe(config.size);
      await reg.manifestPut('ns/src', 'v1', manifest);
      expect(await reg.catalogList()).toEqual(expect.arrayContaining(['ns/src', 'ns/dst']));
      const scopes = tokens.hits.slice(hitsBefore).map((h) => h.scopes);
      expect(scopes).toContainEqual(['repository:ns/dst:pull,push', 'repository:ns/src:pull']);
      expect(scopes).toContainEqual(['registry:catalog:*']);
    } finally {
      await reg.close();
    }
  });

  it('deletes with a token for the delete scope', async () => {
    const reg = new HttpRegistry({ host: server.host, username: 'alice', password: 'pw' });
    try {
      await reg.blobPut('ns/del', config, Readable.from([configBytes]));
      await reg.manifestPut('ns/del', 'v1', manifest);
      await reg.manifestDelete('ns/del', manifest.digest);
      expect(await reg.manifestHead('ns/del', manifest.digest)).toBeUndefined();
      // distribution 2.8 checks the `delete` action (older ones wanted `*`, which a 401's
      // scope would have added).
      expect(tokens.hits.map((h) => h.scopes)).toContainEqual(['repository:ns/del:delete']);
    } finally {
      await reg.close();
    }
  });

  it('reports a token endpoint that refuses the credentials as UNAUTHORIZED', async () => {
    const reg = new HttpRegistry({ host: server.host, username: 'alice', password: 'nope' });
    try {
      const err = await rejection(reg.tagList('ns/a'));
      expect(err.code).toBe('UNAUTHORIZED');
      expect(err.message).toBe(
        `${server.host}: GET token for repository:ns/a:pull: 401 bad credentials`,
      );
    } finally {
      await reg.close();
    }
  });
});

describe('token renewal', () => {
  it('renews a refused token once, then gives up', async () => {
    let issued = 0;
    const log: string[] = [];
    let accept = 'Bearer t2';
    const srv = createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      if (url.pathname === '/token') {
        issued++;
        log.push(`token ${url.searchParams.get('scope') ?? ''}`);
        res.end(JSON.stringify({ token: `t${issued}`, expires_in: 300 }));
        return;
      }
      log.push(`${req.method} ${req.headers.authorization ?? 'none'}`);
      if (req.headers.authorization === accept) {
        res.end(JSON.stringify({ name: 'ns/app', tags: ['v1'] }));
        return;
      }
      const host = req.headers.host ?? '';
      res.writeHead(401, {
        'www-authenticate': `Bearer realm="http://${host}/token",service="fake",scope="repository:ns/app:pull"`,
        'content-type': 'application/json',
      });
      res.end(JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: 'token refused' }] }));
    });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const addr = srv.address();
    const host = `127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
    const reg = new HttpRegistry({ host });
    try {
      // First: no token, 401, token t1... which this registry refuses; renewal gets t2.
      // The first 401 learns the flow (not a renewal); the second is the one renewal.
      expect(await reg.tagList('ns/app')).toEqual(['v1']);
      expect(log).toEqual([
        'GET none',
        'token repository:ns/app:pull',
        'GET Bearer t1',
        'token repository:ns/app:pull',
        'GET Bearer t2',
      ]);
      // Now the registry refuses everything: one renewal, then UNAUTHORIZED.
      accept = 'never';
      log.length = 0;
      const err = await rejection(reg.tagList('ns/app'));
      expect(err.code).toBe('UNAUTHORIZED');
      expect(err.message).toBe(`${host}: GET tags ns/app: 401 token refused`);
      expect(log).toEqual(['GET Bearer t2', 'token repository:ns/app:pull', 'GET Bearer t3']);
    } finally {
      await reg.close();
      await new Promise((done) => srv.close(done));
    }
  });

  it('sends options.token as a bearer as is', async () => {
    const seen: Array<string | undefined> = [];
    const srv = createServer((req, res) => {
      seen.push(req.headers.authorization);
      res.end('{}');
    });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const addr = srv.address();
    const reg = new HttpRegistry({
      host: `127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`,
      token: 'my-pat',
    });
    try {
      await reg.ping();
      expect(seen).toEqual(['Bearer my-pat']);
    } finally {
      await reg.close();
      await new Promise((done) => srv.close(done));
    }
  });
});
