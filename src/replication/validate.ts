// Checks of SWR Enterprise request bodies (huawei-compat.md 4.1, 4.2): every problem is a
// BAD_REQUEST naming the field, so clients see what to fix.
import { FerryError } from '../errors/catalog.js';
import { cronOf } from '../engine/scheduler.js';
import { compileGlob } from './glob.js';

/** Registry types: the documented three, and `docker-registry` (any OCI registry, Ferry's). */
export const REGISTRY_TYPES = ['huawei-SWR', 'swr-pro', 'swr-pro-internal', 'docker-registry'];

type Obj = Record<string, unknown>;

function bad(field: string, why: string): FerryError {
  return new FerryError('BAD_REQUEST', `${field}: ${why}`);
}

function obj(v: unknown, field: string): Obj {
  if (typeof v !== 'object' || v === null || Array.isArray(v))
    throw bad(field, 'must be an object');
  return v as Obj;
}

function str(
  o: Obj,
  k: string,
  opts: { required?: boolean; max?: number } = {},
): string | undefined {
  const v = o[k];
  if (v === undefined || v === null) {
    if (opts.required) throw bad(k, 'is required');
    return undefined;
  }
  if (typeof v !== 'string') throw bad(k, 'must be a string');
  // PostgreSQL text cannot hold NUL; it is never meaningful in a name or URL anyway.
  if (v.includes('\u0000')) throw bad(k, 'must not contain NUL characters');
  if (opts.max !== undefined && v.length > opts.max)
    throw bad(k, `must be at most ${opts.max} characters`);
  return v;
}

function bool(o: Obj, k: string, fallback: boolean): boolean {
  const v = o[k];
  if (v === undefined || v === null) return fallback;
  if (typeof v !== 'boolean') throw bad(k, 'must be true or false');
  return v;
}

function int(o: Obj, k: string, min: number, max: number): number | undefined {
  const v = o[k];
  if (v === undefined || v === null) return undefined;
  if (!Number.isInteger(v) || (v as number) < min || (v as number) > max) {
    throw bad(k, `must be a whole number from ${min} to ${max}`);
  }
  return v as number;
}

// Letters (any script, so Chinese characters too), digits, `-` and `_`.
const NAME = /^[\p{L}\p{N}_-]+$/u;

function name(o: Obj, max: number): string {
  const n = str(o, 'name', { required: true })!;
  if (n.length < 1 || n.length > max || !NAME.test(n)) {
    throw bad('name', `must be 1 to ${max} letters, digits, "-" or "_"`);
  }
  return n;
}

