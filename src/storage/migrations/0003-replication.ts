// SWR Enterprise replication (issue 5): replication registries (endpoints) and policies per
// instance, and executions with their tasks (one per repository) and sub-tasks (one per image).
export const name = 'replication';

export const up = `
CREATE TABLE replication_registries (
  id bigserial PRIMARY KEY,
  instance_id text NOT NULL,
  name text NOT NULL,
  description text NOT NULL DEFAULT '',
  type text NOT NULL,
  url text NOT NULL,
  credential_type text NOT NULL DEFAULT 'basic',
  access_key text NOT NULL DEFAULT '',
  -- Sealed with the service's secret key; never returned in clear.
  access_secret_encrypted text NOT NULL DEFAULT '',
  insecure boolean NOT NULL DEFAULT false,
  project_id text,
  region_id text,
  remote_instance_id text,
  dns_conf jsonb,
  status text NOT NULL DEFAULT 'unknown',
  status_reason text,
  checked_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (instance_id, name)
);

CREATE TABLE replication_policies (
  id bigserial PRIMARY KEY,
  instance_id text NOT NULL,
  name text NOT NULL,
  description text NOT NULL DEFAULT '',
  src_registry_id bigint REFERENCES replication_registries(id),
  dest_registry_id bigint REFERENCES replication_registries(id),
  dest_namespace text NOT NULL DEFAULT '',
  dest_namespace_replace_count integer NOT NULL DEFAULT 1,
  filters jsonb NOT NULL,
  repo_scope_mode text NOT NULL,
  trigger_type text NOT NULL,
  trigger_cron text,
  override boolean NOT NULL DEFAULT false,
  enabled boolean NOT NULL DEFAULT false,
  speed_kbps integer,
  platforms jsonb,
  referrers boolean NOT NULL DEFAULT false,
  replicate_deletion boolean NOT NULL DEFAULT false,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (instance_id, name),
  CHECK ((src_registry_id IS NULL) <> (dest_registry_id IS NULL))
);

CREATE TABLE replication_executions (
  id bigserial PRIMARY KEY,
  policy_id bigint NOT NULL REFERENCES replication_policies(id) ON DELETE CASCADE,
  instance_id text NOT NULL,
  status text NOT NULL,
  status_text text NOT NULL DEFAULT '',
  trigger text NOT NULL,
  -- For an event-based run: only this repository and tag (or a deletion of them).
  event_repository text,
  event_tag text,
  event_action text,
  stop_requested boolean NOT NULL DEFAULT false,
  start_time timestamptz,
  end_time timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX replication_executions_policy ON replication_executions (policy_id, id);

CREATE TABLE replication_tasks (
  id bigserial PRIMARY KEY,
  execution_id bigint NOT NULL REFERENCES replication_executions(id) ON DELETE CASCADE,
  resource_type text NOT NULL DEFAULT 'image',
  src_resource text NOT NULL,
  dst_resource text NOT NULL,
  operation text NOT NULL,
  job_id text NOT NULL DEFAULT '',
  status text NOT NULL,
  status_revision integer NOT NULL DEFAULT 0,
  bytes_done bigint NOT NULL DEFAULT 0,
  bytes_total bigint NOT NULL DEFAULT 0,
  log text NOT NULL DEFAULT '',
  start_time timestamptz,
  end_time timestamptz
);
CREATE INDEX replication_tasks_execution ON replication_tasks (execution_id, id);

CREATE TABLE replication_subtasks (
  id bigserial PRIMARY KEY,
  task_id bigint NOT NULL REFERENCES replication_tasks(id) ON DELETE CASCADE,
  namespace text NOT NULL,
  repository text NOT NULL,
  tag text NOT NULL,
  digest text NOT NULL DEFAULT '',
  status text NOT NULL,
  status_text text NOT NULL DEFAULT '',
  bytes_done bigint NOT NULL DEFAULT 0,
  start_time timestamptz,
  end_time timestamptz
);
CREATE INDEX replication_subtasks_task ON replication_subtasks (task_id, id);
`;
