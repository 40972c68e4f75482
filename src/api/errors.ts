// Error bodies in the two formats clients parse: SWR's (huawei-compat.md 2.1, old and new
// fields together) and IAM's Keystone-style `error` object. Both come from the catalog.
import { ERRORS, FerryError, toFerryError } from '../errors/catalog.js';

/** SWR `error_code` for errors whose catalog entry names none, by HTTP status. */
function swrCodeFor(err: FerryError): string {
  const fixed = (ERRORS[err.code] as { swr?: string }).swr;
  if (fixed) return fixed;
  if (err.status === 400) return 'SVCSTG.SWR.4000014';
  if (err.status === 401) return 'SVCSTG.SWR.4010000';
  if (err.status === 403) return 'SVCSTG.SWR.4030170';
  if (err.status === 404) return 'SVCSTG.SWR.4040004';
  if (err.status === 409) return 'SVCSTG.SWR.4090023';
  // Other 4xx (a registry refusing an operation, 405 for disabled deletes): the request
  // cannot be served as asked, which SWR reports as an invalid parameter.
  if (err.status < 500) return 'SVCSTG.SWR.4000014';
  // A region's registry that fails: "failed to synchronize files" family of 5000xxx codes.
  return 'SVCSTG.SWR.5000001';
}

/** The SWR error body of an error, with the status to send. */
export function swrError(err: unknown): { status: number; body: Record<string, unknown> } {
  const e = toFerryError(err);
  const code = swrCodeFor(e);
  return {
    status: e.status,
    body: {
      errors: [{ errorCode: code, errorMessage: e.message, detail: '' }],
      error_code: code,
      error_msg: e.message,
      details: [{ error_code: code, error_msg: e.message }],
    },
  };
}

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  409: 'Conflict',
};

/** The IAM (Keystone) error body of an error, with the status to send. */
export function iamError(err: unknown): { status: number; body: Record<string, unknown> } {
  const e = toFerryError(err);
  return {
    status: e.status,
    body: {
      error: { code: e.status, title: TITLES[e.status] ?? 'Error', message: e.message },
      error_code: `IAM.${e.code}`,
      error_msg: e.message,
    },
  };
}

/** The SWR Enterprise error body (huawei-compat.md 2.1, 4): the three documented fields. */
export function eeError(err: unknown): { status: number; body: Record<string, unknown> } {
  const e = toFerryError(err);
  const code = swrCodeFor(e);
  return {
    status: e.status,
    body: { error_code: code, error_msg: e.message, encoded_authorization_message: '' },
  };
}

/** The HSS error body: `{error_code: "HSS.xxxx", error_msg}` (huawei-compat.md 2.2). */
export function hssError(err: unknown): { status: number; body: Record<string, unknown> } {
  const e = toFerryError(err);
  const code =
    e.status === 400
      ? e.message.includes('JSON')
        ? 'HSS.0002'
        : 'HSS.0001'
      : e.status === 401 || e.status === 403
        ? e.status === 403
          ? 'HSS.0013'
          : 'HSS.0010'
        : e.status === 404
          ? 'HSS.0011'
          : e.status < 500
            ? 'HSS.0001'
            : 'HSS.0041';
  return { status: e.status, body: { error_code: code, error_msg: e.message } };
}
