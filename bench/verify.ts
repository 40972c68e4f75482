// Cheap completeness check after each copy, with plain `fetch` and no Ferry code: the target's
// catalog holds exactly the expected repositories, each repository's tags equal the source's,
// every tag's manifest digest (HEAD) equals the source's and the generated one, and every
// child of an index is present. distribution refuses a manifest whose blobs or children are
// missing, so a tag that is there with the right digest stands for its whole graph.
import type { PushedImage } from '../test/helpers/images.js';
import { MediaType } from '../src/registry/types.js';

const ACCEPT = [
  MediaType.OciIndex,
  MediaType.OciManifest,
  MediaType.DockerManifestList,
  MediaType.DockerManifest,
].join(', ');

async function getJson<T>(url: string): Promise<T> {
  const res = await fetch(url);
  if (res.status !== 200) throw new Error(`GET ${url}: HTTP ${res.status}`);
  return (await res.json()) as T;
}

async function tags(baseUrl: string, repository: string): Promise<string[]> {
  const body = await getJson<{ tags?: string[] | null }>(
    `${baseUrl}/v2/${repository}/tags/list?n=1000`,
  );
  return [...(body.tags ?? [])].sort();
}

async function headDigest(baseUrl: string, repository: string, ref: string): Promise<string> {
  const res = await fetch(`${baseUrl}/v2/${repository}/manifests/${ref}`, {
    method: 'HEAD',
    headers: { accept: ACCEPT },
  });
  if (res.status === 404) return 'missing';
  if (res.status !== 200) throw new Error(`HEAD ${repository}:${ref}: HTTP ${res.status}`);
  return res.headers.get('docker-content-digest') ?? 'no Docker-Content-Digest';
}

/** Throws a list of differences unless `dstUrl` holds every tagged image of `images` exactly as `srcUrl` does. */
export async function verifyCopy(
  srcUrl: string,
  dstUrl: string,
  images: readonly PushedImage[],
): Promise<void> {
  const problems: string[] = [];
  const repositories = [...new Set(images.map((i) => i.repository))].sort();
  const catalog = await getJson<{ repositories?: string[] | null }>(`${dstUrl}/v2/_catalog?n=1000`);
  const found = [...(catalog.repositories ?? [])].sort();
  if (found.join(',') !== repositories.join(',')) {
    problems.push(`catalog is [${found.join(', ')}], expected [${repositories.join(', ')}]`);
  }
  for (const repository of repositories) {
    const expected = images
      .filter((i) => i.repository === repository && i.tag !== undefined)
      .map((i) => i.tag ?? '')
      .sort();
    const [atSource, atTarget] = await Promise.all([
      tags(srcUrl, repository),
      // A repository the copy never created answers 404: report it as having no tags.
      tags(dstUrl, repository).catch(() => [] as string[]),
    ]);
    if (atSource.join(',') !== expected.join(',')) {
      problems.push(`${repository}: source tags [${atSource.join(', ')}] are not the workload's`);
    }
    if (atTarget.join(',') !== atSource.join(',')) {
      problems.push(
        `${repository}: target tags [${atTarget.join(', ')}], source [${atSource.join(', ')}]`,
      );
    }
  }
  await Promise.all(
    images.map(async (image) => {
      if (image.tag === undefined) return;
      const [src, dst] = await Promise.all([
        headDigest(srcUrl, image.repository, image.tag),
        headDigest(dstUrl, image.repository, image.tag),
      ]);
      const name = `${image.repository}:${image.tag}`;
      if (src !== image.digest) problems.push(`${name}: source has ${src}, pushed ${image.digest}`);
      if (dst !== src) problems.push(`${name}: target has ${dst}, source ${src}`);
      for (const child of image.children ?? []) {
        const got = await headDigest(dstUrl, image.repository, child.digest);
        if (got !== child.digest) problems.push(`${name}: child ${child.digest} is ${got}`);
      }
    }),
  );
  if (problems.length > 0) {
    const shown = problems.slice(0, 10).join('\n  ');
    const more = problems.length > 10 ? `\n  (${problems.length - 10} more)` : '';
    throw new Error(`incomplete copy at ${dstUrl}:\n  ${shown}${more}`);
  }
}

/** skopeo's arguments for syncing the repositories a YAML source file lists into `dest`. */
export function skopeoSyncArgs(yamlFile: string, dest: string): string[] {
  return [
    'sync',
    '--all',
    '--preserve-digests',
    '--src-tls-verify=false',
    '--dest-tls-verify=false',
    '--src',
    'yaml',
    '--dest',
    'docker',
    yamlFile,
    dest,
  ];
}
