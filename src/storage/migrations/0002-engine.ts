// The job engine (issue 4): registry push events, the processes that run workers (for
// crash detection), scheduler ticks claimed once across processes, and the auto-sync link
// of sync jobs (which rule and source digest started them, for deduplication).
export const name = 'engine';

export const up = `
ALTER TABLE sync_jobs ADD COLUMN rule_id bigint REFERENCES sync_rules(id) ON DELETE SET NULL;
ALTER TABLE sync_jobs ADD COLUMN src_digest text;
ALTER TABLE sync_jobs ADD COLUMN next_attempt_at timestamptz;
-- One auto-sync job per rule, tag and source digest, however many events announce it.
CREATE UNIQUE INDEX sync_jobs_auto_dedup ON sync_jobs (rule_id, tag, src_digest)
  WHERE rule_id IS NOT NULL AND src_digest IS NOT NULL;
CREATE INDEX sync_jobs_unfinished ON sync_jobs (status) WHERE status IN ('waiting', 'running');

-- Stored before the registry gets its 2xx; processed by a job.
CREATE TABLE registry_events (
  id bigserial PRIMARY KEY,
  source_kind text NOT NULL,
  source_id text NOT NULL,
  event_id text NOT NULL,
  action text NOT NULL,
  repository text NOT NULL,
  tag text,
  digest text,
  media_type text,
  payload jsonb NOT NULL,
  received_at timestamptz NOT NULL DEFAULT now(),
  processed_at timestamptz,
  UNIQUE (source_kind, source_id, event_id)
);

-- Every process that runs workers, with a heartbeat: a process whose heartbeat stops (or
-- whose pid is gone on this host) is dead, and its workers' jobs are unlocked for others.
CREATE TABLE ferry_processes (
  id text PRIMARY KEY,
  host text NOT NULL,
  pid integer NOT NULL,
  kind text NOT NULL,
  worker_ids text[] NOT NULL DEFAULT '{}',
  started_at timestamptz NOT NULL DEFAULT now(),
  heartbeat_at timestamptz NOT NULL DEFAULT now()
);

-- A schedule tick is fired by the process that inserts its row first.
CREATE TABLE schedule_ticks (
  name text NOT NULL,
  tick_at timestamptz NOT NULL,
  process_id text NOT NULL,
  PRIMARY KEY (name, tick_at)
);
`;
