// `ferry copy` and `ferry sync`: copy images between registries and OCI layout folders.
import { readFile } from 'node:fs/promises';
import type { CliEnvironment } from '../config/env.js';
import type { EntryOptions, RegistrySettings } from '../config/sync-file.js';
import { FerryError, describeError } from '../errors/catalog.js';
import { CopyEngine, type ImageResult } from '../registry/copy/engine.js';
import { compileTagPatterns, parsePlatform } from '../registry/copy/filter.js';
import { planJobs } from '../registry/copy/plan.js';
import { dockerConfigCredentials, readDockerConfig } from '../registry/credentials.js';
import { openBackend } from '../registry/open.js';
import type { RegistryOptions } from '../registry/options.js';
import { parseEndpoint, type Endpoint } from '../registry/reference.js';
import type { RegistryBackend } from '../registry/types.js';
import { memoryGovernor } from './memory.js';
import { ProgressDisplay, type Summary } from './progress.js';

/** Flags shared by copy and sync (commander's parsed options). */
export interface CopyFlags {
  platform?: string[];
  allPlatforms?: boolean;
  override?: boolean;
  referrers?: boolean;
  tag?: string[];
  excludeTag?: string[];
  dryRun?: boolean;
  json?: boolean;
  imageConcurrency?: number;
  blobConcurrency?: number;
  registryConcurrency?: number;
  retries?: number;
  timeout?: number;
  uploadMode?: 'monolithic' | 'chunked' | 'stream';
  srcCreds?: string;
  dstCreds?: string;
  srcInsecure?: boolean;
  dstInsecure?: boolean;
  srcCa?: string;
  dstCa?: string;
  config?: string;
  repository?: string[];
}

/** Streams the command writes to. */
export interface CliIo {
  stdout: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  stderr: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
}

/** One source -> target copy with its settings resolved. */
interface Entry {
  source: string;
  target: string;
  options: EntryOptions;
  repositories?: string[];
}

function splitCreds(s: string, flag: string): { username: string; password: string } {
  const i = s.indexOf(':');
  if (i <= 0) throw new FerryError('INVALID_ARGUMENT', `${flag} must be USER:PASSWORD`);
  return { username: s.slice(0, i), password: s.slice(i + 1) };
}

/** Builds per-host registry options from flags, the sync file and Docker's config.json. */
class Connections {
  private dockerConfig: unknown;

  constructor(
    private readonly flags: CopyFlags,
    private readonly env: CliEnvironment,
    private readonly fileRegistries: RegistrySettings[],
  ) {}

  async load(): Promise<void> {
    this.dockerConfig = await readDockerConfig(this.env.dockerConfigPath);
  }

  async options(endpoint: Endpoint, side: 'src' | 'dst'): Promise<Omit<RegistryOptions, 'host'>> {
    const f = this.flags;
    const opts: Omit<RegistryOptions, 'host'> = {};
    if (f.registryConcurrency) opts.maxConcurrency = f.registryConcurrency;
    if (f.retries) opts.retry = { attempts: f.retries };
    if (f.timeout) opts.idleTimeoutMs = f.timeout * 1000;
    if (endpoint.scheme === 'oci') return opts;
    const host = endpoint.registry;
    const fromDocker = this.dockerConfig
      ? dockerConfigCredentials(this.dockerConfig, host)
      : undefined;
    if (fromDocker) Object.assign(opts, fromDocker);
    const fromFile = this.fileRegistries.find((r) => r.host === host);
    if (fromFile) {
      const { host: _h, ca, ...rest } = fromFile;
      Object.assign(opts, rest);
      if (ca) opts.ca = await readCa(ca);
    }
    const creds =
      side === 'src' ? (f.srcCreds ?? this.env.srcCreds) : (f.dstCreds ?? this.env.dstCreds);
    if (creds) Object.assign(opts, splitCreds(creds, `--${side}-creds`));
    if (side === 'src' ? f.srcInsecure : f.dstInsecure) opts.insecure = true;
    const ca = side === 'src' ? f.srcCa : f.dstCa;
    if (ca) opts.ca = await readCa(ca);
    return opts;
  }
}

async function readCa(path: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (err) {
    throw new FerryError(
      'INVALID_ARGUMENT',
      `cannot read CA file ${path}: ${(err as Error).message}`,
    );
  }
}

function mergeOptions(base: EntryOptions, over: EntryOptions): EntryOptions {
  return {
    ...base,
    ...over,
    ...(over.tags || base.tags ? { tags: { ...base.tags, ...over.tags } } : {}),
  };
}

function flagOptions(flags: CopyFlags): EntryOptions {
  const o: EntryOptions = {};
  if (flags.override) o.override = true;
  if (flags.referrers) o.referrers = true;
  if (flags.dryRun) o.dryRun = true;
  if (flags.platform?.length && !flags.allPlatforms) {
    o.platforms = flags.platform.flatMap((p) => p.split(',')).filter((p) => p !== '');
  }
  if (flags.tag?.length || flags.excludeTag?.length) {
    o.tags = {};
    if (flags.tag?.length) o.tags.allow = flags.tag;
    if (flags.excludeTag?.length) o.tags.deny = flags.excludeTag;
  }
  return o;
}