function httpUrl(v: string, field: string): string {
  let u: URL;
  try {
    u = new URL(v);
  } catch {
    throw bad(field, 'must be an http(s) URL');
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw bad(field, 'must be an http(s) URL');
  if (u.username || u.password) throw bad(field, 'must not hold credentials (use credential)');
  return u.origin;
}

/** A checked registry body. */
export interface RegistryInput {
  name: string;
  description: string;
  type: string;
  url: string;
  credential: { type: string; access_key: string; access_secret: string | undefined } | undefined;
  insecure: boolean;
  project_id: string | null;
  region_id: string | null;
  instance_id: string | null;
  dns_conf: unknown;
}

/** Checks a create or update registry body. */
export function registryInput(body: unknown): RegistryInput {
  const o = obj(body, 'body');
  const type = str(o, 'type', { required: true })!;
  if (!REGISTRY_TYPES.includes(type))
    throw bad('type', `must be one of ${REGISTRY_TYPES.join(', ')}`);
  const url = httpUrl(str(o, 'url', { required: true })!, 'url');
  let credential: RegistryInput['credential'];
  if (o.credential !== undefined && o.credential !== null) {
    const c = obj(o.credential, 'credential');
    const ctype = str(c, 'type') ?? 'basic';
    if (ctype !== 'basic') throw bad('credential.type', 'must be basic');
    credential = {
      type: ctype,
      access_key: str(c, 'access_key', { required: true, max: 1024 })!,
      access_secret: str(c, 'access_secret', { max: 4096 }),
    };
  }
  const internal = type === 'swr-pro-internal';
  const ids = {
    project_id: str(o, 'project_id') ?? null,
    region_id: str(o, 'region_id') ?? null,
    instance_id: str(o, 'instance_id') ?? null,
  };
  if (internal) {
    for (const [k, v] of Object.entries(ids))
      if (!v) throw bad(k, 'is required for type swr-pro-internal');
  }
  if (o.dns_conf !== undefined && o.dns_conf !== null) obj(o.dns_conf, 'dns_conf');
  return {
    name: name(o, 64),
    description: str(o, 'description', { max: 1024 }) ?? '',
    type,
    url,
    credential,
    insecure: bool(o, 'insecure', false),
    ...ids,
    dns_conf: o.dns_conf ?? null,
  };
}

/** A checked policy body. */
export interface PolicyInput {
  name: string;
  description: string;
  src_registry_id: string | null;
  dest_registry_id: string | null;
  dest_namespace: string;
  dest_namespace_replace_count: number;
  filters: { type: 'name' | 'tag'; value: string }[];
  repo_scope_mode: string;
  trigger_type: string;
  trigger_cron: string | null;
  override: boolean;
  enabled: boolean;
  speed_kbps: number | null;
  platforms: string[] | null;
  referrers: boolean;
  replicate_deletion: boolean;
}

function registryRef(o: Obj, k: string): string | null {
  const v = o[k];
  if (v === undefined || v === null) return null;
  const r = obj(v, k);
  if (!Number.isSafeInteger(r.id) || (r.id as number) < 1)
    throw bad(`${k}.id`, 'must be a registry id');
  return String(r.id);
}

/** Checks a create or update policy body. */
export function policyInput(body: unknown): PolicyInput {
  const o = obj(body, 'body');
  const src = registryRef(o, 'src_registry');
  const dest = registryRef(o, 'dest_registry');
  if ((src === null) === (dest === null)) {
    throw bad(
      'src_registry/dest_registry',
      'give exactly one: src_registry (pull) or dest_registry (push)',
    );
  }
  if (!Array.isArray(o.filters)) throw bad('filters', 'is required: a list of {type, value}');
  const filters = o.filters.map((f, i) => {
    const fo = obj(f, `filters[${i}]`);
    const type = fo.type;
    if (type !== 'name' && type !== 'tag') throw bad(`filters[${i}].type`, 'must be name or tag');
    const value = str(fo, 'value', { required: true, max: 1024 })!;
    compileGlob(value, `filters[${i}].value`);
    return { type, value } as const;
  });
  const scope = str(o, 'repo_scope_mode') ?? 'regular';
  if (scope !== 'regular' && scope !== 'selection')
    throw bad('repo_scope_mode', 'must be regular or selection');
  let triggerType = 'manual';
  let cron: string | null = null;
  if (o.trigger !== undefined && o.trigger !== null) {
    const t = obj(o.trigger, 'trigger');
    triggerType = str(t, 'type', { required: true })!;
    if (!['manual', 'scheduled', 'event_based'].includes(triggerType)) {
      throw bad('trigger.type', 'must be manual, scheduled or event_based');
    }
    if (triggerType === 'scheduled') {
      const settings = obj(t.trigger_settings ?? {}, 'trigger.trigger_settings');
      cron = str(settings, 'cron') ?? null;
      if (!cron) throw bad('trigger.trigger_settings.cron', 'is required for a scheduled trigger');
      let next: Date | null;
      try {
        next = cronOf(cron).nextRun();
      } catch (err) {
        throw bad('trigger.trigger_settings.cron', (err as Error).message);
      }
      if (!next) throw bad('trigger.trigger_settings.cron', `${JSON.stringify(cron)} never fires`);
    }
  }
  if (triggerType === 'event_based' && src !== null) {
    throw bad(
      'trigger.type',
      'event_based works on pushes to the instance: only for push policies (dest_registry)',
    );
  }
  let platforms: string[] | null = null;
  if (o.platforms !== undefined && o.platforms !== null) {
    if (
      !Array.isArray(o.platforms) ||
      o.platforms.some(
        (p) => typeof p !== 'string' || !/^[a-z0-9]+\/[a-z0-9]+(\/[a-z0-9]+)?$/.test(p),
      )
    ) {
      throw bad('platforms', 'must be a list of os/arch[/variant], e.g. linux/amd64');
    }
    platforms = o.platforms as string[];
  }
  const speed = int(o, 'speed', 0, 10_000_000);
  const replicateDeletion = bool(o, 'replicate_deletion', false);
  if (replicateDeletion && triggerType !== 'event_based') {
    throw bad('replicate_deletion', 'only for event_based policies');
  }
  return {
    name: name(o, 256),
    description: str(o, 'description', { max: 1024 }) ?? '',
    src_registry_id: src,
    dest_registry_id: dest,
    dest_namespace: str(o, 'dest_namespace', { max: 255 }) ?? '',
    dest_namespace_replace_count: int(o, 'dest_namespace_replace_count', -1, 16) ?? 1,
    filters,
    repo_scope_mode: scope,
    trigger_type: triggerType,
    trigger_cron: cron,
    override: bool(o, 'override', false),
    enabled: bool(o, 'enabled', false),
    speed_kbps: speed ? speed : null,
    platforms,
    referrers: bool(o, 'referrers', false),
    replicate_deletion: replicateDeletion,
  };
}

/** SWR-EE paging: limit 1-100 (default 10), offset 0 or a multiple of limit. */
export function eePage(
  query: Record<string, string | undefined>,
  defLimit = 10,
): { offset: number; limit: number } {
  const parse = (k: string, v: string | undefined, d: number, min: number, max: number) => {
    if (v === undefined || v === '') return d;
    if (!/^\d{1,9}$/.test(v) || Number(v) < min || Number(v) > max) {
      throw bad(k, `must be a whole number from ${min} to ${max}`);
    }
    return Number(v);
  };
  const limit = parse('limit', query.limit, defLimit, 1, 100);
  const offset = parse('offset', query.offset, 0, 0, 1e9);
  if (offset % limit !== 0) throw bad('offset', 'must be 0 or a multiple of limit');
  return { offset, limit };
}
