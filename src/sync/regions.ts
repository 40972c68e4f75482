// The configured regions, each one OCI registry, with a long-lived client per region so
// connections are reused across API calls and sync jobs.
import { readFileSync } from 'node:fs';
import { FerryError } from '../errors/catalog.js';
import { HttpRegistry } from '../registry/http/registry.js';
import type { RegistryBackend } from '../registry/types.js';

/** A region as configured. */
export interface RegionSettings {
  id: string;
  url: string;
  username?: string;
  password?: string;
  /** PEM file of the CA behind an https registry. */
  ca?: string;
}

/** One region: its id, the registry host clients pull from, and Ferry's client for it. */
export interface Region {
  id: string;
  /** `host[:port]` of the registry, used in `path` fields. */
  host: string;
  registry: RegistryBackend;
}

/** The regions by id, in configuration order. */
export class Regions {
  private readonly byId = new Map<string, Region>();

  constructor(settings: readonly RegionSettings[], open = openRegistry) {
    for (const s of settings) {
      const url = new URL(s.url);
      this.byId.set(s.id, { id: s.id, host: url.host, registry: open(s) });
    }
  }

  /** Every region, in configuration order. */
  all(): Region[] {
    return [...this.byId.values()];
  }

  /** The region `id`, or BAD_REQUEST naming the field that named it. */
  get(id: string, field = 'region'): Region {
    const r = this.byId.get(id);
    if (!r) {
      const known = [...this.byId.keys()].join(', ') || 'none configured';
      throw new FerryError(
        'BAD_REQUEST',
        `${field}: unknown region ${JSON.stringify(id)} (known: ${known})`,
      );
    }
    return r;
  }

  /** Whether `id` is a configured region. */
  has(id: string): boolean {
    return this.byId.has(id);
  }

  /** Closes every region's connections. */
  async close(): Promise<void> {
    await Promise.all(this.all().map((r) => r.registry.close()));
  }
}

function readCa(s: RegionSettings): Buffer {
  try {
    return readFileSync(s.ca!);
  } catch (err) {
    throw new FerryError('INVALID_CONFIG', `regions: ${s.id}: ca: cannot read ${s.ca}`, {
      cause: err,
    });
  }
}

function openRegistry(s: RegionSettings): RegistryBackend {
  const url = new URL(s.url);
  return new HttpRegistry({
    host: url.host,
    insecure: url.protocol === 'http:',
    ca: s.ca === undefined ? undefined : readCa(s),
    username: s.username,
    password: s.password,
  });
}
