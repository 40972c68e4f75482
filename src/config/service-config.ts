// The `ferry serve` configuration: a versioned YAML file whose every key can be overridden by
// a FERRY_ environment variable. One schema drives the key checks, the defaults and the
// environment names, so names cannot collide. Errors name the key (or the variable) and never
// echo a value, so secrets stay out of messages and logs. docs/configuration.md documents it.
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { parse } from 'yaml';
import { FerryError } from '../errors/catalog.js';

/** A Huawei Cloud region Ferry serves, reached at `url`. */
export interface RegionConfig {
  id: string;
  url: string;
  username?: string;
  password?: string;
  /** PEM file of the CA that signed an https registry's certificate. */
  ca?: string;
  eventToken?: string;
}

/** An SWR Enterprise instance: a registry Ferry manages for a domain's project. */
export interface InstanceConfig {
  id: string;
  name: string;
  description?: string;
  url: string;
  /** Domain (account) name that owns it. */
  domain: string;
  /** Region id; the instance belongs to the domain's project of that region. */
  region: string;
  username?: string;
  password?: string;
  ca?: string;
  eventToken?: string;
}

/** An access key created at bootstrap. */
export interface AccessKeyConfig {
  ak: string;
  sk: string;
}

/** A parsed `ferry serve` configuration. */
export interface ServiceConfig {
  version: 1;
  listen: { host: string; port: number };
  /** Absolute path. */
  dataDir: string;
  database: { url?: string };
  /** 64 hex characters (32 bytes). */
  secretKey?: string;
  tokenTtlSeconds: number;
  sync: { waitSeconds: number };
  /** Job workers in this process (`ferry serve`; `ferry worker` always runs them). */
  workers: {
    enabled: boolean;
    concurrency: number;
    /** Jobs touching one registry at once, across every process. */
    registryConcurrency: number;
    maxAttempts: number;
    retryBaseSeconds: number;
    retryMaxSeconds: number;
    shutdownGraceSeconds: number;
  };
  /** The reconciler of auto-sync rules; 0 turns it off. */
  autoSync: { reconcileSeconds: number };
  regions: RegionConfig[];
  instances: InstanceConfig[];
  bootstrap?: { domain: string; user: string; password: string; accessKeys: AccessKeyConfig[] };
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
}

/** Options of the loaders. */
export interface ServiceConfigOptions {
  /** Where FERRY_ overrides come from; default process.env. */
  env?: NodeJS.ProcessEnv;
  /** Base of a relative dataDir; default process.cwd(). */
  cwd?: string;
}

/** FERRY_ variables other parts of Ferry read; they are not configuration keys. */
export const IGNORED_ENV_NAMES: readonly string[] = [
  'FERRY_SRC_CREDS',
  'FERRY_DST_CREDS',
  'FERRY_CONFIG',
];

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** A value's fault, turned into a message with its key by the validator. */
class Invalid {
  constructor(readonly why: string) {}
}

type Spec =
  | {
      t: 'str';
      required?: boolean;
      default?: string;
      /** Throws Invalid when the text is wrong; returns the stored value. */
      conv?: (v: string) => unknown;
      /** The fault when the value is not a non-empty string. */
      must?: string;
    }
  | { t: 'int'; min: number; max: number; default?: number; required?: boolean; must?: string }
  | { t: 'bool'; default?: boolean }
  | { t: 'enum'; values: readonly string[]; default: string }
  | { t: 'map'; fields: Record<string, Spec>; required?: boolean; default?: Record<string, never> }
  | { t: 'list'; of: Spec; default?: never[] };

const REGION_ID = /^[a-z][a-z0-9-]{1,62}$/;

const LISTEN_MUST = 'must be HOST:PORT, [IPV6]:PORT or :PORT (e.g. 127.0.0.1:8080)';

function listenAddress(v: string): { host: string; port: number } {
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9.-]*)):(\d{1,5})$/.exec(v);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw new Invalid(LISTEN_MUST);
  return { host: m[1] ?? (m[2] || '0.0.0.0'), port };
}

