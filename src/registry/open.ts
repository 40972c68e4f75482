// Opens the backend an endpoint names: an HTTP registry or an OCI layout folder.
import { HttpRegistry } from './http/registry.js';
import type { RegistryOptions } from './options.js';
import type { Endpoint } from './reference.js';
import type { RegistryBackend } from './types.js';

/** Opens the registry or layout of an endpoint; `create` makes a missing layout folder. */
export async function openBackend(
  endpoint: Endpoint,
  options: Omit<RegistryOptions, 'host'>,
  create = false,
): Promise<RegistryBackend> {
  if (endpoint.scheme === 'oci') {
    // Loaded only when a layout is named: most copies are registry to registry.
    const { OciLayout } = await import('./ocidir/layout.js');
    return new OciLayout(endpoint.registry, { create });
  }
  return new HttpRegistry({ ...options, host: endpoint.registry });
}
