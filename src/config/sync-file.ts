// The `ferry sync --config FILE` format: a versioned YAML list of copy entries, with the
// registries' connection settings beside them. Validated once; errors name the key.
import { readFile } from 'node:fs/promises';
import { parse } from 'yaml';
import { FerryError } from '../errors/catalog.js';

/** Connection settings of one registry host. */
export interface RegistrySettings {
  host: string;
  insecure?: boolean;
  /** Path to a PEM CA bundle. */
  ca?: string;
  username?: string;
  password?: string;
  token?: string;
  maxConcurrency?: number;
}

/** Copy options an entry (or the defaults) can set. */
export interface EntryOptions {
  override?: boolean;
  referrers?: boolean;
  platforms?: string[];
  tags?: { allow?: string[]; deny?: string[] };
  dryRun?: boolean;
}

/** One `source -> target` copy. */
export interface SyncEntry extends EntryOptions {
  source: string;
  target: string;
  /** When the source is a whole registry: only these repositories. */
  repositories?: string[];
}

/** A parsed sync file. */
export interface SyncFile {
  version: 1;
  defaults: EntryOptions;
  registries: RegistrySettings[];
  sync: SyncEntry[];
}

function bad(file: string, key: string, why: string): FerryError {
  return new FerryError('INVALID_CONFIG', `${file}: ${key}: ${why}`);
}

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function checkKeys(file: string, key: string, o: Obj, allowed: readonly string[]): void {
  for (const k of Object.keys(o)) {
    if (!allowed.includes(k)) {
      throw bad(
        file,
        `${key}${key ? '.' : ''}${k}`,
        `unknown key (allowed: ${allowed.join(', ')})`,
      );
    }
  }
}

function str(file: string, key: string, v: unknown): string | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || v === '') throw bad(file, key, 'must be a non-empty string');
  return v;
}

function bool(file: string, key: string, v: unknown): boolean | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'boolean') throw bad(file, key, 'must be true or false');
  return v;
}

function strList(file: string, key: string, v: unknown): string[] | undefined {
  if (v === undefined) return undefined;
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string' || x === '')) {
    throw bad(file, key, 'must be a list of non-empty strings');
  }
  return v as string[];
}

const OPTION_KEYS = ['override', 'referrers', 'platforms', 'tags', 'dryRun'] as const;

function entryOptions(file: string, key: string, o: Obj): EntryOptions {
  const out: EntryOptions = {};
  const override = bool(file, `${key}.override`, o.override);
  if (override !== undefined) out.override = override;
  const referrers = bool(file, `${key}.referrers`, o.referrers);
  if (referrers !== undefined) out.referrers = referrers;
  const dryRun = bool(file, `${key}.dryRun`, o.dryRun);
  if (dryRun !== undefined) out.dryRun = dryRun;
  const platforms = strList(file, `${key}.platforms`, o.platforms);
  if (platforms !== undefined) out.platforms = platforms;
  if (o.tags !== undefined) {
    if (!isObj(o.tags)) throw bad(file, `${key}.tags`, 'must be a map with allow and deny lists');
    checkKeys(file, `${key}.tags`, o.tags, ['allow', 'deny']);
    const tags: { allow?: string[]; deny?: string[] } = {};
    const allow = strList(file, `${key}.tags.allow`, o.tags.allow);
    if (allow) tags.allow = allow;
    const deny = strList(file, `${key}.tags.deny`, o.tags.deny);
    if (deny) tags.deny = deny;
    out.tags = tags;
  }
  return out;
}

/** Parses and validates sync file text. */
export function parseSyncFile(text: string, file: string): SyncFile {
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (err) {
    throw bad(file, '(file)', `not valid YAML: ${(err as Error).message.split('\n')[0]}`);
  }
  if (!isObj(doc)) throw bad(file, '(file)', 'must be a YAML map with version and sync keys');
  checkKeys(file, '', doc, ['version', 'defaults', 'registries', 'sync']);
  if (doc.version !== 1)
    throw bad(file, 'version', `must be 1 (got ${JSON.stringify(doc.version)})`);

  let defaults: EntryOptions = {};
  if (doc.defaults !== undefined) {
    if (!isObj(doc.defaults)) throw bad(file, 'defaults', 'must be a map');
    checkKeys(file, 'defaults', doc.defaults, OPTION_KEYS);
    defaults = entryOptions(file, 'defaults', doc.defaults);
  }

  const registries: RegistrySettings[] = [];
  if (doc.registries !== undefined) {
    if (!Array.isArray(doc.registries)) throw bad(file, 'registries', 'must be a list');
    doc.registries.forEach((r: unknown, i) => {
      const key = `registries[${i}]`;
      if (!isObj(r)) throw bad(file, key, 'must be a map');
      checkKeys(file, key, r, [
        'host',
        'insecure',
        'ca',
        'username',
        'password',
        'token',
        'maxConcurrency',
      ]);
      const host = str(file, `${key}.host`, r.host);
      if (!host) throw bad(file, `${key}.host`, 'is required');
      const s: RegistrySettings = { host };
      const insecure = bool(file, `${key}.insecure`, r.insecure);
      if (insecure !== undefined) s.insecure = insecure;
      for (const k of ['ca', 'username', 'password', 'token'] as const) {
        const v = str(file, `${key}.${k}`, r[k]);
        if (v !== undefined) s[k] = v;
      }
      if (r.maxConcurrency !== undefined) {
        if (!Number.isInteger(r.maxConcurrency) || (r.maxConcurrency as number) < 1) {
          throw bad(file, `${key}.maxConcurrency`, 'must be a whole number >= 1');
        }
        s.maxConcurrency = r.maxConcurrency as number;
      }
      registries.push(s);
    });
  }

  if (!Array.isArray(doc.sync) || doc.sync.length === 0) {
    throw bad(file, 'sync', 'must be a non-empty list of {source, target} entries');
  }
  const sync = doc.sync.map((e: unknown, i): SyncEntry => {
    const key = `sync[${i}]`;
    if (!isObj(e)) throw bad(file, key, 'must be a map with source and target');
    checkKeys(file, key, e, ['source', 'target', 'repositories', ...OPTION_KEYS]);
    const source = str(file, `${key}.source`, e.source);
    const target = str(file, `${key}.target`, e.target);
    if (!source) throw bad(file, `${key}.source`, 'is required');
    if (!target) throw bad(file, `${key}.target`, 'is required');
    const entry: SyncEntry = { source, target, ...entryOptions(file, key, e) };
    const repositories = strList(file, `${key}.repositories`, e.repositories);
    if (repositories) entry.repositories = repositories;
    return entry;
  });
  return Object.freeze({ version: 1, defaults, registries, sync });
}

/** Reads and validates a sync file. */
export async function readSyncFile(path: string): Promise<SyncFile> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new FerryError('INVALID_CONFIG', `${path}: cannot read: ${(err as Error).message}`);
  }
  return parseSyncFile(text, path);
}