function regionUrl(v: string): string {
  // http(s)://host[:port], an optional trailing slash and nothing else; stored as its origin.
  if (!/^https?:\/\/[^/?#\s]+\/?$/i.test(v)) {
    throw new Invalid('must be an http(s) URL with no path (http(s)://HOST[:PORT])');
  }
  let u: URL;
  try {
    u = new URL(v);
  } catch {
    throw new Invalid('must be an http(s) URL');
  }
  if (u.username || u.password || v.includes('@')) {
    throw new Invalid('must not hold credentials (use username and password)');
  }
  return u.origin;
}

function databaseUrl(v: string): string {
  let u: URL | undefined;
  try {
    u = new URL(v);
  } catch {
    u = undefined;
  }
  if (!u || (u.protocol !== 'postgres:' && u.protocol !== 'postgresql:')) {
    throw new Invalid('must be a postgres:// or postgresql:// URL');
  }
  return v;
}

function secretKey(v: string): string {
  if (!/^[0-9A-Fa-f]{64}$/.test(v)) throw new Invalid('must be 64 hex characters (32 bytes)');
  return v;
}

function instanceId(v: string): string {
  if (!/^[a-z0-9][a-z0-9-]{0,62}$/.test(v)) {
    throw new Invalid('must be 1 to 63 lower-case letters, digits and dashes');
  }
  return v;
}

function regionId(v: string): string {
  if (!REGION_ID.test(v)) {
    throw new Invalid(
      'must be 2 to 63 lower-case letters, digits and dashes, starting with a letter',
    );
  }
  return v;
}

type MapSpec = Extract<Spec, { t: 'map' }>;

const SCHEMA: MapSpec = {
  t: 'map',
  fields: {
    version: { t: 'int', min: 1, max: 1, required: true, must: 'must be 1' },
    listen: { t: 'str', default: '127.0.0.1:8080', conv: listenAddress, must: LISTEN_MUST },
    dataDir: { t: 'str', default: './ferry-data' },
    database: { t: 'map', default: {}, fields: { url: { t: 'str', conv: databaseUrl } } },
    secretKey: { t: 'str', conv: secretKey },
    tokenTtlSeconds: { t: 'int', min: 60, max: 2592000, default: 86400 },
    sync: {
      t: 'map',
      default: {},
      fields: {
        waitSeconds: { t: 'int', min: 0, max: 3600, default: 60 },
      },
    },
    workers: {
      t: 'map',
      default: {},
      fields: {
        enabled: { t: 'bool', default: true },
        concurrency: { t: 'int', min: 1, max: 256, default: 8 },
        registryConcurrency: { t: 'int', min: 1, max: 256, default: 8 },
        maxAttempts: { t: 'int', min: 1, max: 100, default: 5 },
        retryBaseSeconds: { t: 'int', min: 0, max: 3600, default: 2 },
        retryMaxSeconds: { t: 'int', min: 1, max: 86400, default: 300 },
        shutdownGraceSeconds: { t: 'int', min: 0, max: 3600, default: 20 },
      },
    },
    autoSync: {
      t: 'map',
      default: {},
      fields: {
        reconcileSeconds: { t: 'int', min: 0, max: 86400, default: 300 },
      },
    },
    regions: {
      t: 'list',
      default: [],
      of: {
        t: 'map',
        fields: {
          id: { t: 'str', required: true, conv: regionId },
          url: { t: 'str', required: true, conv: regionUrl },
          username: { t: 'str' },
          password: { t: 'str' },
          ca: { t: 'str' },
          eventToken: { t: 'str' },
        },
      },
    },
    instances: {
      t: 'list',
      default: [],
      of: {
        t: 'map',
        fields: {
          id: { t: 'str', required: true, conv: instanceId },
          name: { t: 'str', required: true },
          description: { t: 'str' },
          url: { t: 'str', required: true, conv: regionUrl },
          domain: { t: 'str', required: true },
          region: { t: 'str', required: true },
          username: { t: 'str' },
          password: { t: 'str' },
          ca: { t: 'str' },
          eventToken: { t: 'str' },
        },
      },
    },
    bootstrap: {
      t: 'map',
      fields: {
        domain: { t: 'str', required: true },
        user: { t: 'str', required: true },
        password: { t: 'str', required: true },
        accessKeys: {
          t: 'list',
          default: [],
          of: {
            t: 'map',
            fields: { ak: { t: 'str', required: true }, sk: { t: 'str', required: true } },
          },
        },
      },
    },
    logLevel: { t: 'enum', values: LOG_LEVELS, default: 'info' },
  },
};

type Path = (string | number)[];
type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** `regions[1].url` */
function keyText(path: Path): string {
  let s = '';
  for (const p of path) s += typeof p === 'number' ? `[${p}]` : s ? `.${p}` : p;
  return s;
}

/** `dataDir` -> `DATA_DIR` */
function envWords(field: string): string[] {
  return field
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .toUpperCase()
    .split('_');
}

/** The environment variable of a key: `regions[1].password` -> FERRY_REGIONS_1_PASSWORD. */
function envName(path: Path): string {
  return [
    'FERRY',
    ...path.flatMap((p) => (typeof p === 'number' ? [String(p)] : envWords(p))),
  ].join('_');
}

/** A key of the configuration and its variable; list elements are written `[N]` / `N`. */
export interface ServiceConfigKey {
  /** `regions[N].url` */
  key: string;
  /** `FERRY_REGIONS_N_URL` */
  env: string;
}

/** Every key with its environment variable, in schema order (for docs and checks). */
export function serviceConfigKeys(): ServiceConfigKey[] {
  const out: ServiceConfigKey[] = [];
  const walk = (spec: Spec, path: Path, key: string, env: string): void => {
    if (path.length > 0) out.push({ key, env });
    if (spec.t === 'map') {
      for (const [f, s] of Object.entries(spec.fields)) {
        walk(s, [...path, f], key ? `${key}.${f}` : f, `${env}_${envWords(f).join('_')}`);
      }
    } else if (spec.t === 'list') {
      walk(spec.of, [...path, 0], `${key}[N]`, `${env}_N`);
    }
  };
  walk(SCHEMA, [], '', 'FERRY');
  return out;
}

/** The key a variable's words name, or undefined. */
function resolveEnv(words: string[], i: number, spec: Spec, path: Path): [Path, Spec] | undefined {
  if (i === words.length) return path.length > 0 ? [path, spec] : undefined;
  if (spec.t === 'map') {
    for (const [f, s] of Object.entries(spec.fields)) {
      const fw = envWords(f);
      if (fw.every((w, j) => words[i + j] === w)) {
        const r = resolveEnv(words, i + fw.length, s, [...path, f]);
        if (r) return r;
      }
    }
  } else if (spec.t === 'list') {
    const w = words[i] ?? '';
    if (/^(0|[1-9]\d{0,3})$/.test(w))
      return resolveEnv(words, i + 1, spec.of, [...path, Number(w)]);
  }
  return undefined;
}

/** Parents before children, list indexes in order. */
function comparePaths(a: Path, b: Path): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (x === y) continue;
    if (typeof x === 'number' && typeof y === 'number') return x - y;
    return String(x) < String(y) ? -1 : 1;
  }
  return a.length - b.length;
}

