// The configured SWR Enterprise instances, each an OCI registry owned by one domain's project
// in one region, with a long-lived registry client each.
import { readFileSync } from 'node:fs';
import type { InstanceConfig } from '../config/service-config.js';
import { FerryError } from '../errors/catalog.js';
import { HttpRegistry } from '../registry/http/registry.js';
import type { RegistryBackend } from '../registry/types.js';

/** One instance. */
export interface Instance {
  config: InstanceConfig;
  /** `host[:port]` of its registry. */
  host: string;
  registry: RegistryBackend;
}

/** The instances by id. */
export class Instances {
  private readonly byId = new Map<string, Instance>();

  constructor(configs: readonly InstanceConfig[]) {
    for (const c of configs) {
      const url = new URL(c.url);
      let ca: Buffer | undefined;
      if (c.ca) {
        try {
          ca = readFileSync(c.ca);
        } catch (err) {
          throw new FerryError('INVALID_CONFIG', `instances: ${c.id}: ca: cannot read ${c.ca}`, {
            cause: err,
          });
        }
      }
      this.byId.set(c.id, {
        config: c,
        host: url.host,
        registry: new HttpRegistry({
          host: url.host,
          insecure: url.protocol === 'http:',
          username: c.username,
          password: c.password,
          ca,
        }),
      });
    }
  }

  /** Every instance. */
  all(): Instance[] {
    return [...this.byId.values()];
  }

  /** An instance by id, if configured. */
  find(id: string): Instance | undefined {
    return this.byId.get(id);
  }

  /** Closes every instance's connections. */
  async close(): Promise<void> {
    await Promise.all(this.all().map((i) => i.registry.close()));
  }
}
