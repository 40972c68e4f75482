// Credentials from a Docker `config.json` (what `docker login` writes). The caller chooses
// the file; nothing here reads the environment. Credential helpers (`credsStore`,
// `credHelpers`) run external programs and are not supported.
// https://github.com/docker/cli/blob/master/cli/config/configfile/file.go
import { readFile } from 'node:fs/promises';
import { FerryError } from '../errors/catalog.js';

/** A user and password, or a token sent as a bearer. */
export type RegistryCredentials = { username: string; password: string } | { token: string };

/** One `auths` entry of a Docker config. */
interface AuthEntry {
  auth?: unknown;
  username?: unknown;
  password?: unknown;
  identitytoken?: unknown;
  registrytoken?: unknown;
}

// Docker Hub has gone by several names; `docker login` stores it under the v1 index URL.
const DOCKER_HUB_NAMES = [
  'https://index.docker.io/v1/',
  'index.docker.io',
  'docker.io',
  'registry-1.docker.io',
];

/** `host[:port]` of an `auths` key, which may be a bare host or a URL with a path. */
function keyHost(key: string): string {
  const bare = key.replace(/^[a-z][a-z0-9+.-]*:\/\//i, '');
  return (bare.split('/')[0] ?? '').toLowerCase();
}

function isDockerHub(host: string): boolean {
  return DOCKER_HUB_NAMES.some((name) => keyHost(name) === host);
}

/** The credentials a Docker config holds for `host`, or undefined. */
export function dockerConfigCredentials(
  config: unknown,
  host: string,
): RegistryCredentials | undefined {
  if (config === null || typeof config !== 'object') return undefined;
  const auths = (config as { auths?: unknown }).auths;
  if (auths === null || typeof auths !== 'object') return undefined;
  const entries = auths as Record<string, unknown>;
  const wanted = host.toLowerCase();
  const hub = isDockerHub(wanted);
  // An exact key first, then any key naming the same host (`https://host/v2/`, `host`).
  const keys = [
    ...(hub ? DOCKER_HUB_NAMES : [wanted]),
    ...Object.keys(entries).filter((k) => (hub ? isDockerHub(keyHost(k)) : keyHost(k) === wanted)),
  ];
  for (const key of keys) {
    const entry = entries[key];
    if (entry === null || typeof entry !== 'object') continue;
    const found = fromEntry(entry as AuthEntry);
    if (found) return found;
  }
  return undefined;
}

function fromEntry(entry: AuthEntry): RegistryCredentials | undefined {
  // An identity token replaces the password once a registry has issued one.
  for (const token of [entry.identitytoken, entry.registrytoken]) {
    if (typeof token === 'string' && token !== '') return { token };
  }
  if (typeof entry.auth === 'string' && entry.auth !== '') {
    const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    // The password may itself hold colons; only the first one separates.
    if (colon > 0) return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
  }
  if (
    typeof entry.username === 'string' &&
    typeof entry.password === 'string' &&
    entry.username !== ''
  ) {
    return { username: entry.username, password: entry.password };
  }
  return undefined;
}

/**
 * Reads and parses the Docker config file at `path`; undefined when there is none (no
 * `docker login` yet). IO_ERROR or INVALID_CONFIG when it exists but cannot be used.
 */
export async function readDockerConfig(path: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (code === 'ENOENT') return undefined;
    throw new FerryError('IO_ERROR', `cannot read Docker config ${path}: ${String(code ?? err)}`, {
      cause: err,
    });
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new FerryError('INVALID_CONFIG', `Docker config ${path} is not valid JSON`, {
      cause: err,
    });
  }
}