function firstLine(err: unknown): string {
  return ((err as Error).message ?? String(err)).split('\n')[0] ?? '';
}

/** Parses, overrides, validates and freezes; see loadServiceConfig. */
class Loader {
  /** Keys (keyText) set or created by a variable, and that variable. */
  private readonly origins = new Map<string, string>();

  constructor(
    private readonly source: string,
    private readonly env: NodeJS.ProcessEnv,
    private readonly cwd: string,
  ) {}

  /** `source: key: why`, or `FERRY_X: why` / `FERRY_X: key: why` when the value came from one. */
  bad(path: Path, why: string): FerryError {
    const key = keyText(path);
    for (let i = path.length; i > 0; i--) {
      const env = this.origins.get(keyText(path.slice(0, i)));
      if (env !== undefined) {
        return new FerryError(
          'INVALID_CONFIG',
          `${env}: ${i === path.length ? '' : `${key}: `}${why}`,
        );
      }
    }
    return new FerryError('INVALID_CONFIG', `${this.source}: ${key || '(file)'}: ${why}`);
  }

  run(text: string | undefined): Readonly<ServiceConfig> {
    let doc: unknown = { version: 1 };
    if (text !== undefined) {
      try {
        doc = parse(text);
      } catch (err) {
        throw this.bad([], `not valid YAML: ${firstLine(err)}`);
      }
      if (!isObj(doc)) throw this.bad([], 'must be a YAML map with a version key');
    }
    this.applyEnv(doc as Obj);
    const out = this.check(SCHEMA, doc, []) as ServiceConfig;
    this.crossCheck(out);
    out.dataDir = resolve(this.cwd, out.dataDir);
    return deepFreeze(out);
  }

