// The error catalog: every error Ferry reports has one stable code here, with its HTTP
// status, a default message and whether retrying can help. API bodies, CLI messages and
// task failure reasons all come from it; docs/errors.md documents each code (a test checks).

/** One catalog entry. */
export interface ErrorSpec {
  /** HTTP status used when the error reaches an API response. */
  readonly status: number;
  /** Default one-line message. */
  readonly message: string;
  /** True when trying again later may succeed (the transport retries these). */
  readonly temporary: boolean;
  /** The SWR `error_code` an API response carries (huawei-compat.md section 2.1), when fixed. */
  readonly swr?: string;
}

/** Every error code Ferry can report. */
export const ERRORS = {
  /** A reference (`host/repo:tag@digest`, `oci:PATH`) could not be parsed. */
  INVALID_REFERENCE: { status: 400, message: 'invalid image reference', temporary: false },
  /** A command-line argument or option is wrong. */
  INVALID_ARGUMENT: { status: 400, message: 'invalid argument', temporary: false },
  /** A configuration file or key is wrong. */
  INVALID_CONFIG: { status: 400, message: 'invalid configuration', temporary: false },
  /** Bytes received do not hash to the digest that named them. */
  DIGEST_MISMATCH: { status: 502, message: 'content does not match its digest', temporary: false },
  /** Bytes received are longer or shorter than the descriptor's size. */
  SIZE_MISMATCH: { status: 502, message: 'content does not match its size', temporary: false },
  /** A manifest could not be parsed or has an unknown media type. */
  MANIFEST_INVALID: { status: 502, message: 'invalid manifest', temporary: false },
  /** The registry has no such manifest (tag or digest). */
  MANIFEST_UNKNOWN: { status: 404, message: 'manifest unknown', temporary: false },
  /** The registry has no such blob. */
  BLOB_UNKNOWN: { status: 404, message: 'blob unknown', temporary: false },
  /** The registry has no such repository. */
  NAME_UNKNOWN: { status: 404, message: 'repository name unknown', temporary: false },
  /** The registry refused the credentials, or none were given where they are needed. */
  UNAUTHORIZED: { status: 401, message: 'authentication required or refused', temporary: false },
  /** The credentials are valid but lack the permission. */
  DENIED: { status: 403, message: 'access denied', temporary: false },
  /** The registry does not support the operation (e.g. catalog, delete, referrers). */
  UNSUPPORTED: {
    status: 405,
    message: 'operation not supported by the registry',
    temporary: false,
  },
  /** The registry rejected a request as malformed (4xx other than the above). */
  REGISTRY_REJECTED: {
    status: 502,
    message: 'the registry rejected the request',
    temporary: false,
  },
  /** The registry asked us to slow down (429). */
  TOO_MANY_REQUESTS: { status: 503, message: 'the registry is rate limiting', temporary: true },
  /** The registry answered 5xx or 408. */
  REGISTRY_UNAVAILABLE: { status: 503, message: 'the registry is unavailable', temporary: true },
  /** The connection failed, was reset or closed early. */
  CONNECTION_FAILED: { status: 503, message: 'connection to the registry failed', temporary: true },
  /** The registry accepted the connection and stopped answering. */
  TIMEOUT: { status: 504, message: 'the registry did not answer in time', temporary: true },
  /** The target tag holds another image and override is off. */
  TAG_CONFLICT: { status: 409, message: 'target tag holds a different image', temporary: false },
  /** The copy was cancelled. */
  CANCELLED: { status: 499, message: 'cancelled', temporary: false },
  /** A file or folder (OCI layout, config) could not be read or written. */
  IO_ERROR: { status: 500, message: 'file system error', temporary: false },
  /** A request to Ferry's API has a malformed body, parameter or filter. */
  BAD_REQUEST: {
    status: 400,
    message: 'invalid request',
    temporary: false,
    swr: 'SVCSTG.SWR.4000014',
  },
  /** An API request has no valid token or signature. */
  UNAUTHENTICATED: {
    status: 401,
    message: 'authentication failed',
    temporary: false,
    swr: 'SVCSTG.SWR.4010000',
  },
  /** The caller is authenticated but may not touch this resource. */
  FORBIDDEN: {
    status: 403,
    message: 'insufficient permissions',
    temporary: false,
    swr: 'SVCSTG.SWR.4030170',
  },
  /** No such API route or resource (a sync rule, a job). */
  NOT_FOUND: { status: 404, message: 'not found', temporary: false, swr: 'SVCSTG.SWR.4040004' },
  /** The namespace (organization) does not exist in the region, or is another domain's. */
  NAMESPACE_NOT_FOUND: {
    status: 404,
    message: 'organization not found',
    temporary: false,
    swr: 'SVCSTG.SWR.4040058',
  },
  /** The repository does not exist in the region's registry. */
  REPOSITORY_NOT_FOUND: {
    status: 404,
    message: 'image not found',
    temporary: false,
    swr: 'SVCSTG.SWR.4040010',
  },
  /** The tag does not exist in the repository. */
  TAG_NOT_FOUND: {
    status: 404,
    message: 'image tag not found',
    temporary: false,
    swr: 'SVCSTG.SWR.4040048',
  },
  /** The namespace name is taken in this region. */
  NAMESPACE_EXISTS: {
    status: 409,
    message: 'organization already exists',
    temporary: false,
    swr: 'SVCSTG.SWR.4090060',
  },
  /** The resource (an auto-sync rule) already exists. */
  ALREADY_EXISTS: {
    status: 409,
    message: 'already exists',
    temporary: false,
    swr: 'SVCSTG.SWR.4090006',
  },
  /** The namespace still holds repositories. */
  NAMESPACE_NOT_EMPTY: {
    status: 406,
    message: 'organization not empty, cannot delete',
    temporary: false,
    swr: 'SVCSTG.SWR.4060074',
  },
  /** The resource is in use (a replication registry a policy uses). */
  RESOURCE_IN_USE: {
    status: 409,
    message: 'the resource is in use',
    temporary: false,
    swr: 'SVCSTG.SWR.4090101',
  },
  /** The operation is not allowed in the resource's state (executing a disabled policy). */
  PRECONDITION_FAILED: {
    status: 412,
    message: 'the resource is not in a state that allows this',
    temporary: false,
    swr: 'SVCSTG.SWR.4120001',
  },
  /** Something Ferry did not expect; a bug. */
  INTERNAL: { status: 500, message: 'internal error', temporary: false },
} as const satisfies Record<string, ErrorSpec>;

