// Wrappers around the real `skopeo` CLI, so tests can check what Ferry wrote with a tool that
// shares none of its code. All of them talk to loopback registries with `--tls-verify=false`
// (skopeo then falls back to plain HTTP).
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { MediaType, type Descriptor, type ManifestJson } from '../../src/registry/types.js';

/** Options shared by the skopeo wrappers. */
export interface SkopeoOptions {
  /** `user:password` for the registry (`--creds`). */
  creds?: string;
  /** Kill skopeo after this long (default 60 s). */
  timeoutMs?: number;
}

/** What `skopeo` printed. */
export interface SkopeoResult {
  stdout: Buffer;
  stderr: string;
}

/** Runs `skopeo <args>`; rejects with its stderr when it exits non-zero. */
export function skopeo(args: string[], options: SkopeoOptions = {}): Promise<SkopeoResult> {
  return new Promise((resolve, reject) => {
    execFile(
      'skopeo',
      args,
      {
        encoding: 'buffer',
        maxBuffer: 64 * 1024 * 1024,
        timeout: options.timeoutMs ?? 60_000,
      },
      (err, stdout, stderr) => {
        const errText = stderr.toString('utf8');
        if (err) {
          // err.message repeats the command line and stderr; the exit code is what it adds.
          const code = (err as { code?: unknown }).code ?? err.signal ?? 'unknown';
          reject(new Error(`skopeo ${args.join(' ')} failed (${String(code)}): ${errText.trim()}`));
          return;
        }
        resolve({ stdout, stderr: errText });
      },
    );
  });
}

/** `docker://host/repo:tag` or `docker://host/repo@sha256:…`, from a tag or a digest. */
export function dockerRef(host: string, repo: string, ref: string): string {
  return `docker://${host}/${repo}${ref.includes(':') ? '@' : ':'}${ref}`;
}

function credsArgs(flag: string, creds: string | undefined): string[] {
  return creds ? [`${flag}=${creds}`] : [];
}

/** A manifest as `skopeo inspect --raw` printed it. */
export interface RawManifest {
  bytes: Buffer;
  /** sha256 of `bytes`. */
  digest: string;
  /** The `mediaType` field of the JSON ('' when absent). */
  mediaType: string;
  json: ManifestJson;
}

/** `skopeo inspect --raw` on a `docker://` reference: the exact manifest bytes and their digest. */
export async function skopeoInspectRaw(
  ref: string,
  options: SkopeoOptions = {},
): Promise<RawManifest> {
  const { stdout } = await skopeo(
    ['inspect', '--raw', '--tls-verify=false', ...credsArgs('--creds', options.creds), ref],
    options,
  );
  const json = JSON.parse(stdout.toString('utf8')) as ManifestJson;
  return {
    bytes: stdout,
    digest: `sha256:${createHash('sha256').update(stdout).digest('hex')}`,
    mediaType: json.mediaType ?? '',
    json,
  };
}

/** `skopeo list-tags` on `docker://host/repo`: the tags, sorted. */
export async function skopeoListTags(
  repoRef: string,
  options: SkopeoOptions = {},
): Promise<string[]> {
  const { stdout } = await skopeo(
    ['list-tags', '--tls-verify=false', ...credsArgs('--creds', options.creds), repoRef],
    options,
  );
  const parsed = JSON.parse(stdout.toString('utf8')) as { Tags?: string[] | null };
  return [...(parsed.Tags ?? [])].sort();
}

/** Options for `skopeoCopy`. */
export interface SkopeoCopyOptions {
  /** Copy every platform of an index (`--all`, default true). */
  all?: boolean;
  /** Fail instead of converting manifests (`--preserve-digests`, default true). */
  preserveDigests?: boolean;
  srcCreds?: string;
  destCreds?: string;
  /** More arguments placed before the two references. */
  extraArgs?: string[];
  timeoutMs?: number;
}

/** `skopeo copy src dst` between `docker://` (or other transport) references. */
export async function skopeoCopy(
  src: string,
  dst: string,
  options: SkopeoCopyOptions = {},
): Promise<void> {
  await skopeo(
    [
      'copy',
      '--quiet',
      '--src-tls-verify=false',
      '--dest-tls-verify=false',
      ...(options.all === false ? [] : ['--all']),
      ...(options.preserveDigests === false ? [] : ['--preserve-digests']),
      ...credsArgs('--src-creds', options.srcCreds),
      ...credsArgs('--dest-creds', options.destCreds),
      ...(options.extraArgs ?? []),
      src,
      dst,
    ],
    { timeoutMs: options.timeoutMs ?? 300_000 },
  );
}

/** Options for `verifyImageEqual`. */
export interface VerifyOptions {
  /** The reference at the destination when it differs from the source's (default the same). */
  dstRef?: string;
  /** GET every destination blob and hash it, instead of a HEAD (default false). */
  fullContent?: boolean;
  /** Also compare the referrers tag (`sha256-<hex>`) of every manifest that has one at the source. */
  referrers?: boolean;
  /** `http` (default) or `https` for the blob requests. */
  scheme?: 'http' | 'https';
  srcCreds?: string;
  dstCreds?: string;
}

