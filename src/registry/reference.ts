// Image references (`host[:port]/repo[:tag][@digest]`) with Docker Hub's defaults, and
// the copy endpoints the CLI accepts: a registry, a repository, a tag or digest, or an
// OCI layout folder (`oci:PATH[:ref]`).
import { FerryError } from '../errors/catalog.js';
import { isDigest } from './digest.js';

/** Docker Hub's registry host, used when a reference names none. */
export const DOCKER_HUB = 'docker.io';

/** A parsed image reference. */
export interface Reference {
  /** `host[:port]`, lower-cased; `docker.io` for Docker Hub. */
  registry: string;
  /** Repository path, e.g. `library/ubuntu` or `ns/team/app`. */
  repository: string;
  tag?: string;
  digest?: string;
}

// https://github.com/distribution/reference/blob/main/reference.go (grammar)
const COMPONENT = '[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*';
const REPOSITORY_RE = new RegExp(`^${COMPONENT}(?:/${COMPONENT})*$`);
const TAG_RE = /^[\w][\w.-]{0,127}$/;
const HOST_RE = /^(?:[a-zA-Z0-9-]+(?:\.[a-zA-Z0-9-]+)*|\[[0-9a-fA-F:]+\])(?::[0-9]{1,5})?$/;

/** True when `s` is a valid repository path. */
export function isRepositoryName(s: string): boolean {
  return s.length <= 255 && REPOSITORY_RE.test(s);
}

/** True when `s` is a valid tag. */
export function isTag(s: string): boolean {
  return TAG_RE.test(s);
}

/** True when the first path component names a registry host rather than a namespace. */
function looksLikeHost(component: string): boolean {
  return (
    component === 'localhost' ||
    component.includes('.') ||
    component.includes(':') ||
    component.startsWith('[')
  );
}

function invalid(input: string, why: string): FerryError {
  return new FerryError('INVALID_REFERENCE', `invalid reference "${input}": ${why}`);
}

/** Checks a host[:port] string. */
export function checkRegistryHost(input: string, host: string): string {
  if (!HOST_RE.test(host)) throw invalid(input, `"${host}" is not a registry host`);
  const port = /:(\d+)$/.exec(host)?.[1];
  if (port !== undefined && (Number(port) < 1 || Number(port) > 65535)) {
    throw invalid(input, `port ${port} is out of range`);
  }
  return host.toLowerCase();
}

/** Parses `host[:port]/repo[:tag][@digest]`, applying Docker Hub's defaults. */
export function parseReference(input: string): Reference {
  const s = input.trim();
  if (s === '') throw invalid(input, 'it is empty');
  let rest = s;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!isDigest(digest)) throw invalid(input, `"${digest}" is not a sha256 or sha512 digest`);
  }
  let registry = DOCKER_HUB;
  const slash = rest.indexOf('/');
  if (slash >= 0 && looksLikeHost(rest.slice(0, slash))) {
    registry = checkRegistryHost(input, rest.slice(0, slash));
    rest = rest.slice(slash + 1);
  }
  let tag: string | undefined;
  const colon = rest.lastIndexOf(':');
  if (colon >= 0) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!isTag(tag)) throw invalid(input, `"${tag}" is not a valid tag`);
  }
  if (registry === DOCKER_HUB && rest !== '' && !rest.includes('/')) rest = `library/${rest}`;
  if (!isRepositoryName(rest)) {
    throw invalid(
      input,
      `"${rest}" is not a valid repository name (lower-case letters, digits, separators)`,
    );
  }
  const ref: Reference = { registry, repository: rest };
  if (tag !== undefined) ref.tag = tag;
  if (digest !== undefined) ref.digest = digest;
  return ref;
}

/** Formats a reference back to `host/repo[:tag][@digest]`. */
export function formatReference(ref: Reference): string {
  let s = `${ref.registry}/${ref.repository}`;
  if (ref.tag !== undefined) s += `:${ref.tag}`;
  if (ref.digest !== undefined) s += `@${ref.digest}`;
  return s;
}

/** One side of a copy: a whole registry, a repository, or one image. */
export type Endpoint =
  | { kind: 'registry'; scheme: 'http'; registry: string }
  | { kind: 'repository'; scheme: 'http' | 'oci'; registry: string; repository: string }
  | {
      kind: 'image';
      scheme: 'http' | 'oci';
      registry: string;
      repository: string;
      /** Tag or digest. */
      ref: string;
    };

/**
 * Parses a CLI endpoint: `host[:port]` (a registry), `host/repo` (every tag), `host/repo:tag`
 * or `host/repo@digest` (one image), `oci:PATH` (every tag of a layout) or `oci:PATH:ref`.
 * For `oci:`, `registry` is the folder and `repository` is the empty string.
 */
export function parseEndpoint(input: string): Endpoint {
  const s = input.trim();
  if (s.startsWith('oci:')) {
    const body = s.slice(4);
    if (body === '') throw invalid(input, 'oci: needs a folder path');
    const at = body.indexOf('@');
    if (at >= 0) {
      const ref = body.slice(at + 1);
      if (!isDigest(ref)) throw invalid(input, `"${ref}" is not a digest`);
      return { kind: 'image', scheme: 'oci', registry: body.slice(0, at), repository: '', ref };
    }
    const colon = body.lastIndexOf(':');
    const after = colon >= 0 ? body.slice(colon + 1) : '';
    if (colon > 0 && isTag(after) && !after.includes('/')) {
      return {
        kind: 'image',
        scheme: 'oci',
        registry: body.slice(0, colon),
        repository: '',
        ref: after,
      };
    }
    return { kind: 'repository', scheme: 'oci', registry: body, repository: '' };
  }
  if (s !== '' && !s.includes('/') && !s.includes('@') && looksLikeHost(s.split(':')[0] ?? '')) {
    return { kind: 'registry', scheme: 'http', registry: checkRegistryHost(input, s) };
  }
  if (s.endsWith('/') && !s.slice(0, -1).includes('/')) {
    return { kind: 'registry', scheme: 'http', registry: checkRegistryHost(input, s.slice(0, -1)) };
  }
  const ref = parseReference(s);
  const target = ref.digest ?? ref.tag;
  if (target === undefined) {
    return {
      kind: 'repository',
      scheme: 'http',
      registry: ref.registry,
      repository: ref.repository,
    };
  }
  return {
    kind: 'image',
    scheme: 'http',
    registry: ref.registry,
    repository: ref.repository,
    ref: target,
  };
}
