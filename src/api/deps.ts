// What the API's routes need, passed in by the composition root (src/main.ts).
import type { IamService } from '../iam/service.js';
import type { Db } from '../storage/database.js';
import type { Regions } from '../sync/regions.js';
import type { SyncService } from '../sync/service.js';
import type { Metrics } from './metrics.js';
import type { ReplicationService } from '../replication/service.js';
import type { InventoryService } from '../inventory/service.js';
import type { ServiceConfig } from '../config/service-config.js';

/** What the API needs. */
export interface AppDeps {
  db: Db;
  iam: IamService;
  sync: SyncService;
  regions: Regions;
  replication: ReplicationService;
  inventory: InventoryService;
  metrics: Metrics;
  /** For the region event tokens. */
  config: Readonly<ServiceConfig>;
  /** pino options or false. */
  logger?: boolean | Record<string, unknown>;
}
