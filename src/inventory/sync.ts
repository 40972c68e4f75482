// The `inventory-sync` job: for each registry of a sync task, list every tag, learn the
// digests (from the listing, else by HEAD), fetch manifests only for tags whose digest is new
// or changed, update the inventory, drop tags that left the registry, and mark each
// repository's latest version. A registry that fails is recorded as failed with its reason;
// the others go on.
import { randomBytes } from 'node:crypto';
import { describeError, toFerryError } from '../errors/catalog.js';
import type { JobContext } from '../engine/kinds.js';
import type { Db } from '../storage/database.js';
import * as store from '../storage/inventory.js';
import { ImageInfoCache } from '../sync/images.js';
import { mapLimit } from './adapters/oci.js';
import type { InventoryAdapter, TagRef } from './adapters/types.js';

/** One registry of a task, opened. */
export interface SyncSource {
  registryType: string;
  registryId: string;
  registryName: string;
  /** HSS `image_type` of its images: private_image, shared_image, instance_image, harbor, jfrog, other. */
  imageType: string;
  adapter: InventoryAdapter;
  /** Fields every image of this source carries. */
  extra: {
    domain_name?: string;
    shared_status?: string;
    instance_id?: string;
    instance_name?: string;
    instance_url?: string;
  };
}

/** What a failed image says in the task. */
export interface FailedImage {
  id: string;
  registry_id: string;
  registry_name: string;
  image_name: string;
  image_version: string;
  namespace: string;
  registry_type: string;
  failed_reason: string;
}

/** The outcome of one source. */
export interface SourceResult {
  tags: number;
  manifestsFetched: number;
  removed: number;
  failedImages: FailedImage[];
}

const HEADS_AT_ONCE = 16;
const DESCRIBES_AT_ONCE = 8;

/** Syncs one source into the inventory of a project. */
export async function syncSource(
  db: Db,
  projectId: string,
  src: SyncSource,
  images: ImageInfoCache,
  signal?: AbortSignal,
): Promise<SourceResult> {
  const key = { projectId, registryType: src.registryType, registryId: src.registryId };
  const tags = await src.adapter.listTags(signal);
  const existing = await store.imageDigests(db, key);
  const now = new Date();
  const failedImages: FailedImage[] = [];
  const fail = (t: TagRef, err: unknown) =>
    failedImages.push({
      id: randomBytes(8).toString('hex'),
      registry_id: src.registryId,
      registry_name: src.registryName,
      image_name: t.imageName,
      image_version: t.tag,
      namespace: t.namespace,
      registry_type: src.registryType,
      failed_reason: describeError(err),
    });

  // Digests: from the listing when it had them, else one HEAD per tag (never a GET).
  const digests = await mapLimit(tags, HEADS_AT_ONCE, async (t) => {
    if (t.digest) return t.digest;
    try {
      return (await src.adapter.registry.manifestHead(t.repository, t.tag, signal))?.digest;
    } catch (err) {
      fail(t, err);
      return undefined;
    }
  });

  const unchanged: string[] = [];
  const changed: { t: TagRef; digest: string }[] = [];
  const seen = new Set<string>();
  tags.forEach((t, i) => {
    const digest = digests[i];
    if (!digest) return;
    const k = `${t.namespace}/${t.imageName}:${t.tag}`;
    seen.add(k);
    const old = existing.get(k);
    if (old && old.digest === digest) unchanged.push(old.id);
    else changed.push({ t, digest });
  });

  // Manifests (and configs, for dates) only for new or changed digests.
  const rows = (
    await mapLimit(changed, DESCRIBES_AT_ONCE, async ({ t, digest }) => {
      try {
        const info = await images.byDigest(src.adapter.registry, t.repository, digest);
        if (!info) throw new Error('the manifest disappeared while syncing');
        return {
          project_id: projectId,
          registry_type: src.registryType,
          registry_id: src.registryId,
          registry_name: src.registryName,
          image_type: src.imageType,
          namespace: t.namespace,
          image_name: t.imageName,
          image_version: t.tag,
          image_digest: digest,
          image_id: info.imageId,
          image_size: info.size,
          is_multiple_arch: info.tagType === 1,
          domain_name: src.extra.domain_name ?? '',
          shared_status: src.extra.shared_status ?? '',
          instance_id: src.extra.instance_id ?? '',
          instance_name: src.extra.instance_name ?? '',
          instance_url: src.extra.instance_url ?? '',
          latest_update_time: t.pushedAt ?? (info.created ? new Date(info.created) : now),
          latest_sync_time: now,
        };
      } catch (err) {
        fail(t, toFerryError(err));
        return undefined;
      }
    })
  ).filter((r) => r !== undefined);

  await store.upsertImages(db, rows);
  await store.touchImages(db, unchanged, now);
  // Tags no longer in the registry leave the inventory (failed HEADs keep their old row).
  const failedKeys = new Set(
    failedImages.map((f) => `${f.namespace}/${f.image_name}:${f.image_version}`),
  );
  const removed = [...existing]
    .filter(([k]) => !seen.has(k) && !failedKeys.has(k))
    .map(([, v]) => v.id);
  await store.deleteImages(db, removed);
  // Which tag is a repository's latest changes only when tags arrive, change or leave.
  if (rows.length > 0 || removed.length > 0) await store.markLatestVersions(db, key);
  return {
    tags: tags.length,
    manifestsFetched: rows.length,
    removed: removed.length,
    failedImages,
  };
}

