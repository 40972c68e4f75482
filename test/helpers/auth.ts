// Authentication fixtures for tests against a real docker-registry: an htpasswd file
// (bcrypt), a tiny token server that issues ES256 JWTs the registry verifies through an
// `x5c` certificate, and a CA with a server certificate for 127.0.0.1 (openssl CLI).
import { execFile } from 'node:child_process';
import { randomBytes, sign, X509Certificate } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { promisify } from 'node:util';
import bcrypt from 'bcryptjs';

const run = promisify(execFile);

/** Writes an htpasswd file with bcrypt hashes (what distribution's htpasswd auth reads). */
export async function writeHtpasswd(dir: string, users: Record<string, string>): Promise<string> {
  const path = join(dir, 'htpasswd');
  // Cost 4 (bcrypt's minimum) keeps each registry check fast in tests.
  const lines = Object.entries(users).map(([u, p]) => `${u}:${bcrypt.hashSync(p, 4)}`);
  await writeFile(path, `${lines.join('\n')}\n`);
  return path;
}

/** The registry `auth:` section for an htpasswd file. */
export function htpasswdAuth(path: string): Record<string, unknown> {
  return { htpasswd: { realm: 'ferry-test', path } };
}

/** A self-signed certificate and its key (PEM files). */
export interface KeyPair {
  cert: string;
  key: string;
  certPem: string;
  keyPem: string;
}

async function selfSigned(dir: string, name: string, subject: string): Promise<KeyPair> {
  const cert = join(dir, `${name}.crt`);
  const key = join(dir, `${name}.key`);
  await run('openssl', [
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-keyout',
    key,
    '-out',
    cert,
    '-days',
    '2',
    '-subj',
    subject,
  ]);
  return { cert, key, certPem: await readFile(cert, 'utf8'), keyPem: await readFile(key, 'utf8') };
}

/** A test CA and a server certificate it signed for 127.0.0.1 and localhost. */
export interface TestTls {
  ca: KeyPair;
  /** File paths, shaped for `startRegistry({ tls })`. */
  server: { certificate: string; key: string };
}

/** Generates a CA and a server certificate (subjectAltName IP:127.0.0.1) with openssl. */
export async function makeTls(dir: string): Promise<TestTls> {
  const ca = await selfSigned(dir, 'ca', '/CN=Ferry Test CA');
  const key = join(dir, 'server.key');
  const csr = join(dir, 'server.csr');
  const cert = join(dir, 'server.crt');
  const ext = join(dir, 'server.ext');
  await run('openssl', [
    'req',
    '-new',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-keyout',
    key,
    '-out',
    csr,
    '-subj',
    '/CN=127.0.0.1',
  ]);
  await writeFile(
    ext,
    [
      'subjectAltName=IP:127.0.0.1,DNS:localhost',
      'basicConstraints=CA:FALSE',
      'keyUsage=digitalSignature,keyEncipherment',
      'extendedKeyUsage=serverAuth',
      '',
    ].join('\n'),
  );
  await run('openssl', [
    'x509',
    '-req',
    '-in',
    csr,
    '-CA',
    ca.cert,
    '-CAkey',
    ca.key,
    '-CAcreateserial',
    '-out',
    cert,
    '-days',
    '2',
    '-extfile',
    ext,
  ]);
  return { ca, server: { certificate: cert, key } };
}

/** One request the token server answered. */
export interface TokenHit {
  user: string | undefined;
  service: string | null;
  scopes: string[];
  status: number;
}

/** A running token server. */
export interface TokenServer {
  /** `http://127.0.0.1:PORT/token` */
  realm: string;
  service: string;
  issuer: string;
  /** Every request, in order (tests count them). */
  hits: TokenHit[];
  /** The registry `auth:` section that trusts this server. */
  registryAuth: Record<string, unknown>;
  stop(): Promise<void>;
}

/** Options for the token server. */
export interface TokenServerOptions {
  /** Folder for the signing certificate. */
  dir: string;
  /** Accepted users; when set, a request without valid Basic credentials gets 401. */
  users?: Record<string, string>;
  /** `expires_in` in the answer (and the JWT lifetime). Default 300. */
  expiresIn?: number;
  /** Answer with `access_token` instead of `token`. */
  field?: 'token' | 'access_token';
  /** Actions granted for a scope; default everything asked. */
  grant?: (user: string | undefined, type: string, name: string, actions: string[]) => string[];
}

function b64url(data: Buffer | string): string {
  return Buffer.from(data).toString('base64url');
}

/** Starts a token server on 127.0.0.1, port 0, per the distribution token spec. */
export async function startTokenServer(options: TokenServerOptions): Promise<TokenServer> {
  const signer = await selfSigned(options.dir, 'token-signer', '/CN=Ferry Test Token Issuer');
  const x5c = new X509Certificate(signer.certPem).raw.toString('base64');
  const service = 'ferry-test-registry';
  const issuer = 'ferry-test-issuer';
  const expiresIn = options.expiresIn ?? 300;
  const hits: TokenHit[] = [];

  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const scopes = url.searchParams.getAll('scope');
    let user: string | undefined;
    const authz = req.headers.authorization;
    if (authz?.startsWith('Basic ')) {
      const decoded = Buffer.from(authz.slice(6), 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      const name = decoded.slice(0, colon);
      if (options.users?.[name] !== undefined && options.users[name] === decoded.slice(colon + 1)) {
        user = name;
      } else {
        hits.push({ user: name, service: url.searchParams.get('service'), scopes, status: 401 });
        res.writeHead(401, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: 'bad credentials' }] }));
        return;
      }
    } else if (options.users) {
      hits.push({ user: undefined, service: url.searchParams.get('service'), scopes, status: 401 });
      res.writeHead(401, { 'www-authenticate': 'Basic realm="token"' });
      res.end();
      return;
    }
    const access = scopes.flatMap((s) => {
      const parts = s.split(':');
      if (parts.length < 3) return [];
      const type = parts[0] ?? '';
      const actions = (parts.at(-1) ?? '').split(',');
      const name = parts.slice(1, -1).join(':');
      const granted = options.grant ? options.grant(user, type, name, actions) : actions;
      return granted.length > 0 ? [{ type, name, actions: granted }] : [];
    });
    const now = Math.floor(Date.now() / 1000);
    const head = { typ: 'JWT', alg: 'ES256', x5c: [x5c] };
    const claims = {
      iss: issuer,
      sub: user ?? '',
      aud: service,
      exp: now + expiresIn,
      nbf: now - 10,
      iat: now,
      jti: randomBytes(8).toString('hex'),
      access,
    };
    const input = `${b64url(JSON.stringify(head))}.${b64url(JSON.stringify(claims))}`;
    // JWS ES256 signatures are r||s, not DER (RFC 7518 section 3.4).
    const signature = sign('sha256', Buffer.from(input), {
      key: signer.keyPem,
      dsaEncoding: 'ieee-p1363',
    });
    const token = `${input}.${b64url(signature)}`;
    hits.push({ user, service: url.searchParams.get('service'), scopes, status: 200 });
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify({
        [options.field ?? 'token']: token,
        expires_in: expiresIn,
        issued_at: new Date(now * 1000).toISOString(),
      }),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  const realm = `http://127.0.0.1:${port}/token`;
  return {
    realm,
    service,
    issuer,
    hits,
    registryAuth: { token: { realm, service, issuer, rootcertbundle: signer.cert } },
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