/** Runs `ferry copy SRC DST` / `ferry sync SRC DST` / `ferry sync --config FILE`; returns the exit code. */
export async function runCopy(
  src: string | undefined,
  dst: string | undefined,
  flags: CopyFlags,
  env: CliEnvironment,
  io: CliIo,
): Promise<number> {
  let entries: Entry[];
  let fileRegistries: RegistrySettings[] = [];
  if (flags.config) {
    if (src || dst)
      throw new FerryError('INVALID_ARGUMENT', 'give either SRC DST or --config FILE, not both');
    const { readSyncFile } = await import('../config/sync-file.js');
    const file = await readSyncFile(flags.config);
    fileRegistries = file.registries;
    const cli = flagOptions(flags);
    entries = file.sync.map((e) => {
      const { source, target, repositories, ...opts } = e;
      const entry: Entry = {
        source,
        target,
        options: mergeOptions(mergeOptions(file.defaults, opts), cli),
      };
      if (repositories) entry.repositories = repositories;
      return entry;
    });
  } else {
    if (!src || !dst)
      throw new FerryError('INVALID_ARGUMENT', 'give SRC and DST (or --config FILE for sync)');
    const entry: Entry = { source: src, target: dst, options: flagOptions(flags) };
    if (flags.repository?.length) entry.repositories = flags.repository;
    entries = [entry];
  }

  const connections = new Connections(flags, env, fileRegistries);
  await connections.load();
  const json = Boolean(flags.json);
  const live = io.stderr.isTTY && !env.plainOutput && !json ? io.stderr : undefined;
  const display = new ProgressDisplay({ out: io.stdout, ...(live ? { live } : {}), quiet: json });
  const results: ImageResult[] = [];
  const errors: string[] = [];
  const controller = new AbortController();
  const onSignal = (): void => controller.abort(new FerryError('CANCELLED', 'interrupted'));
  process.once('SIGINT', onSignal);
  try {
    for (const entry of entries) {
      try {
        results.push(...(await runEntry(entry, flags, connections, display, controller.signal)));
      } catch (err) {
        const line = `failed   ${entry.source} -> ${entry.target}: ${describeError(err)}`;
        errors.push(describeError(err));
        if (!json) io.stdout.write(`${line}\n`);
      }
    }
  } finally {
    process.removeListener('SIGINT', onSignal);
  }
  const summary: Summary = display.finish();
  if (json) {
    const doc = {
      summary,
      errors,
      images: results.map((r) => ({
        ...r,
        error: r.error ? { code: r.error.code, message: r.error.message } : undefined,
      })),
    };
    io.stdout.write(`${JSON.stringify(doc, null, 2)}\n`);
  }
  return summary.failed > 0 || summary.conflicts > 0 || errors.length > 0 ? 1 : 0;
}

async function runEntry(
  entry: Entry,
  flags: CopyFlags,
  connections: Connections,
  display: ProgressDisplay,
  signal: AbortSignal,
): Promise<ImageResult[]> {
  const collectGarbage = memoryGovernor();
  const srcEndpoint = parseEndpoint(entry.source);
  const dstEndpoint = parseEndpoint(entry.target);
  const o = entry.options;
  const tags = {
    ...(o.tags?.allow ? { allow: compileTagPatterns(o.tags.allow, 'tag filter') } : {}),
    ...(o.tags?.deny ? { deny: compileTagPatterns(o.tags.deny, 'tag exclude filter') } : {}),
  };
  const platforms = o.platforms?.map(parsePlatform);
  let src: RegistryBackend | undefined;
  let dst: RegistryBackend | undefined;
  try {
    src = await openBackend(srcEndpoint, await connections.options(srcEndpoint, 'src'));
    dst = await openBackend(dstEndpoint, await connections.options(dstEndpoint, 'dst'), !o.dryRun);
    // Ping both sides while the source is listed, so a wrong host or password fails once
    // with a clear line, without adding a round trip to every run.
    const [, , jobs] = await Promise.all([
      src.ping(signal),
      dst.ping(signal),
      planJobs({
        src,
        srcEndpoint,
        dstEndpoint,
        tags,
        ...(entry.repositories ? { repositories: entry.repositories } : {}),
        signal,
      }),
    ]);
    display.setTotal(jobs.length);
    const engine = new CopyEngine(src, dst, {
      ...(o.override ? { override: true } : {}),
      ...(o.referrers ? { referrers: true } : {}),
      ...(o.dryRun ? { dryRun: true } : {}),
      ...(platforms ? { platforms } : {}),
      ...(flags.imageConcurrency ? { imageConcurrency: flags.imageConcurrency } : {}),
      ...(flags.blobConcurrency ? { blobConcurrency: flags.blobConcurrency } : {}),
      ...(flags.retries ? { blobAttempts: flags.retries } : {}),
      ...(flags.uploadMode ? { uploadMode: flags.uploadMode } : {}),
      signal,
      onEvent: (event) => {
        if (event.type === 'blob-progress' && event.delta > 0) collectGarbage(event.delta);
        display.onEvent(event);
      },
    });
    return await engine.copyImages(jobs);
  } finally {
    await Promise.all([src?.close(), dst?.close()]);
  }
}
