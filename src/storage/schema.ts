// Table types for Kysely: one interface per table, mirroring migrations/.
import type { ColumnType, Generated } from 'kysely';

type Timestamp = ColumnType<Date, Date | string | undefined, Date | string>;

export interface DomainTable {
  id: string;
  name: string;
  created_at: Timestamp;
}

export interface UserTable {
  id: string;
  domain_id: string;
  name: string;
  password_hash: string;
  created_at: Timestamp;
}

export interface ProjectTable {
  id: string;
  domain_id: string;
  name: string;
  created_at: Timestamp;
}

export interface TokenTable {
  hash: string;
  user_id: string;
  project_id: string | null;
  issued_at: Timestamp;
  expires_at: Timestamp;
}

export interface AccessKeyTable {
  ak: string;
  user_id: string;
  sk_encrypted: string;
  description: Generated<string>;
  created_at: Timestamp;
}

export interface NamespaceTable {
  id: Generated<string>;
  region_id: string;
  name: string;
  domain_id: string;
  creator_name: string;
  created_at: Timestamp;
}

export interface SyncRuleTable {
  id: Generated<string>;
  domain_id: string;
  region_id: string;
  namespace: string;
  repo_name: string;
  remote_region_id: string;
  remote_namespace: string;
  sync_auto: boolean;
  override: boolean;
  created_at: Timestamp;
  updated_at: Timestamp;
}

/** Sync job statuses, as SWR documents them (section 3.5). */
export type SyncJobStatus =
  'waiting' | 'running' | 'success' | 'failed' | 'timeout' | 'cancel' | 'existed';

export interface SyncJobTable {
  id: Generated<string>;
  domain_id: string;
  region_id: string;
  namespace: string;
  repo_name: string;
  tag: string;
  remote_region_id: string;
  remote_namespace: string;
  override: boolean;
  status: SyncJobStatus;
  operator_id: string;
  operator_name: string;
  attempts: Generated<number>;
  bytes_copied: ColumnType<string, number | undefined, number>;
  digest: string | null;
  error_reason: string | null;
  started_at: ColumnType<Date | null, Date | null | undefined, Date | null>;
  finished_at: ColumnType<Date | null, Date | null | undefined, Date | null>;
  created_at: Timestamp;
  updated_at: Timestamp;
  rule_id: string | null;
  src_digest: string | null;
  next_attempt_at: ColumnType<Date | null, Date | null | undefined, Date | null>;
}

export interface RegistryEventTable {
  id: Generated<string>;
  /** `region` (SWR) or `instance` (Enterprise). */
  source_kind: string;
  source_id: string;
  event_id: string;
  action: string;
  repository: string;
  tag: string | null;
  digest: string | null;
  media_type: string | null;
  payload: unknown;
  received_at: Timestamp;
  processed_at: ColumnType<Date | null, Date | null | undefined, Date | null>;
}

export interface ProcessTable {
  id: string;
  host: string;
  pid: number;
  kind: string;
  worker_ids: ColumnType<string[], string[] | undefined, string[]>;
  started_at: Timestamp;
  heartbeat_at: Timestamp;
}

export interface ScheduleTickTable {
  name: string;
  tick_at: Timestamp;
  process_id: string;
}

type MaybeDate = ColumnType<Date | null, Date | null | undefined, Date | null>;