/** Opens the sources of a task (adapters), given its registries; an error per unopenable one. */
export type SourceOpener = (
  task: store.InvTaskRow,
  registry: store.InvTaskRegistryRow,
) => Promise<SyncSource>;

/** The `inventory-sync` handler. */
export function inventorySyncHandler(db: Db, open: SourceOpener) {
  const images = new ImageInfoCache();
  return async ({ taskId }: { taskId: string }, ctx: JobContext): Promise<void> => {
    const task = await store.findInvTask(db, taskId);
    if (!task || task.task_status === 100 || task.task_status < 0) return;
    const registries = await store.invTaskRegistries(db, taskId);
    let done = 0;
    let success = 0;
    let failed = 0;
    let total = 0;
    const failedImages: FailedImage[] = [];
    const reasons: string[] = [];
    for (const reg of registries) {
      if (ctx.signal.aborted) return; // resumes: the job runs again and redoes what is left
      if (reg.sync_status === 'finished' || reg.sync_status === 'failed') {
        done++;
        continue;
      }
      let source: SyncSource | undefined;
      try {
        source = await open(task, reg);
        const r = await syncSource(db, task.project_id, source, images, ctx.signal);
        total += r.tags;
        failed += r.failedImages.length;
        success += r.tags - r.failedImages.length;
        failedImages.push(...r.failedImages);
        await store.updateInvTaskRegistry(db, taskId, reg.registry_type, reg.registry_id, {
          sync_status: 'finished',
          failed_reason: '',
        });
        if (['Harbor', 'Jfrog', 'Other'].includes(reg.registry_type)) {
          await store.updateInvRegistry(db, task.project_id, reg.registry_id, {
            status: 'success',
            fail_reason: '',
            fail_detail: '',
            images_num: await store.imageCount(db, {
              projectId: task.project_id,
              registryType: reg.registry_type,
              registryId: reg.registry_id,
            }),
            latest_sync_time: new Date(),
          });
        }
      } catch (err) {
        if (ctx.signal.aborted) return;
        const reason = describeError(err);
        reasons.push(`${reg.registry_name}: ${reason}`);
        await store.updateInvTaskRegistry(db, taskId, reg.registry_type, reg.registry_id, {
          sync_status: 'failed',
          failed_reason: reason,
        });
        if (['Harbor', 'Jfrog', 'Other'].includes(reg.registry_type)) {
          const e = toFerryError(err);
          await store.updateInvRegistry(db, task.project_id, reg.registry_id, {
            status: 'fail',
            // HSS's documented reasons; the detail beside them.
            fail_reason:
              e.status >= 500 && e.code !== 'INTERNAL'
                ? 'REQUEST_API_ERROR'
                : e.code === 'INTERNAL'
                  ? 'SERVER_ERROR'
                  : 'REQUEST_API_ERROR',
            fail_detail: reason,
          });
        }
      } finally {
        await source?.adapter.close();
      }
      done++;
      await store.updateInvTask(db, taskId, {
        task_status: Math.min(99, Math.floor((done / Math.max(1, registries.length)) * 100)),
        total_num: total,
        success_num: success,
        failed_num: failed,
      });
    }
    await store.updateInvTask(db, taskId, {
      task_status: 100,
      total_num: total,
      success_num: success,
      failed_num: failed,
      failed_reason: reasons.join('; '),
      failed_images: JSON.stringify(failedImages.slice(0, 1000)),
      end_time: new Date(),
    });
  };
}