/** What `verifyImageEqual` walked, and what differed. */
export interface VerifyResult {
  ok: boolean;
  /** One line per difference. */
  problems: string[];
  /** Digests of every manifest compared (the top one first). */
  manifests: string[];
  /** Every distinct blob checked at the destination. */
  blobs: Descriptor[];
}

function basicAuth(creds: string | undefined): Record<string, string> {
  return creds ? { authorization: `Basic ${Buffer.from(creds).toString('base64')}` } : {};
}

async function checkBlob(
  base: string,
  repo: string,
  desc: Descriptor,
  options: VerifyOptions,
): Promise<string | undefined> {
  const url = `${base}/v2/${repo}/blobs/${desc.digest}`;
  const res = await fetch(url, {
    method: options.fullContent ? 'GET' : 'HEAD',
    headers: basicAuth(options.dstCreds),
  });
  if (res.status !== 200) {
    await res.arrayBuffer();
    return `blob ${desc.digest}: HTTP ${res.status} at ${repo}`;
  }
  if (!options.fullContent) {
    await res.arrayBuffer();
    const length = Number(res.headers.get('content-length'));
    return length === desc.size
      ? undefined
      : `blob ${desc.digest}: size ${length} at ${repo}, descriptor says ${desc.size}`;
  }
  const bytes = Buffer.from(await res.arrayBuffer());
  const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
  if (digest !== desc.digest) return `blob ${desc.digest}: content hashes to ${digest} at ${repo}`;
  if (bytes.length !== desc.size) {
    return `blob ${desc.digest}: ${bytes.length} bytes at ${repo}, descriptor says ${desc.size}`;
  }
  return undefined;
}

/**
 * Walks an image graph with skopeo alone: `inspect --raw` on the reference at both ends, then on
 * every child `@digest` of an index, requiring identical manifest bytes; then checks every blob
 * (configs, layers) exists at the destination with its digest and size. Never throws on a
 * difference: read `ok` and `problems` (or use `assertImageEqual`).
 */
export async function verifyImageEqual(
  srcHost: string,
  srcRepo: string,
  ref: string,
  dstHost: string,
  dstRepo: string,
  options: VerifyOptions = {},
): Promise<VerifyResult> {
  const problems: string[] = [];
  const manifests: string[] = [];
  const blobs = new Map<string, Descriptor>();
  let srcTags: Set<string> | undefined;
  const inspect = async (
    host: string,
    repo: string,
    r: string,
    creds: string | undefined,
  ): Promise<RawManifest | undefined> => {
    try {
      return await skopeoInspectRaw(dockerRef(host, repo, r), credsOf(creds));
    } catch (err) {
      problems.push(`manifest ${repo}:${r} at ${host}: ${(err as Error).message.split('\n')[0]}`);
      return undefined;
    }
  };
  const walk = async (srcRef: string, dstRef: string): Promise<void> => {
    const src = await inspect(srcHost, srcRepo, srcRef, options.srcCreds);
    if (!src) return;
    const dst = await inspect(dstHost, dstRepo, dstRef, options.dstCreds);
    manifests.push(src.digest);
    if (dst && !dst.bytes.equals(src.bytes)) {
      problems.push(
        `manifest ${srcRepo}:${srcRef}: destination bytes ${dst.digest} differ from source ${src.digest}`,
      );
    }
    const isIndex =
      src.json.manifests !== undefined ||
      src.mediaType === MediaType.OciIndex ||
      src.mediaType === MediaType.DockerManifestList;
    if (isIndex) {
      for (const child of src.json.manifests ?? []) await walk(child.digest, child.digest);
    } else {
      for (const d of [...(src.json.config ? [src.json.config] : []), ...(src.json.layers ?? [])]) {
        blobs.set(d.digest, d);
      }
    }
    if (options.referrers) {
      // Referrers tag schema (distribution spec 1.1): `<alg>-<hex>` names the index of referrers.
      const tag = src.digest.replace(':', '-');
      srcTags ??= new Set(
        await skopeoListTags(`docker://${srcHost}/${srcRepo}`, credsOf(options.srcCreds)),
      );
      if (srcTags.has(tag)) await walk(tag, tag);
    }
  };
  await walk(ref, options.dstRef ?? ref);
  const base = `${options.scheme ?? 'http'}://${dstHost}`;
  const checked = [...blobs.values()];
  const blobProblems = await Promise.all(checked.map((d) => checkBlob(base, dstRepo, d, options)));
  for (const p of blobProblems) if (p) problems.push(p);
  return { ok: problems.length === 0, problems, manifests, blobs: checked };
}

function credsOf(creds: string | undefined): SkopeoOptions {
  return creds ? { creds } : {};
}

/** `verifyImageEqual`, throwing an Error that lists every difference. */
export async function assertImageEqual(
  srcHost: string,
  srcRepo: string,
  ref: string,
  dstHost: string,
  dstRepo: string,
  options: VerifyOptions = {},
): Promise<VerifyResult> {
  const result = await verifyImageEqual(srcHost, srcRepo, ref, dstHost, dstRepo, options);
  if (!result.ok) {
    throw new Error(
      `${srcHost}/${srcRepo}:${ref} differs at ${dstHost}/${dstRepo}:\n  ${result.problems.join('\n  ')}`,
    );
  }
  return result;
}
