// The HTTP backend of RegistryBackend: an OCI Distribution Spec 1.1 registry, reached
// through one Transport (pools, auth, retries). Each operation group lives in its own file.
import type { Readable } from 'node:stream';
import { checkRegistryHost } from '../reference.js';
import type { RegistryOptions } from '../options.js';
import type {
  BlobGetOptions,
  BlobPutOptions,
  Descriptor,
  Manifest,
  ManifestHead,
  RegistryBackend,
} from '../types.js';
import { blobGet, blobHead, blobMount, blobPut } from './blob.js';
import { catalogList } from './catalog.js';
import { manifestDelete, manifestGet, manifestHead, manifestPut } from './manifest.js';
import { ping } from './ping.js';
import { referrerList } from './referrer.js';
import { tagList } from './tag.js';
import { Transport, type TransportStats } from './transport.js';

/** Knobs that are not part of RegistryOptions (tests use a small page size). */
export interface HttpRegistryTuning {
  /** `n` sent with catalog and tag list requests. Default 1000. */
  pageSize?: number;
}

// Large pages keep a 10,000-tag repository to ten requests; registries cap `n` themselves.
const DEFAULT_PAGE_SIZE = 1000;

/** A registry spoken to over HTTP(S); see RegistryBackend for each method. */
export class HttpRegistry implements RegistryBackend {
  /** The registry as given, lower-cased: `127.0.0.1:5000`, `docker.io`. */
  readonly name: string;
  /** The host requests go to (`registry-1.docker.io` for `docker.io`). */
  readonly host: string;
  private readonly transport: Transport;
  private readonly pageSize: number;

  constructor(options: RegistryOptions, tuning: HttpRegistryTuning = {}) {
    checkRegistryHost(options.host, options.host);
    this.transport = new Transport(options);
    this.name = this.transport.name;
    this.host = this.transport.host;
    this.pageSize = tuning.pageSize ?? DEFAULT_PAGE_SIZE;
  }

  /** Request, retry, resume and token counters (live). */
  get stats(): Readonly<TransportStats> {
    return this.transport.stats;
  }

  /** `http://host` or `https://host`. */
  get origin(): string {
    return this.transport.origin;
  }

  /** Requests holding a concurrency slot right now (a body being read counts). */
  get inFlight(): number {
    return this.transport.inFlight;
  }

  /** GET /v2/, running the auth flow. */
  ping(signal?: AbortSignal): Promise<void> {
    return ping(this.transport, signal);
  }

  /** Every repository (GET /v2/_catalog, all pages). */
  catalogList(signal?: AbortSignal): Promise<string[]> {
    return catalogList(this.transport, this.pageSize, signal);
  }

  /** Every tag of a repository (all pages); [] when it is unknown. */
  tagList(repo: string, signal?: AbortSignal): Promise<string[]> {
    return tagList(this.transport, repo, this.pageSize, signal);
  }

  /** HEAD a manifest; undefined when missing. */
  manifestHead(repo: string, ref: string, signal?: AbortSignal): Promise<ManifestHead | undefined> {
    return manifestHead(this.transport, repo, ref, signal);
  }

  /** GET a manifest, verified against its digest. */
  manifestGet(repo: string, ref: string, signal?: AbortSignal): Promise<Manifest> {
    return manifestGet(this.transport, repo, ref, signal);
  }

  /** PUT a manifest byte for byte. */
  manifestPut(repo: string, ref: string, manifest: Manifest, signal?: AbortSignal): Promise<void> {
    return manifestPut(this.transport, repo, ref, manifest, signal);
  }

  /** DELETE a manifest by digest. */
  manifestDelete(repo: string, digest: string, signal?: AbortSignal): Promise<void> {
    return manifestDelete(this.transport, repo, digest, signal);
  }

  /** HEAD a blob: its size, or undefined. */
  blobHead(repo: string, digest: string, signal?: AbortSignal): Promise<number | undefined> {
    return blobHead(this.transport, repo, digest, signal);
  }

  /** GET a blob as a stream that resumes cut downloads with Range. */
  blobGet(repo: string, desc: Descriptor, options?: BlobGetOptions): Promise<Readable> {
    return blobGet(this.transport, repo, desc, options);
  }

  /** Upload a blob from a stream (monolithic, chunked or stream mode). */
  blobPut(repo: string, desc: Descriptor, body: Readable, options?: BlobPutOptions): Promise<void> {
    return blobPut(this.transport, repo, desc, body, options);
  }

  /** Mount a blob from another repository; false when the registry did not. */
  blobMount(
    repo: string,
    digest: string,
    fromRepo: string,
    signal?: AbortSignal,
  ): Promise<boolean> {
    return blobMount(this.transport, repo, digest, fromRepo, signal);
  }

  /** Referrers of a manifest, by API or by the `sha256-<hex>` tag. */
  referrerList(
    repo: string,
    digest: string,
    artifactType?: string,
    signal?: AbortSignal,
  ): Promise<Descriptor[]> {
    return referrerList(this.transport, repo, digest, artifactType, signal);
  }

  /** Closes the connection pools. */
  close(): Promise<void> {
    return this.transport.close();
  }

  /** True when `other` is an HttpRegistry for the same host (blobs can be mounted). */
  sameRegistry(other: RegistryBackend): boolean {
    return other instanceof HttpRegistry && other.host === this.host;
  }
}
