// Starts a real CNCF distribution registry (Debian's `docker-registry`) on loopback with its
// own storage folder and port, for one test file. The launcher itself is shared with
// `ferry demo` and the benchmark (src/cli/local-registry.ts).
import {
  freePort,
  startLocalRegistry,
  type LocalRegistry,
  type LocalRegistryOptions,
} from '../../src/cli/local-registry.js';

/** A running registry. */
export type TestRegistry = LocalRegistry;

/** Options: `auth`, `tls` and `extra` are merged into the registry's config as given. */
export type TestRegistryOptions = Omit<LocalRegistryOptions, 'dir'>;

export { freePort };

/** Starts a registry in a new temporary folder; `stop()` ends it and removes the folder. */
export function startRegistry(options: TestRegistryOptions = {}): Promise<TestRegistry> {
  return startLocalRegistry(options);
}
