// The copy engine: moves manifest graphs (index, child manifests, configs, layers and,
// when asked, referrers) from one RegistryBackend to another, exactly and in parallel.
//
// Order of work for one image, chosen so that an unchanged tag costs two HEADs and nothing
// else, and a failed copy never leaves a wrong tag behind:
//   1. HEAD the source tag and the target tag; equal digests -> skipped.
//   2. A differing target tag without override -> TAG_CONFLICT, nothing written.
//   3. GET the source manifest (verified), then copy its children depth first: blobs are
//      HEADed at the target, mounted when possible, else streamed through a VerifyingStream;
//      child manifests are PUT by digest once their own blobs are in.
//   4. PUT the top manifest under the target tag last, byte for byte.
import { setTimeout as sleep } from 'node:timers/promises';
import { FerryError, isFerryError, toFerryError } from '../../errors/catalog.js';
import { VerifyingStream, sha256Digest, verifyBytes } from '../digest.js';
import {
  MediaType,
  isIndexMediaType,
  type Descriptor,
  type Manifest,
  type ManifestJson,
  type RegistryBackend,
} from '../types.js';
import { filterIndexEntries, type PlatformSpec } from './filter.js';
import { Semaphore } from '../semaphore.js';
import { RateLimiter, throttled } from './throttle.js';

/** Options of a copy. */
export interface CopyOptions {
  /** Replace a target tag that holds a different image. Default false. */
  override?: boolean;
  /** Copy referrers (signatures, SBOMs, attestations) of every copied manifest. */
  referrers?: boolean;
  /** Keep only these platforms of multi-arch images; undefined keeps all. */
  platforms?: PlatformSpec[];
  /** Only report what would be copied. */
  dryRun?: boolean;
  /** Images copied at once. */
  imageConcurrency?: number;
  /** Blobs streamed at once, across all images. */
  blobConcurrency?: number;
  /** Attempts for one blob when a temporary error interrupts it. */
  blobAttempts?: number;
  /** First backoff between blob attempts, doubled each time. */
  blobRetryDelayMs?: number;
  /** A bandwidth limit for blob data, shared with other copies that hold the same limiter. */
  rateLimiter?: RateLimiter;
  /** Upload mode passed to the target. */
  uploadMode?: 'monolithic' | 'chunked' | 'stream';
  signal?: AbortSignal;
  /** Progress and outcome events. */
  onEvent?: (event: CopyEvent) => void;
}

// Defaults: 8 images and 8 blobs at once keep two registries busy on loopback and on WAN
// links alike (an unchanged image costs two HEADs, so image concurrency sets the speed of a
// no-op sync), while 8 streaming blobs stay below the transport's 16 requests per registry,
// so a blob holding a source GET can always get a target PUT slot (no deadlock).
const DEFAULT_IMAGE_CONCURRENCY = 8;
const DEFAULT_BLOB_CONCURRENCY = 8;
const DEFAULT_BLOB_ATTEMPTS = 5;
const DEFAULT_BLOB_RETRY_DELAY_MS = 500;

/** One image to copy: a tag or digest in a source repository, to a target repository and tag. */
export interface ImageJob {
  srcRepo: string;
  /** Tag or digest. */
  srcRef: string;
  dstRepo: string;
  /** Tag to write; undefined when the source ref is a digest (then pushed by digest). */
  dstTag?: string;
}

/** How an image copy ended. */
export type ImageStatus = 'copied' | 'skipped' | 'conflict' | 'failed' | 'planned';

/** The outcome of one image. */
export interface ImageResult {
  src: string;
  dst: string;
  status: ImageStatus;
  /** Digest written at (or found at, or planned for) the target. */
  digest?: string;
  /** Source top-level digest. */
  srcDigest?: string;
  /** Bytes streamed (or, for a dry run, that would be). */
  bytes: number;
  blobsCopied: number;
  blobsMounted: number;
  blobsSkipped: number;
  manifestsPut: number;
  error?: FerryError;
}

