// HSS image inventory (issue 6): repository sharing between domains (SWR access-domains),
// third-party registries, sync tasks with their registries, and one row per image tag.
export const name = 'inventory';

export const up = `
-- SWR repository sharing: a repository of one domain readable by another domain.
CREATE TABLE repository_shares (
  id bigserial PRIMARY KEY,
  region_id text NOT NULL,
  namespace text NOT NULL,
  repository text NOT NULL,
  owner_domain_id text NOT NULL REFERENCES domains(id) ON DELETE CASCADE,
  access_domain text NOT NULL,
  permit text NOT NULL DEFAULT 'read',
  deadline text NOT NULL DEFAULT 'forever',
  description text NOT NULL DEFAULT '',
  creator_id text NOT NULL DEFAULT '',
  creator_name text NOT NULL DEFAULT '',
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (region_id, namespace, repository, access_domain)
);
CREATE INDEX repository_shares_access ON repository_shares (access_domain, region_id);

-- Third-party registries added through HSS (Harbor, Jfrog, Other).
CREATE TABLE inventory_registries (
  id text PRIMARY KEY,
  domain_id text NOT NULL REFERENCES domains(id) ON DELETE CASCADE,
  project_id text NOT NULL,
  registry_name text NOT NULL,
  registry_type text NOT NULL,
  api_version text NOT NULL DEFAULT 'V2',
  protocol text NOT NULL,
  registry_addr text NOT NULL,
  registry_username text NOT NULL DEFAULT '',
  password_encrypted text NOT NULL DEFAULT '',
  namespace text NOT NULL DEFAULT '',
  connect_cluster_id text NOT NULL DEFAULT '',
  get_scan_image_channel text NOT NULL DEFAULT 'Swr',
  status text NOT NULL DEFAULT 'accessing',
  fail_reason text NOT NULL DEFAULT '',
  fail_detail text NOT NULL DEFAULT '',
  images_num integer NOT NULL DEFAULT 0,
  latest_sync_time timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (project_id, registry_name)
);

CREATE TABLE inventory_tasks (
  id text PRIMARY KEY,
  domain_id text NOT NULL REFERENCES domains(id) ON DELETE CASCADE,
  project_id text NOT NULL,
  task_name text NOT NULL,
  task_type text NOT NULL,
  -- The scope of a running task, so the same scope is not synced twice at once.
  scope_key text NOT NULL,
  task_status integer NOT NULL DEFAULT 0,
  total_num integer NOT NULL DEFAULT 0,
  success_num integer NOT NULL DEFAULT 0,
  failed_num integer NOT NULL DEFAULT 0,
  failed_reason text NOT NULL DEFAULT '',
  failed_images jsonb NOT NULL DEFAULT '[]',
  begin_time timestamptz NOT NULL DEFAULT now(),
  end_time timestamptz
);
CREATE UNIQUE INDEX inventory_tasks_running ON inventory_tasks (project_id, scope_key)
  WHERE task_status >= 0 AND task_status < 100;
CREATE INDEX inventory_tasks_project ON inventory_tasks (project_id, begin_time DESC);

CREATE TABLE inventory_task_registries (
  task_id text NOT NULL REFERENCES inventory_tasks(id) ON DELETE CASCADE,
  registry_id text NOT NULL,
  registry_name text NOT NULL,
  registry_type text NOT NULL,
  sync_status text NOT NULL DEFAULT 'running',
  failed_reason text NOT NULL DEFAULT '',
  PRIMARY KEY (task_id, registry_type, registry_id)
);

-- One row per tag of every registry the domain's project syncs.
CREATE TABLE inventory_images (
  id bigserial PRIMARY KEY,
  project_id text NOT NULL,
  registry_type text NOT NULL,
  registry_id text NOT NULL,
  registry_name text NOT NULL,
  image_type text NOT NULL,
  namespace text NOT NULL,
  image_name text NOT NULL,
  image_version text NOT NULL,
  image_digest text NOT NULL,
  image_id text NOT NULL DEFAULT '',
  image_size bigint NOT NULL DEFAULT 0,
  is_multiple_arch boolean NOT NULL DEFAULT false,
  latest_version boolean NOT NULL DEFAULT false,
  domain_name text NOT NULL DEFAULT '',
  shared_status text NOT NULL DEFAULT '',
  instance_id text NOT NULL DEFAULT '',
  instance_name text NOT NULL DEFAULT '',
  instance_url text NOT NULL DEFAULT '',
  latest_update_time timestamptz,
  latest_sync_time timestamptz NOT NULL DEFAULT now(),
  UNIQUE (project_id, registry_type, registry_id, namespace, image_name, image_version)
);
CREATE INDEX inventory_images_sync ON inventory_images (project_id, latest_sync_time DESC, id);
CREATE INDEX inventory_images_update ON inventory_images (project_id, latest_update_time DESC, id);
CREATE INDEX inventory_images_type ON inventory_images (project_id, image_type, id);
CREATE INDEX inventory_images_name ON inventory_images (project_id, image_name, id);
CREATE INDEX inventory_images_ns ON inventory_images (project_id, namespace, id);
`;