  private applyEnv(doc: Obj): void {
    const found: { name: string; value: string; path: Path; spec: Spec }[] = [];
    for (const [name, value] of Object.entries(this.env)) {
      if (!name.startsWith('FERRY_') || IGNORED_ENV_NAMES.includes(name)) continue;
      const hit = resolveEnv(name.slice('FERRY_'.length).split('_'), 0, SCHEMA, []);
      if (!hit) {
        const known = Object.keys(SCHEMA.fields).map((f) => envName([f]));
        throw new FerryError(
          'INVALID_CONFIG',
          `${name}: not a Ferry setting (known: ${known.join(', ')}, and their sub-keys; see docs/configuration.md)`,
        );
      }
      if (value === undefined || value === '') continue; // empty counts as unset
      found.push({ name, value, path: hit[0], spec: hit[1] });
    }
    found.sort((a, b) => comparePaths(a.path, b.path));
    for (const { name, value, path, spec } of found)
      this.set(doc, path, coerce(spec, value, name), name);
  }

  /** Puts an environment value at `path`, creating the maps and list elements on the way. */
  private set(doc: Obj, path: Path, value: unknown, name: string): void {
    let cur: Obj | unknown[] = doc;
    for (let i = 0; i < path.length; i++) {
      const seg = path[i]!;
      const here = path.slice(0, i + 1);
      if (typeof seg === 'number') {
        const list = cur as unknown[];
        if (seg > list.length) {
          throw new FerryError(
            'INVALID_CONFIG',
            `${name}: ${keyText(here)}: index past the end of ${keyText(path.slice(0, i))} (${list.length} elements; add them in order)`,
          );
        }
      }
      const rec = cur as Record<string | number, unknown>;
      if (i === path.length - 1) {
        rec[seg] = value;
        this.origins.set(keyText(here), name);
        return;
      }
      const wantList = typeof path[i + 1] === 'number';
      let next = rec[seg];
      if (next === undefined || next === null) {
        next = wantList ? [] : {};
        rec[seg] = next;
        this.origins.set(keyText(here), name);
      } else if (wantList ? !Array.isArray(next) : !isObj(next)) {
        throw this.bad(here, wantList ? 'must be a list' : 'must be a map');
      }
      cur = next as Obj | unknown[];
    }
  }

  /** Validates `v` against `spec`, filling defaults; undefined means absent. */
  private check(spec: Spec, v: unknown, path: Path): unknown {
    if (v === null) v = undefined;
    if (v === undefined) {
      if ('default' in spec && spec.default !== undefined) {
        v = Array.isArray(spec.default) ? [] : isObj(spec.default) ? {} : spec.default;
      } else if ('required' in spec && spec.required) {
        throw this.bad(path, 'is required');
      } else {
        return undefined;
      }
    }
    switch (spec.t) {
      case 'str':
        if (typeof v !== 'string' || v === '') {
          throw this.bad(path, spec.must ?? 'must be a non-empty string');
        }
        if (!spec.conv) return v;
        try {
          return spec.conv(v);
        } catch (err) {
          if (err instanceof Invalid) throw this.bad(path, err.why);
          throw err;
        }
      case 'int':
        if (!Number.isInteger(v) || (v as number) < spec.min || (v as number) > spec.max) {
          throw this.bad(
            path,
            spec.must ?? `must be a whole number from ${spec.min} to ${spec.max}`,
          );
        }
        return v;
      case 'bool':
        if (typeof v !== 'boolean') throw this.bad(path, 'must be true or false');
        return v;
      case 'enum':
        if (typeof v !== 'string' || !spec.values.includes(v)) {
          throw this.bad(path, `must be one of ${spec.values.join(', ')}`);
        }
        return v;
      case 'map': {
        if (!isObj(v)) throw this.bad(path, 'must be a map');
        const allowed = Object.keys(spec.fields);
        for (const k of Object.keys(v)) {
          if (!allowed.includes(k)) {
            throw this.bad([...path, k], `unknown key (allowed: ${allowed.join(', ')})`);
          }
        }
        const out: Obj = {};
        for (const [k, s] of Object.entries(spec.fields)) {
          const r = this.check(s, v[k], [...path, k]);
          if (r !== undefined) out[k] = r;
        }
        return out;
      }
      case 'list':
        if (!Array.isArray(v)) throw this.bad(path, 'must be a list');
        return v.map((e, i) => this.check(spec.of, e, [...path, i]));
    }
  }