/** Events for progress displays and task records. */
export type CopyEvent =
  | { type: 'image-start'; image: string }
  | { type: 'image-bytes-total'; image: string; total: number }
  | {
      type: 'blob-progress';
      image: string;
      digest: string;
      done: number;
      total: number;
      delta: number;
    }
  | { type: 'image-done'; image: string; result: ImageResult };

/** Copies images from `src` to `dst`. One instance per source/target pair and run. */
export class CopyEngine {
  private readonly imageLimit: Semaphore;
  private readonly blobLimit: Semaphore;
  /** Blob copies in flight or done in this run, per `repo@digest`, so shared layers move once. */
  private readonly blobWork = new Map<string, Promise<'copied' | 'mounted' | 'skipped'>>();
  /** A target repository that already holds each digest, for cross-repository mounts. */
  private readonly dstHolder = new Map<string, string>();
  /** Uploads in flight per digest (any target repository), so a shared layer streams once. */
  private readonly uploading = new Map<string, Promise<unknown>>();
  /** Per target repository: did it have no tags when this run first looked? */
  private readonly dstRepoNew = new Map<string, Promise<boolean>>();
  /** Child manifests already present at the target in this run, per `repo@digest`. */
  private readonly manifestWork = new Map<string, Promise<void>>();
  private readonly mountWithinTarget: boolean;
  private readonly mountFromSource: boolean;

  constructor(
    private readonly src: RegistryBackend,
    private readonly dst: RegistryBackend,
    private readonly options: CopyOptions = {},
  ) {
    this.imageLimit = new Semaphore(options.imageConcurrency ?? DEFAULT_IMAGE_CONCURRENCY);
    this.blobLimit = new Semaphore(options.blobConcurrency ?? DEFAULT_BLOB_CONCURRENCY);
    this.mountFromSource = src.sameRegistry(dst);
    this.mountWithinTarget = !dst.name.startsWith('oci:');
  }

  /** Copies a list of images in parallel; never throws for one image's failure. */
  async copyImages(jobs: readonly ImageJob[]): Promise<ImageResult[]> {
    return Promise.all(jobs.map((job) => this.imageLimit.run(() => this.copyImage(job))));
  }

  /** Copies one image; failures are returned in the result, not thrown. */
  async copyImage(job: ImageJob): Promise<ImageResult> {
    const srcName = imageName(this.src, job.srcRepo, job.srcRef);
    const dstName = imageName(this.dst, job.dstRepo, job.dstTag ?? job.srcRef);
    const result: ImageResult = {
      src: srcName,
      dst: dstName,
      status: 'failed',
      bytes: 0,
      blobsCopied: 0,
      blobsMounted: 0,
      blobsSkipped: 0,
      manifestsPut: 0,
    };
    this.emit({ type: 'image-start', image: srcName });
    try {
      await this.copyImageInto(job, result, srcName);
    } catch (err) {
      result.status = isFerryError(err, 'TAG_CONFLICT') ? 'conflict' : 'failed';
      result.error = toFerryError(err);
    }
    this.emit({ type: 'image-done', image: srcName, result });
    return result;
  }

