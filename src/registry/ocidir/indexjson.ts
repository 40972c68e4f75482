// index.json, the layout's entry point: an OCI index whose entries carry tags in the
// `org.opencontainers.image.ref.name` annotation. Every change goes through `updateIndex`,
// which serialises writers to the same folder within the process and replaces the file
// atomically, so parallel tag puts never lose entries and readers never see half a file.
// https://github.com/opencontainers/image-spec/blob/main/image-layout.md#indexjson-file
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FerryError } from '../../errors/catalog.js';
import { MediaType, type Descriptor } from '../types.js';
import { ioError, isNotFound, writeFileAtomic, type LayoutContext } from './files.js';

/** The annotation that names a tag in index.json. */
export const REF_NAME = 'org.opencontainers.image.ref.name';

/** index.json as stored; fields Ferry does not know are kept when it is rewritten. */
export interface IndexJson {
  schemaVersion: number;
  mediaType?: string;
  manifests: Descriptor[];
  [key: string]: unknown;
}

/** An index with no entries, as a new layout holds. */
export function emptyIndex(): IndexJson {
  return { schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: [] };
}

function indexPath(ctx: LayoutContext): string {
  return join(ctx.root, 'index.json');
}

/** Reads index.json; an empty index when the file (or the whole layout) does not exist. */
export async function readIndex(ctx: LayoutContext): Promise<IndexJson> {
  const path = indexPath(ctx);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if (isNotFound(err)) return emptyIndex();
    throw ioError('read', path, err);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new FerryError('IO_ERROR', `cannot read ${path}: not valid JSON`, { cause: err });
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new FerryError('IO_ERROR', `cannot read ${path}: not an OCI index`);
  }
  const index = parsed as IndexJson;
  // The spec requires `manifests`, but an empty layout written by hand may omit it.
  index.manifests ??= [];
  if (!Array.isArray(index.manifests)) {
    throw new FerryError('IO_ERROR', `cannot read ${path}: "manifests" is not a list`);
  }
  return index;
}

/** The first entry tagged `tag`, if any. */
export function findTag(index: IndexJson, tag: string): Descriptor | undefined {
  return index.manifests.find((d) => d.annotations?.[REF_NAME] === tag);
}

// One promise chain per layout folder, shared by every OciLayout instance on that folder in
// this process. Another process writing the same folder at once is not guarded against.
const tails = new Map<string, Promise<void>>();

async function withIndexLock<T>(root: string, fn: () => Promise<T>): Promise<T> {
  const previous = tails.get(root) ?? Promise.resolve();
  let release = (): void => undefined;
  const mine = new Promise<void>((resolve) => (release = resolve));
  const tail = previous.then(() => mine);
  tails.set(root, tail);
  await previous;
  try {
    return await fn();
  } finally {
    release();
    // Drop the entry once nobody queued behind us, so the map does not grow per folder.
    if (tails.get(root) === tail) tails.delete(root);
  }
}

/**
 * Applies `change` to index.json under the folder's lock and writes the result atomically
 * when `change` returns true (false: nothing changed, nothing written).
 */
export async function updateIndex(
  ctx: LayoutContext,
  change: (index: IndexJson) => boolean,
): Promise<void> {
  await withIndexLock(ctx.root, async () => {
    const index = await readIndex(ctx);
    if (!change(index)) return;
    await writeFileAtomic(indexPath(ctx), JSON.stringify(index));
  });
}

/** Creates an empty index.json unless one exists (under the lock, so no write is lost). */
export async function ensureIndex(ctx: LayoutContext): Promise<void> {
  await withIndexLock(ctx.root, async () => {
    try {
      await readFile(indexPath(ctx));
      return;
    } catch (err) {
      if (!isNotFound(err)) throw ioError('read', indexPath(ctx), err);
    }
    await writeFileAtomic(indexPath(ctx), JSON.stringify(emptyIndex()));
  });
}
