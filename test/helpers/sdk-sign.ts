// Sends requests signed by the Huawei Cloud SDK's own AK/SK signer (npm
// @huaweicloud/huaweicloud-sdk-core), so tests can alter a request after it was signed.
import { stringify } from 'node:querystring';
import { BasicCredentials } from '@huaweicloud/huaweicloud-sdk-core';
import { AKSKSigner } from '@huaweicloud/huaweicloud-sdk-core/auth/AKSKSigner.js';

/** A request to sign and send. */
export interface SignedFetch {
  method: string;
  /** Path without query, e.g. `/v2/manage/namespaces`. */
  path: string;
  query?: Record<string, string>;
  headers?: Record<string, string>;
  /** JSON body (signed as JSON.stringify of it, as the SDK does). */
  data?: unknown;
  /** `X-Sdk-Date` to sign with (default: now). */
  date?: Date;
  /** Replaces the body after signing (a tampered request). */
  sendBody?: string;
}

function sdkDate(d: Date): string {
  return d
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '');
}

/** Signs with the SDK's signer and sends with fetch; returns status, headers and text. */
export async function signedFetch(
  baseUrl: string,
  keys: { ak: string; sk: string },
  req: SignedFetch,
): Promise<{ status: number; headers: Headers; text: string; json: () => unknown }> {
  const credentials = new BasicCredentials().withAk(keys.ak).withSk(keys.sk);
  const headers: Record<string, string> = { 'content-type': 'application/json', ...req.headers };
  if (req.date) headers['X-Sdk-Date'] = sdkDate(req.date);
  const request = {
    endpoint: `${baseUrl}${req.path}`,
    method: req.method,
    headers,
    queryParams: req.query ?? {},
    data: req.data,
  };
  const signed = {
    ...headers,
    ...(AKSKSigner.sign(request, credentials) as Record<string, string>),
  };
  const qs = stringify(request.queryParams);
  const body = req.sendBody ?? (req.data === undefined ? undefined : JSON.stringify(req.data));
  const res = await fetch(`${baseUrl}${req.path}${qs ? `?${qs}` : ''}`, {
    method: req.method,
    headers: signed,
    body,
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, text, json: () => JSON.parse(text) };
}