  private async copyImageInto(job: ImageJob, result: ImageResult, image: string): Promise<void> {
    const { signal } = this.options;
    const byDigest = job.srcRef.includes(':');
    const dstRef = job.dstTag ?? job.srcRef;
    // Both HEADs at once: an unchanged tag then costs one round trip.
    const [srcHead, dstHead] = await Promise.all([
      this.src.manifestHead(job.srcRepo, job.srcRef, signal),
      this.dst.manifestHead(job.dstRepo, dstRef, signal),
    ]);
    if (!srcHead) {
      throw new FerryError(
        'MANIFEST_UNKNOWN',
        `${imageName(this.src, job.srcRepo, job.srcRef)}: manifest not found`,
      );
    }
    if (byDigest && srcHead.digest !== job.srcRef) {
      throw new FerryError(
        'DIGEST_MISMATCH',
        `${this.src.name}: manifest ${job.srcRepo}@${job.srcRef} answered as ${srcHead.digest}`,
      );
    }
    result.srcDigest = srcHead.digest;
    const filtering = this.options.platforms !== undefined && isIndexMediaType(srcHead.mediaType);

    // Without platform filtering the target digest must equal the source's: HEADs decide.
    if (!filtering && dstHead) {
      if (dstHead.digest === srcHead.digest) {
        result.status = 'skipped';
        result.digest = dstHead.digest;
        if (this.options.referrers && !this.options.dryRun) {
          await this.copyReferrers(job.srcRepo, job.dstRepo, srcHead.digest, result, image);
        }
        return;
      }
      if (!this.options.override) throw this.conflict(job, dstRef, dstHead.digest, srcHead.digest);
    }

    let top = await this.src.manifestGet(job.srcRepo, srcHead.digest, signal);
    let json = parseManifest(top, `${this.src.name}/${job.srcRepo}@${top.digest}`);
    if (filtering) {
      ({ manifest: top, json } = this.filterIndex(top, json));
      if (dstHead?.digest === top.digest) {
        result.status = 'skipped';
        result.digest = top.digest;
        return;
      }
      if (dstHead && !this.options.override) {
        throw this.conflict(job, dstRef, dstHead.digest, top.digest);
      }
    }

    const plan = { bytesTotal: 0 };
    await this.copyChildren(job, json, top.digest, result, image, plan);
    result.digest = top.digest;
    if (this.options.dryRun) {
      result.status = 'planned';
      return;
    }
    // The top manifest goes last: its tag appears only once everything it names is there.
    await this.dst.manifestPut(
      job.dstRepo,
      byDigest && !job.dstTag ? top.digest : dstRef,
      top,
      signal,
    );
    result.manifestsPut++;
    if (this.options.referrers) {
      await this.copyReferrers(job.srcRepo, job.dstRepo, srcHead.digest, result, image);
    }
    result.status = 'copied';
  }

  /** Copies everything a manifest references (children before parents). */
  private async copyChildren(
    job: ImageJob,
    json: ManifestJson,
    digest: string,
    result: ImageResult,
    image: string,
    plan: { bytesTotal: number },
  ): Promise<void> {
    if (json.manifests) {
      // Children of an index are independent: copy them in parallel.
      await settleAll(
        json.manifests.map((child) => this.copyChildManifest(job, child, result, image, plan)),
      );
      return;
    }
    const blobs: Descriptor[] = [];
    if (json.config) blobs.push(json.config);
    for (const layer of json.layers ?? []) blobs.push(layer);
    if (blobs.length === 0 && !json.config) {
      throw new FerryError(
        'MANIFEST_INVALID',
        `${this.src.name}/${job.srcRepo}@${digest}: no config, layers or manifests`,
      );
    }
    await settleAll(
      blobs.map((b) => this.copyBlob(job.srcRepo, job.dstRepo, b, result, image, plan)),
    );
  }

  private copyChildManifest(
    job: ImageJob,
    child: Descriptor,
    result: ImageResult,
    image: string,
    plan: { bytesTotal: number },
  ): Promise<void> {
    const key = `${job.dstRepo}@${child.digest}`;
    let work = this.manifestWork.get(key);
    if (!work) {
      work = this.copyManifestByDigest(job, child, result, image, plan);
      this.manifestWork.set(key, work);
      // A failed attempt must not poison later images that share the child.
      work.catch(() => this.manifestWork.delete(key));
    }
    return work;
  }

  /** Copies a manifest (and its graph) that is addressed by digest: index children, referrers. */
  private async copyManifestByDigest(
    job: ImageJob,
    desc: Descriptor,
    result: ImageResult,
    image: string,
    plan: { bytesTotal: number },
  ): Promise<void> {
    const { signal } = this.options;
    if (
      !(await this.isNewTargetRepo(job.dstRepo)) &&
      (await this.dst.manifestHead(job.dstRepo, desc.digest, signal))
    ) {
      return;
    }
    const manifest = await this.src.manifestGet(job.srcRepo, desc.digest, signal);
    if (manifest.bytes.length !== desc.size) {
      throw new FerryError(
        'SIZE_MISMATCH',
        `${this.src.name}/${job.srcRepo}@${desc.digest}: ${manifest.bytes.length} bytes, its descriptor declares ${desc.size}`,
      );
    }
    const json = parseManifest(manifest, `${this.src.name}/${job.srcRepo}@${desc.digest}`);
    await this.copyChildren(job, json, desc.digest, result, image, plan);
    if (this.options.dryRun) return;
    await this.dst.manifestPut(job.dstRepo, desc.digest, manifest, signal);
    result.manifestsPut++;
  }