  private crossCheck(c: ServiceConfig): void {
    c.instances.forEach((inst, i) => {
      const first = c.instances.findIndex((o) => o.id === inst.id);
      if (first < i) {
        throw this.bad(
          ['instances', i, 'id'],
          `duplicate id ${inst.id} (also instances[${first}])`,
        );
      }
      if (!c.regions.some((r) => r.id === inst.region)) {
        throw this.bad(['instances', i, 'region'], `names no configured region`);
      }
      if ((inst.username === undefined) !== (inst.password === undefined)) {
        const [missing, other] =
          inst.username === undefined ? ['username', 'password'] : ['password', 'username'];
        throw this.bad(['instances', i, missing], `is required when ${other} is set`);
      }
    });
    c.regions.forEach((r, i) => {
      const first = c.regions.findIndex((o) => o.id === r.id);
      if (first < i)
        throw this.bad(['regions', i, 'id'], `duplicate id ${r.id} (also regions[${first}])`);
      if ((r.username === undefined) !== (r.password === undefined)) {
        const [missing, other] =
          r.username === undefined ? ['username', 'password'] : ['password', 'username'];
        throw this.bad(['regions', i, missing], `is required when ${other} is set`);
      }
    });
    c.bootstrap?.accessKeys.forEach((k, i, all) => {
      const first = all.findIndex((o) => o.ak === k.ak);
      if (first < i) {
        throw this.bad(
          ['bootstrap', 'accessKeys', i, 'ak'],
          `duplicate (also accessKeys[${first}])`,
        );
      }
    });
  }
}

/** An environment text as the key's type: numbers and booleans, YAML/JSON for maps and lists. */
function coerce(spec: Spec, value: string, name: string): unknown {
  switch (spec.t) {
    case 'int':
      return /^[+-]?\d+$/.test(value.trim()) ? Number(value) : value;
    case 'bool':
      return value === 'true' ? true : value === 'false' ? false : value;
    case 'map':
    case 'list':
      try {
        return parse(value) as unknown;
      } catch (err) {
        throw new FerryError('INVALID_CONFIG', `${name}: not valid YAML/JSON: ${firstLine(err)}`);
      }
    default:
      return value;
  }
}

function deepFreeze<T>(v: T): Readonly<T> {
  if (typeof v === 'object' && v !== null) {
    for (const x of Object.values(v)) deepFreeze(x);
    Object.freeze(v);
  }
  return v;
}

/** Same as loadServiceConfig, from YAML text; `source` names the origin in messages. */
export function parseServiceConfig(
  text: string | undefined,
  source: string,
  opts: ServiceConfigOptions = {},
): Readonly<ServiceConfig> {
  return new Loader(source, opts.env ?? process.env, opts.cwd ?? process.cwd()).run(text);
}

/**
 * Loads, validates, applies FERRY_ env overrides, freezes. file undefined = no config file
 * (pure defaults + env).
 */
export async function loadServiceConfig(
  file: string | undefined,
  opts: ServiceConfigOptions = {},
): Promise<Readonly<ServiceConfig>> {
  if (file === undefined) return parseServiceConfig(undefined, '(defaults)', opts);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new FerryError('INVALID_CONFIG', `${file}: cannot read: ${(err as Error).message}`);
  }
  return parseServiceConfig(text, file, opts);
}
