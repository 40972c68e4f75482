// Domains, users, projects, tokens and access keys (IAM), namespaces, auto-sync rules and
// sync jobs (SWR basic). Ids that clients see as strings are 32 hex characters, as IAM's are.
export const name = 'iam-and-sync';

export const up = `
CREATE TABLE domains (
  id text PRIMARY KEY,
  name text NOT NULL UNIQUE,
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE users (
  id text PRIMARY KEY,
  domain_id text NOT NULL REFERENCES domains(id) ON DELETE CASCADE,
  name text NOT NULL,
  password_hash text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (domain_id, name)
);

-- One project per region in every domain, named by the region id (Huawei's convention).
CREATE TABLE projects (
  id text PRIMARY KEY,
  domain_id text NOT NULL REFERENCES domains(id) ON DELETE CASCADE,
  name text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (domain_id, name)
);

-- Only the sha256 of a token is stored: a database dump cannot be replayed as tokens.
CREATE TABLE tokens (
  hash text PRIMARY KEY,
  user_id text NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  project_id text REFERENCES projects(id) ON DELETE CASCADE,
  issued_at timestamptz NOT NULL,
  expires_at timestamptz NOT NULL
);
CREATE INDEX tokens_expires_at ON tokens (expires_at);

-- The secret key is needed in clear to verify signatures, so it is encrypted, not hashed.
CREATE TABLE access_keys (
  ak text PRIMARY KEY,
  user_id text NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  sk_encrypted text NOT NULL,
  description text NOT NULL DEFAULT '',
  created_at timestamptz NOT NULL DEFAULT now()
);

-- A namespace (organization) exists per region and belongs to one domain.
CREATE TABLE namespaces (
  id bigserial PRIMARY KEY,
  region_id text NOT NULL,
  name text NOT NULL,
  domain_id text NOT NULL REFERENCES domains(id) ON DELETE CASCADE,
  creator_name text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (region_id, name)
);

CREATE TABLE sync_rules (
  id bigserial PRIMARY KEY,
  domain_id text NOT NULL REFERENCES domains(id) ON DELETE CASCADE,
  region_id text NOT NULL,
  namespace text NOT NULL,
  repo_name text NOT NULL,
  remote_region_id text NOT NULL,
  remote_namespace text NOT NULL,
  sync_auto boolean NOT NULL,
  override boolean NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (region_id, namespace, repo_name, remote_region_id, remote_namespace)
);

CREATE TABLE sync_jobs (
  id bigserial PRIMARY KEY,
  domain_id text NOT NULL REFERENCES domains(id) ON DELETE CASCADE,
  region_id text NOT NULL,
  namespace text NOT NULL,
  repo_name text NOT NULL,
  tag text NOT NULL,
  remote_region_id text NOT NULL,
  remote_namespace text NOT NULL,
  override boolean NOT NULL,
  status text NOT NULL,
  operator_id text NOT NULL,
  operator_name text NOT NULL,
  attempts integer NOT NULL DEFAULT 0,
  bytes_copied bigint NOT NULL DEFAULT 0,
  digest text,
  error_reason text,
  started_at timestamptz,
  finished_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX sync_jobs_repo ON sync_jobs (region_id, namespace, repo_name, id);
`;