  /** Copies one blob unless the target has it; shared blobs move once per target repository. */
  private copyBlob(
    srcRepo: string,
    dstRepo: string,
    desc: Descriptor,
    result: ImageResult,
    image: string,
    plan: { bytesTotal: number },
  ): Promise<void> {
    const key = `${dstRepo}@${desc.digest}`;
    let work = this.blobWork.get(key);
    const first = !work;
    if (!work) {
      work = this.transferBlob(srcRepo, dstRepo, desc, image, plan);
      this.blobWork.set(key, work);
      work.then(
        () => {
          if (!this.dstHolder.has(desc.digest)) this.dstHolder.set(desc.digest, dstRepo);
        },
        () => this.blobWork.delete(key),
      );
    }
    return work.then((how) => {
      if (!first || how === 'skipped') result.blobsSkipped++;
      else if (how === 'mounted') result.blobsMounted++;
      else {
        result.blobsCopied++;
        result.bytes += desc.size;
      }
    });
  }

  private async transferBlob(
    srcRepo: string,
    dstRepo: string,
    desc: Descriptor,
    image: string,
    plan: { bytesTotal: number },
  ): Promise<'copied' | 'mounted' | 'skipped'> {
    const { signal } = this.options;
    // A repository the target did not have holds no blobs yet: skip the HEAD (a fresh mirror
    // would otherwise spend one round trip per blob learning that).
    if (!(await this.isNewTargetRepo(dstRepo))) {
      const size = await this.dst.blobHead(dstRepo, desc.digest, signal);
      if (size !== undefined) return 'skipped';
    }
    if (this.options.dryRun) {
      plan.bytesTotal += desc.size;
      return 'copied';
    }
    // Another repository is receiving the same blob right now: wait, then mount from it.
    const other = this.uploading.get(desc.digest);
    if (other) await other.catch(() => undefined);
    const holder = this.dstHolder.get(desc.digest);
    if (holder !== undefined && this.mountWithinTarget && holder !== dstRepo) {
      if (await this.dst.blobMount(dstRepo, desc.digest, holder, signal)) return 'mounted';
    }
    if (this.mountFromSource && srcRepo !== dstRepo) {
      if (await this.dst.blobMount(dstRepo, desc.digest, srcRepo, signal)) return 'mounted';
    }
    plan.bytesTotal += desc.size;
    this.emit({ type: 'image-bytes-total', image, total: plan.bytesTotal });
    const upload = this.blobLimit.run(() => this.streamBlob(srcRepo, dstRepo, desc, image));
    this.uploading.set(desc.digest, upload);
    try {
      await upload;
    } finally {
      if (this.uploading.get(desc.digest) === upload) this.uploading.delete(desc.digest);
    }
    // Set here, not only when copyBlob settles: a waiter on `uploading` resumes first.
    this.dstHolder.set(desc.digest, dstRepo);
    return 'copied';
  }

  /** True when the target repository had no tags when first asked (so holds nothing). */
  private isNewTargetRepo(dstRepo: string): Promise<boolean> {
    let known = this.dstRepoNew.get(dstRepo);
    if (!known) {
      known = this.dst.tagList(dstRepo, this.options.signal).then(
        (tags) => tags.length === 0,
        () => false, // cannot tell: fall back to HEADs
      );
      this.dstRepoNew.set(dstRepo, known);
    }
    return known;
  }

