// Turns a pair of endpoints (registry, repository, image, OCI layout) into the list of
// images to copy, mapping source repository and tag names onto the target's.
import { FerryError } from '../../errors/catalog.js';
import type { Endpoint } from '../reference.js';
import { Semaphore } from '../semaphore.js';
import type { RegistryBackend } from '../types.js';
import type { ImageJob } from './engine.js';
import { tagAllowed, type TagFilter } from './filter.js';

/** What to list and how names map. */
export interface PlanInput {
  src: RegistryBackend;
  srcEndpoint: Endpoint;
  dstEndpoint: Endpoint;
  tags?: TagFilter;
  /** When the source is a registry: only these repositories (else the whole catalog). */
  repositories?: string[];
  signal?: AbortSignal;
}

function endpointText(e: Endpoint): string {
  if (e.scheme === 'oci') return `oci:${e.registry}${e.kind === 'image' ? `:${e.ref}` : ''}`;
  if (e.kind === 'registry') return e.registry;
  return `${e.registry}/${e.repository}${e.kind === 'image' ? `:${e.ref}` : ''}`;
}

function mismatch(src: Endpoint, dst: Endpoint, why: string): FerryError {
  return new FerryError(
    'INVALID_ARGUMENT',
    `cannot copy ${src.kind} ${endpointText(src)} to ${dst.kind} ${endpointText(dst)}: ${why}`,
  );
}

/** Lists the images a copy from `srcEndpoint` to `dstEndpoint` covers. */
export async function planJobs(input: PlanInput): Promise<ImageJob[]> {
  const { src, srcEndpoint: s, dstEndpoint: d, signal } = input;
  if (d.kind === 'image' && d.ref.includes(':')) {
    throw mismatch(s, d, 'the target must name a tag, not a digest');
  }
  if (s.kind === 'image') {
    const dstRepo = d.kind === 'registry' ? s.repository : d.repository;
    if (d.kind === 'image')
      return [{ srcRepo: s.repository, srcRef: s.ref, dstRepo, dstTag: d.ref }];
    const job: ImageJob = { srcRepo: s.repository, srcRef: s.ref, dstRepo };
    if (!s.ref.includes(':')) job.dstTag = s.ref;
    return [job];
  }
  if (d.kind === 'image') {
    throw mismatch(s, d, 'a whole repository or registry goes to a repository or registry');
  }
  const tagsOf = async (repo: string): Promise<string[]> =>
    (await src.tagList(repo, signal)).filter((t) => tagAllowed(t, input.tags)).sort();

  if (s.kind === 'repository') {
    const dstRepo = d.kind === 'registry' ? s.repository : d.repository;
    const tags = await tagsOf(s.repository);
    return tags.map((tag) => ({ srcRepo: s.repository, srcRef: tag, dstRepo, dstTag: tag }));
  }
  if (d.kind !== 'registry') {
    throw mismatch(s, d, 'a whole registry goes to a registry (name a repository to narrow it)');
  }
  const repos = input.repositories ?? (await src.catalogList(signal)).sort();
  // Listing tags is one small request per repository: do several at once.
  const limit = new Semaphore(8);
  const perRepo = await Promise.all(
    repos.map((repo) =>
      limit.run(async () =>
        (await tagsOf(repo)).map((tag) => ({
          srcRepo: repo,
          srcRef: tag,
          dstRepo: repo,
          dstTag: tag,
        })),
      ),
    ),
  );
  return perRepo.flat();
}
