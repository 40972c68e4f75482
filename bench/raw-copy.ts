// The benchmark's "raw" copier: the least work two registries need to move a known set of
// images. It already knows every (repository, blob) pair and every manifest, so it sends no
// HEADs, lists nothing, hashes nothing: each blob is one GET streamed straight into one
// POST + PUT, then the manifests are PUT children first. It uses undici directly and
// shares no code with Ferry, so its time is the practical floor for any copier.
import { Agent, request } from 'undici';
import type { Workload } from '../test/helpers/images.js';

/** One blob to move into one repository. */
export interface RawBlob {
  repository: string;
  digest: string;
  size: number;
}

/** One manifest to PUT: by digest for an index child, by tag for a top-level image. */
export interface RawManifest {
  repository: string;
  reference: string;
  mediaType: string;
  bytes: Buffer;
}

/** Everything to copy: blobs, then manifest waves (each wave only after the one before). */
export interface RawPlan {
  blobs: RawBlob[];
  /** `[children of indexes, top-level tags]`: a registry checks that what a manifest lists exists. */
  manifestWaves: RawManifest[][];
}

/** What `rawCopy` moved. */
export interface RawCopyStats {
  blobs: number;
  bytes: number;
  manifests: number;
}

/** Blobs streamed at once: Ferry's default `--blob-concurrency`. */
export const RAW_BLOB_CONCURRENCY = 8;

/** Builds the plan from a generated workload: each repository's distinct blobs, then manifests. */
export function planFromWorkload(workload: Workload): RawPlan {
  const blobs: RawBlob[] = [];
  for (const repository of workload.repositories) {
    const inRepo = new Map<string, number>();
    for (const image of workload.images) {
      if (image.repository !== repository) continue;
      for (const blob of image.blobs) inRepo.set(blob.digest, blob.size);
    }
    for (const [digest, size] of inRepo) blobs.push({ repository, digest, size });
  }
  // Largest first, so the 64 MiB layer does not start last and stretch the tail alone.
  blobs.sort((x, y) => y.size - x.size);
  const children: RawManifest[] = [];
  const tops: RawManifest[] = [];
  for (const image of workload.images) {
    for (const child of image.children ?? []) {
      children.push({
        repository: image.repository,
        reference: child.digest,
        mediaType: child.mediaType,
        bytes: child.manifest,
      });
    }
    tops.push({
      repository: image.repository,
      reference: image.tag ?? image.digest,
      mediaType: image.mediaType,
      bytes: image.manifest,
    });
  }
  return { blobs, manifestWaves: [children, tops] };
}

async function eachLimit<T>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const item = items[next++] as T;
      await fn(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

async function expectStatus(
  what: string,
  res: Awaited<ReturnType<typeof request>>,
  status: number,
): Promise<void> {
  if (res.statusCode === status) return;
  const text = await res.body.text().catch(() => '');
  throw new Error(`raw copy: ${what}: HTTP ${res.statusCode} ${text.slice(0, 300)}`);
}

/** Copies `plan` from registry `srcUrl` to `dstUrl` (`http://host:port`); throws on any non-success. */
export async function rawCopy(
  plan: RawPlan,
  srcUrl: string,
  dstUrl: string,
): Promise<RawCopyStats> {
  // Two requests per blob in flight (source GET, target PUT), as Ferry's registry limit allows.
  const dispatcher = new Agent({ connections: 2 * RAW_BLOB_CONCURRENCY });
  try {
    await eachLimit(plan.blobs, RAW_BLOB_CONCURRENCY, async (blob) => {
      const [started, source] = await Promise.all([
        request(`${dstUrl}/v2/${blob.repository}/blobs/uploads/`, { method: 'POST', dispatcher }),
        request(`${srcUrl}/v2/${blob.repository}/blobs/${blob.digest}`, { dispatcher }),
      ]);
      await expectStatus(`POST upload ${blob.repository}`, started, 202);
      await started.body.dump();
      await expectStatus(`GET ${blob.repository}@${blob.digest}`, source, 200);
      const location = started.headers.location;
      if (typeof location !== 'string') throw new Error('raw copy: upload without Location');
      const target = new URL(location, dstUrl);
      target.searchParams.set('digest', blob.digest);
      const put = await request(target, {
        method: 'PUT',
        dispatcher,
        headers: {
          'content-type': 'application/octet-stream',
          'content-length': String(blob.size),
        },
        body: source.body,
      });
      await expectStatus(`PUT ${blob.repository}@${blob.digest}`, put, 201);
      await put.body.dump();
    });
    let manifests = 0;
    for (const wave of plan.manifestWaves) {
      await eachLimit(wave, RAW_BLOB_CONCURRENCY, async (m) => {
        const res = await request(`${dstUrl}/v2/${m.repository}/manifests/${m.reference}`, {
          method: 'PUT',
          dispatcher,
          headers: { 'content-type': m.mediaType },
          body: m.bytes,
        });
        await expectStatus(`PUT manifest ${m.repository}:${m.reference}`, res, 201);
        await res.body.dump();
        manifests++;
      });
    }
    return {
      blobs: plan.blobs.length,
      bytes: plan.blobs.reduce((n, b) => n + b.size, 0),
      manifests,
    };
  } finally {
    await dispatcher.destroy();
  }
}