  /** Streams a blob from source to target through a digest check, retrying temporary failures. */
  private async streamBlob(
    srcRepo: string,
    dstRepo: string,
    desc: Descriptor,
    image: string,
  ): Promise<void> {
    const attempts = this.options.blobAttempts ?? DEFAULT_BLOB_ATTEMPTS;
    const baseDelay = this.options.blobRetryDelayMs ?? DEFAULT_BLOB_RETRY_DELAY_MS;
    const what = `${this.src.name}/${srcRepo}@${desc.digest}`;
    for (let attempt = 1; ; attempt++) {
      let done = 0;
      try {
        const source = await this.src.blobGet(srcRepo, desc, { signal: this.options.signal });
        const verify = new VerifyingStream(desc.digest, desc.size, what, (n) => {
          done += n;
          this.emit({
            type: 'blob-progress',
            image,
            digest: desc.digest,
            done,
            total: desc.size,
            delta: n,
          });
        });
        source.on('error', (err) => verify.destroy(err));
        if (this.options.rateLimiter) {
          const slow = throttled(this.options.rateLimiter, this.options.signal);
          slow.on('error', (err) => verify.destroy(err));
          source.pipe(slow).pipe(verify);
        } else {
          source.pipe(verify);
        }
        const putOptions = this.options.uploadMode ? { mode: this.options.uploadMode } : {};
        await this.dst.blobPut(dstRepo, desc, verify, {
          ...putOptions,
          signal: this.options.signal,
        });
        return;
      } catch (err) {
        const e = toFerryError(err);
        if (done > 0) {
          // Take back the progress of the failed attempt so totals stay exact.
          this.emit({
            type: 'blob-progress',
            image,
            digest: desc.digest,
            done: 0,
            total: desc.size,
            delta: -done,
          });
        }
        // The transport has retried what it can replay and resumed cut downloads; what is
        // left to retry here is an upload whose body was spent.
        if (!e.temporary || e.retriedToLimit || attempt >= attempts || this.options.signal?.aborted)
          throw e;
        const delay = Math.min(baseDelay * 2 ** (attempt - 1), 10_000);
        await sleep(Math.max(delay, (e.retryAfter ?? 0) * 1000), undefined, {
          signal: this.options.signal,
        });
      }
    }
  }

  /** Copies the referrers of a manifest, and keeps the target's referrers tag up to date. */
  private async copyReferrers(
    srcRepo: string,
    dstRepo: string,
    subject: string,
    result: ImageResult,
    image: string,
  ): Promise<void> {
    const { signal } = this.options;
    const referrers = await this.src.referrerList(srcRepo, subject, undefined, signal);
    if (referrers.length === 0) return;
    const job: ImageJob = { srcRepo, srcRef: subject, dstRepo };
    const plan = { bytesTotal: 0 };
    for (const ref of referrers) {
      await this.copyManifestByDigest(job, ref, result, image, plan);
      // Referrers can have referrers (a signature of an SBOM).
      await this.copyReferrers(srcRepo, dstRepo, ref.digest, result, image);
    }
    // Registries without the referrers API (distribution 2.8) need the fallback tag, which a
    // client maintains: https://github.com/opencontainers/distribution-spec/blob/main/spec.md#pushing-manifests-with-subject
    const present = new Set(
      (await this.dst.referrerList(dstRepo, subject, undefined, signal)).map((d) => d.digest),
    );
    const missing = referrers.filter((d) => !present.has(d.digest));
    if (missing.length > 0) await this.updateReferrersTag(dstRepo, subject, missing);
  }

  private async updateReferrersTag(
    dstRepo: string,
    subject: string,
    add: Descriptor[],
  ): Promise<void> {
    const { signal } = this.options;
    const tag = subject.replace(':', '-');
    const existing = await this.dst.manifestHead(dstRepo, tag, signal);
    let index: ManifestJson = { schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: [] };
    if (existing) {
      const m = await this.dst.manifestGet(dstRepo, tag, signal);
      index = parseManifest(m, `${this.dst.name}/${dstRepo}:${tag}`);
    }
    const manifests = [...(index.manifests ?? [])];
    for (const d of add) if (!manifests.some((m) => m.digest === d.digest)) manifests.push(d);
    const bytes = Buffer.from(JSON.stringify({ ...index, manifests }));
    await this.dst.manifestPut(
      dstRepo,
      tag,
      { mediaType: MediaType.OciIndex, digest: sha256Digest(bytes), bytes },
      signal,
    );
  }

