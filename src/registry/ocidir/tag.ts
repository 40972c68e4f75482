// Tags of an OCI layout: the ref.name annotations of index.json's entries.
import { throwIfAborted, type LayoutContext } from './files.js';
import { readIndex, REF_NAME } from './indexjson.js';

/** Every tag in index.json, sorted and without duplicates; [] for a layout not yet created. */
export async function tagList(ctx: LayoutContext, signal?: AbortSignal): Promise<string[]> {
  throwIfAborted(signal);
  const index = await readIndex(ctx);
  const tags = new Set<string>();
  for (const entry of index.manifests) {
    const tag = entry.annotations?.[REF_NAME];
    if (typeof tag === 'string' && tag !== '') tags.add(tag);
  }
  return [...tags].sort();
}
