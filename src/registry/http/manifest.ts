// Manifests: HEAD, GET, PUT and DELETE on /v2/<name>/manifests/<reference>.
// https://github.com/opencontainers/distribution-spec/blob/main/spec.md#pulling-manifests
// Every manifest type is always in Accept: a registry that is not told about indexes may
// answer with one platform's manifest (or convert it), and the copy would not be exact.
import { digestOf, isDigest } from '../digest.js';
import {
  MANIFEST_MEDIA_TYPES,
  MediaType,
  isManifestMediaType,
  type Manifest,
  type ManifestHead,
  type ManifestJson,
} from '../types.js';
import { deleteScope, pullScope, pushScope } from './auth.js';
import { discard, header, type Transport } from './transport.js';

/** Largest manifest we read: the spec lets registries refuse above 4 MiB, so none is larger. */
export const MANIFEST_MAX_BYTES = 4 * 1024 * 1024;

const ACCEPT = MANIFEST_MEDIA_TYPES.join(', ');

/** `repo:tag` or `repo@digest`, for messages. */
export function refString(repo: string, ref: string): string {
  return isDigest(ref) ? `${repo}@${ref}` : `${repo}:${ref}`;
}

function optSignal(signal: AbortSignal | undefined): { signal?: AbortSignal } {
  return signal ? { signal } : {};
}

/** The media type in a Content-Type header, when it names a manifest. */
function manifestType(contentType: string | undefined): string | undefined {
  const type = contentType?.split(';')[0]?.trim().toLowerCase();
  return type !== undefined && isManifestMediaType(type) ? type : undefined;
}

/** HEADs a manifest: its digest, type and size, or undefined when it does not exist. */
export async function manifestHead(
  t: Transport,
  repo: string,
  ref: string,
  signal?: AbortSignal,
): Promise<ManifestHead | undefined> {
  const res = await t.send({
    method: 'HEAD',
    url: `/v2/${repo}/manifests/${ref}`,
    headers: { accept: ACCEPT },
    scopes: [pullScope(repo)],
    what: `HEAD manifest ${refString(repo, ref)}`,
    notFound: 'MANIFEST_UNKNOWN',
    pass: [404],
    ...optSignal(signal),
  });
  await discard(res);
  if (res.status === 404) return undefined;
  const mediaType = manifestType(header(res.headers, 'content-type'));
  const digestHeader = header(res.headers, 'docker-content-digest');
  const digest =
    digestHeader !== undefined && isDigest(digestHeader)
      ? digestHeader
      : isDigest(ref)
        ? ref
        : undefined;
  const size = Number(header(res.headers, 'content-length'));
  if (mediaType !== undefined && digest !== undefined && Number.isInteger(size) && size > 0) {
    return { mediaType, digest, size };
  }
  // The HEAD left something out (some registries omit the digest for tags): GET tells all.
  const m = await manifestGet(t, repo, ref, signal);
  return { mediaType: m.mediaType, digest: m.digest, size: m.bytes.length };
}

/**
 * GETs a manifest and checks its bytes: against the digest asked for, or against the
 * registry's Docker-Content-Digest for a tag (which catches a manifest altered in flight).
 */