  /** A new index with only the wanted platforms; unchanged (same bytes) when all are kept. */
  private filterIndex(
    top: Manifest,
    json: ManifestJson,
  ): { manifest: Manifest; json: ManifestJson } {
    const entries = json.manifests ?? [];
    const kept = filterIndexEntries(entries, this.options.platforms);
    if (kept.length === entries.length) return { manifest: top, json };
    if (kept.length === 0) {
      throw new FerryError(
        'MANIFEST_INVALID',
        `${top.digest}: no entry matches the requested platforms`,
      );
    }
    const filtered = { ...JSON.parse(top.bytes.toString('utf8')), manifests: kept };
    const bytes = Buffer.from(JSON.stringify(filtered, null, 3));
    const digest = sha256Digest(bytes);
    return {
      manifest: { mediaType: top.mediaType, digest, bytes },
      json: { ...json, manifests: kept },
    };
  }

  private conflict(job: ImageJob, dstRef: string, have: string, want: string): FerryError {
    return new FerryError(
      'TAG_CONFLICT',
      `${imageName(this.dst, job.dstRepo, dstRef)} holds ${have}, source has ${want} (use override to replace it)`,
    );
  }

  private emit(event: CopyEvent): void {
    this.options.onEvent?.(event);
  }
}

/** `repo:tag` or `repo@digest`. */
function joinRef(repo: string, ref: string): string {
  return `${repo}${ref.includes(':') ? '@' : ':'}${ref}`;
}

/** A full name for messages: `host/repo:tag`, or `oci:PATH:tag` for a layout (empty repository). */
export function imageName(backend: RegistryBackend, repo: string, ref: string): string {
  return repo === ''
    ? `${backend.name}${ref.includes(':') ? '@' : ':'}${ref}`
    : `${backend.name}/${joinRef(repo, ref)}`;
}

/** Parses and sanity-checks manifest JSON. */
export function parseManifest(m: Manifest, what: string): ManifestJson {
  verifyBytes(m.bytes, m.digest, what);
  let json: unknown;
  try {
    json = JSON.parse(m.bytes.toString('utf8'));
  } catch (err) {
    throw new FerryError('MANIFEST_INVALID', `${what}: not JSON: ${(err as Error).message}`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new FerryError('MANIFEST_INVALID', `${what}: not a JSON object`);
  }
  const j = json as ManifestJson;
  const checkDescs = (list: unknown, field: string): void => {
    if (list === undefined) return;
    if (!Array.isArray(list))
      throw new FerryError('MANIFEST_INVALID', `${what}: ${field} is not a list`);
    for (const d of list) checkDescriptor(d, `${what}: ${field}`);
  };
  checkDescs(j.manifests, 'manifests');
  checkDescs(j.layers, 'layers');
  if (j.config !== undefined) checkDescriptor(j.config, `${what}: config`);
  if (j.manifests === undefined && j.config === undefined) {
    throw new FerryError(
      'MANIFEST_INVALID',
      `${what}: neither an image manifest nor an index (schema 1 is not supported)`,
    );
  }
  return j;
}

function checkDescriptor(d: unknown, what: string): void {
  const desc = d as Descriptor;
  if (
    typeof desc !== 'object' ||
    desc === null ||
    typeof desc.digest !== 'string' ||
    !/^sha(256|512):[a-f0-9]+$/.test(desc.digest) ||
    typeof desc.size !== 'number' ||
    !Number.isSafeInteger(desc.size) ||
    desc.size < 0
  ) {
    throw new FerryError(
      'MANIFEST_INVALID',
      `${what}: invalid descriptor ${JSON.stringify(d)?.slice(0, 200)}`,
    );
  }
}

/**
 * Waits for every part of an image, then throws the first failure. One bad blob fails the
 * image, but its other blobs still finish: they are on the target for the next attempt, and
 * no upload is left running after its image has been reported (or cut when the copy ends).
 */
async function settleAll(parts: readonly Promise<unknown>[]): Promise<void> {
  let failure: { error: unknown } | undefined;
  await Promise.all(
    parts.map((p) =>
      p.catch((error: unknown) => {
        failure ??= { error };
      }),
    ),
  );
  if (failure) throw failure.error;
}
