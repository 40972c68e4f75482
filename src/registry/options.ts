// Options for an HTTP registry connection. Defaults live in http/transport.ts, each with its reason.

/** Retry policy for temporary failures (connection errors, 408, 429, 5xx). */
export interface RetryOptions {
  /** Total attempts including the first. */
  attempts?: number;
  /** First backoff delay; doubles each attempt, with jitter. */
  baseDelayMs?: number;
  /** Cap on one backoff delay (and on a Retry-After we honour). */
  maxDelayMs?: number;
}

/** How to reach and authenticate to one registry. */
export interface RegistryOptions {
  /** `host[:port]`; `docker.io` is served by `registry-1.docker.io`. */
  host: string;
  /** Plain HTTP. Automatic for `localhost` and 127.0.0.0/8. */
  insecure?: boolean;
  /** Extra PEM CA certificate(s) to trust for HTTPS. */
  ca?: string | Buffer;
  /**
   * Check the HTTPS server's certificate (default true). False accepts any certificate:
   * what SWR Enterprise and Harbor mean by a replication registry's `insecure: true`.
   */
  tlsVerify?: boolean;
  username?: string;
  password?: string;
  /** A bearer token to send as is (registry tokens, PATs). */
  token?: string;
  /** Requests in flight to this registry at once. */
  maxConcurrency?: number;
  retry?: RetryOptions;
  /** Time to establish a connection. */
  connectTimeoutMs?: number;
  /** Time without any byte from the server (headers or body) before giving up. */
  idleTimeoutMs?: number;
  /** Called once per HTTP request sent, after its response status is known (metrics, tests). */
  onRequest?: (event: { method: string; url: string; status: number }) => void;
}