export async function manifestGet(
  t: Transport,
  repo: string,
  ref: string,
  signal?: AbortSignal,
): Promise<Manifest> {
  const req = {
    method: 'GET' as const,
    url: `/v2/${repo}/manifests/${ref}`,
    headers: { accept: ACCEPT },
    scopes: [pullScope(repo)],
    what: `GET manifest ${refString(repo, ref)}`,
    notFound: 'MANIFEST_UNKNOWN' as const,
    ...optSignal(signal),
  };
  const res = await t.fetch(req, MANIFEST_MAX_BYTES, 'MANIFEST_INVALID');
  const bytes = res.bytes;
  let digest: string;
  const claimed = header(res.headers, 'docker-content-digest');
  if (isDigest(ref)) {
    digest = ref;
  } else if (claimed !== undefined) {
    if (!isDigest(claimed)) {
      throw t.fail('DIGEST_MISMATCH', req, `Docker-Content-Digest "${claimed}" is not a digest`);
    }
    digest = claimed;
  } else {
    digest = digestOf(bytes, 'sha256:');
  }
  const actual = digestOf(bytes, digest);
  if (actual !== digest) {
    throw t.fail('DIGEST_MISMATCH', req, `expected ${digest}, the bytes hash to ${actual}`);
  }
  let json: ManifestJson;
  try {
    json = JSON.parse(bytes.toString('utf8')) as ManifestJson;
  } catch {
    throw t.fail('MANIFEST_INVALID', req, 'the manifest is not JSON');
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json)) {
    throw t.fail('MANIFEST_INVALID', req, 'the manifest is not a JSON object');
  }
  const mediaType = manifestType(header(res.headers, 'content-type')) ?? mediaTypeOf(json);
  if (mediaType === undefined) {
    const named = typeof json.mediaType === 'string' ? ` "${json.mediaType}"` : '';
    throw t.fail('MANIFEST_INVALID', req, `unsupported manifest media type${named}`);
  }
  return { mediaType, digest, bytes };
}

/**
 * The media type a manifest's JSON declares. OCI manifests may omit it (it became
 * recommended in image-spec 1.1), so an OCI index or manifest is also known by its shape.
 */
export function mediaTypeOf(json: ManifestJson): string | undefined {
  if (typeof json.mediaType === 'string') {
    return isManifestMediaType(json.mediaType) ? json.mediaType : undefined;
  }
  if (json.schemaVersion !== 2) return undefined;
  if (Array.isArray(json.manifests)) return MediaType.OciIndex;
  if (json.config && typeof json.config === 'object') return MediaType.OciManifest;
  return undefined;
}

/** PUTs a manifest byte for byte under a tag or its digest, typed with its own media type. */
export async function manifestPut(
  t: Transport,
  repo: string,
  ref: string,
  manifest: Manifest,
  signal?: AbortSignal,
): Promise<void> {
  const req = {
    method: 'PUT' as const,
    url: `/v2/${repo}/manifests/${ref}`,
    headers: { 'content-type': manifest.mediaType },
    body: manifest.bytes,
    scopes: [pushScope(repo)],
    what: `PUT manifest ${refString(repo, ref)}`,
    notFound: 'NAME_UNKNOWN' as const,
    ...optSignal(signal),
  };
  // Refuse to publish bytes under a digest they do not have: the target would be corrupt.
  const actual = digestOf(manifest.bytes, manifest.digest);
  if (actual !== manifest.digest) {
    throw t.fail(
      'DIGEST_MISMATCH',
      req,
      `expected ${manifest.digest}, the bytes hash to ${actual}`,
    );
  }
  if (isDigest(ref) && ref !== manifest.digest) {
    throw t.fail('INVALID_ARGUMENT', req, `the manifest's digest is ${manifest.digest}`);
  }
  const res = await t.send(req);
  await discard(res);
  const stored = header(res.headers, 'docker-content-digest');
  // A registry that rewrote the manifest (e.g. converted it) answers another digest; one
  // that hashes with another algorithm is not comparable, so only the same algorithm counts.
  const sameAlgorithm = stored?.split(':')[0] === manifest.digest.split(':')[0];
  if (stored !== undefined && isDigest(stored) && sameAlgorithm && stored !== manifest.digest) {
    throw t.fail('DIGEST_MISMATCH', req, `the registry stored ${stored}, not ${manifest.digest}`);
  }
}

/** DELETEs a manifest by digest (the spec allows deleting by digest only). */
export async function manifestDelete(
  t: Transport,
  repo: string,
  digest: string,
  signal?: AbortSignal,
): Promise<void> {
  const req = {
    method: 'DELETE' as const,
    url: `/v2/${repo}/manifests/${digest}`,
    scopes: [deleteScope(repo)],
    what: `DELETE manifest ${refString(repo, digest)}`,
    notFound: 'MANIFEST_UNKNOWN' as const,
    ...optSignal(signal),
  };
  if (!isDigest(digest)) throw t.fail('INVALID_ARGUMENT', req, 'manifests are deleted by digest');
  await discard(await t.send(req));
}