/** A code from the catalog. */
export type ErrorCode = keyof typeof ERRORS;

/** An error with a catalog code; `temporary` tells retry logic whether to try again. */
export class FerryError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly temporary: boolean;
  /** Seconds the server asked us to wait (Retry-After), when it said. */
  readonly retryAfter: number | undefined;
  /**
   * Set by the registry transport on a temporary failure it already retried as often as it
   * may: a caller retrying in the same moment would only multiply the attempts. Retrying
   * much later (a job's next attempt) is another matter.
   */
  retriedToLimit = false;

  constructor(
    code: ErrorCode,
    message?: string,
    options: { cause?: unknown; retryAfter?: number; temporary?: boolean } = {},
  ) {
    const spec: ErrorSpec = ERRORS[code];
    super(message ?? spec.message, options.cause === undefined ? {} : { cause: options.cause });
    this.name = 'FerryError';
    this.code = code;
    this.status = spec.status;
    this.temporary = options.temporary ?? spec.temporary;
    this.retryAfter = options.retryAfter;
  }
}

/** Whether `err` is a FerryError, optionally with the given code. */
export function isFerryError(err: unknown, code?: ErrorCode): err is FerryError {
  return err instanceof FerryError && (code === undefined || err.code === code);
}

/** Wraps anything thrown into a FerryError, keeping FerryErrors as they are. */
export function toFerryError(err: unknown): FerryError {
  if (err instanceof FerryError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new FerryError('INTERNAL', message, { cause: err });
}

/** One line for people: `CODE: message`. */
export function describeError(err: unknown): string {
  const e = toFerryError(err);
  return `${e.code}: ${e.message}`;
}
