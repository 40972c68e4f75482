// Opens the backend an endpoint names: an HTTP registry or an OCI layout folder.
import { HttpRegistry } from './http/registry.js';
import { OciLayout } from './ocidir/layout.js';
import type { RegistryOptions } from './options.js';
import type { Endpoint } from './reference.js';
import type { RegistryBackend } from './types.js';

/** Opens the registry or layout of an endpoint; `create` makes a missing layout folder. */
export function openBackend(
  endpoint: Endpoint,
  options: Omit<RegistryOptions, 'host'>,
  create = false,
): RegistryBackend {
  if (endpoint.scheme === 'oci') return new OciLayout(endpoint.registry, { create });
  return new HttpRegistry({ ...options, host: endpoint.registry });
}
