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
  ferry_migrations: MigrationTable;
}
