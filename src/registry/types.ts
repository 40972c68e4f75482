// The shapes the registry client and the copy engine share: descriptors, media types,
// manifests as raw bytes, and the one interface both backends (HTTP registry, OCI layout
// folder) implement. The copy engine only sees `RegistryBackend`.
import type { Readable } from 'node:stream';

/** Media types Ferry understands (OCI image spec 1.1 and Docker schema 2). */
export const MediaType = {
  OciManifest: 'application/vnd.oci.image.manifest.v1+json',
  OciIndex: 'application/vnd.oci.image.index.v1+json',
  OciConfig: 'application/vnd.oci.image.config.v1+json',
  OciLayer: 'application/vnd.oci.image.layer.v1.tar+gzip',
  OciEmpty: 'application/vnd.oci.empty.v1+json',
  DockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  DockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  DockerConfig: 'application/vnd.docker.container.image.v1+json',
  DockerLayer: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
} as const;

/** Every manifest type, sent in every manifest request's Accept header. */
export const MANIFEST_MEDIA_TYPES: readonly string[] = [
  MediaType.OciIndex,
  MediaType.OciManifest,
  MediaType.DockerManifestList,
  MediaType.DockerManifest,
];

/** True for an index or a Docker manifest list. */
export function isIndexMediaType(mediaType: string): boolean {
  return mediaType === MediaType.OciIndex || mediaType === MediaType.DockerManifestList;
}

/** True for a media type that names a manifest (image, index, list). */
export function isManifestMediaType(mediaType: string): boolean {
  return MANIFEST_MEDIA_TYPES.includes(mediaType);
}

/** A platform, as in an index entry. */
export interface Platform {
  architecture: string;
  os: string;
  variant?: string;
  'os.version'?: string;
  'os.features'?: string[];
}

/** An OCI content descriptor. */
export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: Platform;
  artifactType?: string;
  annotations?: Record<string, string>;
  urls?: string[];
}

/** A manifest exactly as the registry served it; `bytes` are what its digest hashes. */
export interface Manifest {
  mediaType: string;
  digest: string;
  bytes: Buffer;
}

/** What HEAD on a manifest tells: enough to compare digests without a GET. */
export interface ManifestHead {
  mediaType: string;
  digest: string;
  size: number;
}

/** Parsed manifest JSON (image manifest or index); unknown fields are kept in `bytes`. */
export interface ManifestJson {
  schemaVersion?: number;
  mediaType?: string;
  artifactType?: string;
  config?: Descriptor;
  layers?: Descriptor[];
  manifests?: Descriptor[];
  subject?: Descriptor;
  annotations?: Record<string, string>;
}

/** Bytes moved so far, reported while a blob streams. */
export type ProgressFn = (bytes: number) => void;

/** Options for a blob download. */
export interface BlobGetOptions {
  /** Start at this byte (Range); the stream then carries `size - offset` bytes. */
  offset?: number;
  signal?: AbortSignal;
}

/** Options for a blob upload. */
export interface BlobPutOptions {
  /**
   * How to upload: `monolithic` (POST then one PUT with the body), `chunked` (PATCH with
   * Content-Range, honouring OCI-Chunk-Min-Length, then PUT), `stream` (one PATCH without
   * Content-Range, then PUT). Default `monolithic`.
   */
  mode?: 'monolithic' | 'chunked' | 'stream';
  /** Chunk size for `chunked`, raised to the registry's OCI-Chunk-Min-Length. */
  chunkSize?: number;
  signal?: AbortSignal;
}

/**
 * One registry, seen through the operations the copy engine needs. Two backends implement
 * it: `HttpRegistry` (OCI Distribution Spec 1.1 over HTTP) and `OciLayout` (a folder).
 * Repository names are full paths inside the registry (`ns/app`). `ref` is a tag or a
 * digest. Errors are FerryErrors from the catalog.
 */
export interface RegistryBackend {
  /** A name for messages: `127.0.0.1:5000` or `oci:/path`. */
  readonly name: string;
  /** Checks the registry answers (and that credentials work, when given). */
  ping(signal?: AbortSignal): Promise<void>;
  /** Every repository in the registry (follows pagination). */
  catalogList(signal?: AbortSignal): Promise<string[]>;
  /** Every tag of a repository (follows pagination); [] when the repository is unknown. */
  tagList(repo: string, signal?: AbortSignal): Promise<string[]>;
  /** HEAD a manifest; undefined when it does not exist. */
  manifestHead(repo: string, ref: string, signal?: AbortSignal): Promise<ManifestHead | undefined>;
  /** GET a manifest, verified against the digest (requested, or Docker-Content-Digest). */
  manifestGet(repo: string, ref: string, signal?: AbortSignal): Promise<Manifest>;
  /** PUT a manifest byte for byte under a tag or its digest. */
  manifestPut(repo: string, ref: string, manifest: Manifest, signal?: AbortSignal): Promise<void>;
  /** DELETE a manifest by digest. */
  manifestDelete(repo: string, digest: string, signal?: AbortSignal): Promise<void>;
  /** HEAD a blob; its size, or undefined when it does not exist. */
  blobHead(repo: string, digest: string, signal?: AbortSignal): Promise<number | undefined>;
  /**
   * GET a blob as a stream. The HTTP backend resumes a cut download with Range on its own;
   * the stream's bytes are NOT verified here (the copy engine hashes them on the way).
   */
  blobGet(repo: string, desc: Descriptor, options?: BlobGetOptions): Promise<Readable>;
  /** Upload a blob from a stream of exactly `desc.size` bytes, committed under `desc.digest`. */
  blobPut(repo: string, desc: Descriptor, body: Readable, options?: BlobPutOptions): Promise<void>;
  /** Mount a blob from another repository of the same registry; false when not mounted. */
  blobMount(repo: string, digest: string, fromRepo: string, signal?: AbortSignal): Promise<boolean>;
  /**
   * Referrers of a manifest (Referrers API, falling back to the `sha256-<hex>` tag schema).
   * Filtered by artifactType when given.
   */
  referrerList(
    repo: string,
    digest: string,
    artifactType?: string,
    signal?: AbortSignal,
  ): Promise<Descriptor[]>;
  /** Releases connections and files. */
  close(): Promise<void>;
  /** Same registry as `other` (so blobs can be mounted between its repositories). */
  sameRegistry(other: RegistryBackend): boolean;
}
