// What the inventory needs from a registry, whatever kind it is: every tag (with its digest
// when the registry's listing gives it cheaply), and an OCI registry client to HEAD and read
// manifests and configs. One adapter per registry kind (SWR region, Enterprise instance,
// Harbor, JFrog Artifactory, any OCI registry).
import type { RegistryBackend } from '../../registry/types.js';

/** One tag of one repository, as the inventory lists it. */
export interface TagRef {
  /** The repository path in `registry` (what manifest requests use), e.g. `library/nginx`. */
  repository: string;
  /** The inventory's `namespace` (SWR namespace, Harbor project, Artifactory repository key). */
  namespace: string;
  /** The inventory's `image_name`: the repository without its namespace. */
  imageName: string;
  tag: string;
  /** The tag's top-level digest when the listing API gave it (Harbor), else undefined. */
  digest?: string;
  /** When the tag was pushed, when the registry says (Harbor's push_time). */
  pushedAt?: Date;
}

/** A registry to inventory. */
export interface InventoryAdapter {
  /** Every tag of every repository in scope. Throws a FerryError naming what failed. */
  listTags(signal?: AbortSignal): Promise<TagRef[]>;
  /** The OCI client for manifests and configs of the listed repositories. */
  readonly registry: RegistryBackend;
  /** Releases connections. */
  close(): Promise<void>;
}