export interface ReplicationRegistryTable {
  id: Generated<string>;
  instance_id: string;
  name: string;
  description: Generated<string>;
  type: string;
  url: string;
  credential_type: Generated<string>;
  access_key: Generated<string>;
  access_secret_encrypted: Generated<string>;
  insecure: Generated<boolean>;
  project_id: string | null;
  region_id: string | null;
  remote_instance_id: string | null;
  dns_conf: unknown;
  status: Generated<string>;
  status_reason: string | null;
  checked_at: MaybeDate;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface ReplicationPolicyTable {
  id: Generated<string>;
  instance_id: string;
  name: string;
  description: Generated<string>;
  src_registry_id: string | null;
  dest_registry_id: string | null;
  dest_namespace: Generated<string>;
  dest_namespace_replace_count: Generated<number>;
  filters: unknown;
  repo_scope_mode: string;
  trigger_type: string;
  trigger_cron: string | null;
  override: Generated<boolean>;
  enabled: Generated<boolean>;
  speed_kbps: number | null;
  platforms: unknown;
  referrers: Generated<boolean>;
  replicate_deletion: Generated<boolean>;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface ReplicationExecutionTable {
  id: Generated<string>;
  policy_id: string;
  instance_id: string;
  status: string;
  status_text: Generated<string>;
  trigger: string;
  event_repository: string | null;
  event_tag: string | null;
  event_action: string | null;
  stop_requested: Generated<boolean>;
  start_time: MaybeDate;
  end_time: MaybeDate;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface ReplicationTaskTable {
  id: Generated<string>;
  execution_id: string;
  resource_type: Generated<string>;
  src_resource: string;
  dst_resource: string;
  operation: string;
  job_id: Generated<string>;
  status: string;
  status_revision: Generated<number>;
  bytes_done: ColumnType<string, number | undefined, number>;
  bytes_total: ColumnType<string, number | undefined, number>;
  log: Generated<string>;
  start_time: MaybeDate;
  end_time: MaybeDate;
}

export interface ReplicationSubtaskTable {
  id: Generated<string>;
  task_id: string;
  namespace: string;
  repository: string;
  tag: string;
  digest: Generated<string>;
  status: string;
  status_text: Generated<string>;
  bytes_done: ColumnType<string, number | undefined, number>;
  start_time: MaybeDate;
  end_time: MaybeDate;
}

export interface RepositoryShareTable {
  id: Generated<string>;
  region_id: string;
  namespace: string;
  repository: string;
  owner_domain_id: string;
  access_domain: string;
  permit: Generated<string>;
  deadline: Generated<string>;
  description: Generated<string>;
  creator_id: Generated<string>;
  creator_name: Generated<string>;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface InventoryRegistryTable {
  id: string;
  domain_id: string;
  project_id: string;
  registry_name: string;
  registry_type: string;
  api_version: Generated<string>;
  protocol: string;
  registry_addr: string;
  registry_username: Generated<string>;
  password_encrypted: Generated<string>;
  namespace: Generated<string>;
  connect_cluster_id: Generated<string>;
  get_scan_image_channel: Generated<string>;
  status: Generated<string>;
  fail_reason: Generated<string>;
  fail_detail: Generated<string>;
  images_num: Generated<number>;
  latest_sync_time: MaybeDate;
  created_at: Timestamp;
}

export interface InventoryTaskTable {
  id: string;
  domain_id: string;
  project_id: string;
  task_name: string;
  task_type: string;
  scope_key: string;
  task_status: Generated<number>;
  total_num: Generated<number>;
  success_num: Generated<number>;
  failed_num: Generated<number>;
  failed_reason: Generated<string>;
  failed_images: ColumnType<unknown, string | undefined, string>;
  begin_time: Timestamp;
  end_time: MaybeDate;
}

export interface InventoryTaskRegistryTable {
  task_id: string;
  registry_id: string;
  registry_name: string;
  registry_type: string;
  sync_status: Generated<string>;
  failed_reason: Generated<string>;
}

/** Raised by triggers on every write to a project's inventory_images (migration 0006). */
export interface InventoryGenerationTable {
  project_id: string;
  /** bigint, as a string. */
  generation: string;
}

export interface InventoryImageTable {
  id: Generated<string>;
  project_id: string;
  registry_type: string;
  registry_id: string;
  registry_name: string;
  image_type: string;
  namespace: string;
  image_name: string;
  image_version: string;
  image_digest: string;
  image_id: Generated<string>;
  image_size: ColumnType<string, number | undefined, number>;
  is_multiple_arch: Generated<boolean>;
  latest_version: Generated<boolean>;
  domain_name: Generated<string>;
  shared_status: Generated<string>;
  instance_id: Generated<string>;
  instance_name: Generated<string>;
  instance_url: Generated<string>;
  latest_update_time: MaybeDate;
  latest_sync_time: Timestamp;
}

export interface MigrationTable {
  version: number;
  name: string;
  applied_at: Timestamp;
}

/** The whole database, for `Kysely<Database>`. */
export interface Database {
  domains: DomainTable;
  users: UserTable;
  projects: ProjectTable;
  tokens: TokenTable;
  access_keys: AccessKeyTable;
  namespaces: NamespaceTable;
  sync_rules: SyncRuleTable;
  sync_jobs: SyncJobTable;
  registry_events: RegistryEventTable;
  ferry_processes: ProcessTable;
  schedule_ticks: ScheduleTickTable;
  replication_registries: ReplicationRegistryTable;
  replication_policies: ReplicationPolicyTable;
  replication_executions: ReplicationExecutionTable;
  replication_tasks: ReplicationTaskTable;
  replication_subtasks: ReplicationSubtaskTable;
  repository_shares: RepositoryShareTable;
  inventory_registries: InventoryRegistryTable;
  inventory_tasks: InventoryTaskTable;
  inventory_task_registries: InventoryTaskRegistryTable;
  inventory_images: InventoryImageTable;
  inventory_generations: InventoryGenerationTable;
  ferry_migrations: MigrationTable;
}
