// Server-side verification of Huawei Cloud SDK `SDK-HMAC-SHA256` AK/SK signatures: the
// canonical request is rebuilt from the request as received, exactly as the SDK's
// AKSKSigner builds it before sending (../shared/api/huawei-compat.md §1.3, §6).
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { parse as parseQuery } from 'node:querystring';

const ALGORITHM = 'SDK-HMAC-SHA256';
const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
const UNSIGNED_PAYLOAD = 'UNSIGNED-PAYLOAD';
const DEFAULT_MAX_SKEW_MS = 15 * 60 * 1000;

/** The parts of a received request that the signature covers. */
export interface SignedRequest {
  /** e.g. 'POST' */
  method: string;
  /** Path exactly as received, no query, e.g. '/v2/manage/namespaces/ns1/repos/a$b/sync_images'. */
  rawPath: string;
  /** The raw query string after '?', '' if none (still URL-encoded as received). */
  rawQuery: string;
  /** Node's lowercase header map. */
  headers: Record<string, string | string[] | undefined>;
  /** Raw body bytes as received (undefined or empty = empty). */
  body: Buffer | undefined;
}

/** A parsed `Authorization: SDK-HMAC-SHA256 Access=..., SignedHeaders=..., Signature=...` header. */
export interface SignatureHeader {
  accessKey: string;
  signedHeaders: string[];
  signature: string;
}

/** The outcome of `verifySignature`: the caller's AK, or why the request is refused. */
export type VerifyResult = { ok: true; accessKey: string } | { ok: false; reason: string };

/** Parses an Authorization header value; undefined when not this scheme or malformed. */
export function parseAuthorization(value: string): SignatureHeader | undefined {
  const trimmed = value.trim();
  if (!trimmed.startsWith(`${ALGORITHM} `)) return undefined;
  const fields = new Map<string, string>();
  for (const part of trimmed.slice(ALGORITHM.length + 1).split(',')) {
    const eq = part.indexOf('=');
    if (eq < 0) return undefined;
    const key = part.slice(0, eq).trim();
    // A repeated field is ambiguous (which one was signed?), so refuse rather than pick one.
    if (fields.has(key)) return undefined;
    fields.set(key, part.slice(eq + 1).trim());
  }
  const accessKey = fields.get('Access');
  const signed = fields.get('SignedHeaders');
  const signature = fields.get('Signature');
  if (fields.size !== 3 || !accessKey || !signed || !signature) return undefined;
  // A signature that is not 64 hex digits can never match; calling it malformed is clearer.
  if (!/^[0-9a-fA-F]{64}$/.test(signature)) return undefined;
  const signedHeaders = signed.split(';').map((h) => h.trim().toLowerCase());
  if (signedHeaders.some((h) => h === '') || new Set(signedHeaders).size !== signedHeaders.length) {
    return undefined;
  }
  return { accessKey, signedHeaders, signature: signature.toLowerCase() };
}

/** The SDK's canonical request string for `req`, covering `signedHeaders`. */
export function canonicalRequest(req: SignedRequest, signedHeaders: string[]): string {
  // The SDK lowercases and sorts the names (lodash sortBy, i.e. code-unit order).
  const names = signedHeaders.map((h) => h.toLowerCase()).sort();
  // Values are used as received, untrimmed (§1.3 step 6); a missing one yields an empty value.
  const headerLines = names.map((n) => `${n}:${headerValue(req.headers, n) ?? ''}\n`).join('');
  return [
    req.method,
    canonicalUri(req.rawPath),
    canonicalQuery(req.rawQuery),
    headerLines,
    names.join(';'),
    payloadHash(req),
  ].join('\n');
}

/** The string the SDK signs: algorithm, X-Sdk-Date and the hex sha256 of the canonical request. */
export function stringToSign(sdkDate: string, canonical: string): string {
  return `${ALGORITHM}\n${sdkDate}\n${sha256Hex(canonical)}`;
}

/** Hex HMAC-SHA256 of `stringToSign`, keyed with the raw SK (the SDK derives no key). */
export function sign(secretKey: string, stringToSign: string): string {
  return createHmac('sha256', secretKey).update(stringToSign).digest('hex');
}

/** Parses X-Sdk-Date `YYYYMMDDTHHmmssZ`; undefined when malformed. */
export function parseSdkDate(value: string): Date | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value);
  if (!m) return undefined;
  const [y, mo, d, h, mi, s] = m.slice(1).map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const date = new Date(Date.UTC(y, mo - 1, d, h, mi, s));
  // Date.UTC rolls 20240231 over to March 2; a round trip catches impossible dates.
  const ok =
    date.getUTCFullYear() === y &&
    date.getUTCMonth() === mo - 1 &&
    date.getUTCDate() === d &&
    date.getUTCHours() === h &&
    date.getUTCMinutes() === mi &&
    date.getUTCSeconds() === s;
  return ok ? date : undefined;
}

/** Checks signature, date skew (default 15 min, either direction) and that host and x-sdk-date are among the signed headers. `lookupSecret` returns the SK for an AK or undefined. Compare signatures in constant time. */
export async function verifySignature(
  req: SignedRequest,
  opts: {
    now: Date;
    maxSkewMs?: number;
    lookupSecret: (ak: string) => Promise<string | undefined>;
  },
): Promise<VerifyResult> {
  const authorization = headerValue(req.headers, 'authorization');
  if (authorization === undefined) return fail('the Authorization header is missing');
  const auth = parseAuthorization(authorization);
  if (!auth) return fail(`the Authorization header is not a valid ${ALGORITHM} signature`);

  // Without these two signed, a captured signature could be replayed later or at another host.
  if (!auth.signedHeaders.includes('host')) return fail('host is not signed');
  if (!auth.signedHeaders.includes('x-sdk-date')) return fail('X-Sdk-Date is not signed');
  const missing = auth.signedHeaders.find((h) => headerValue(req.headers, h) === undefined);
  if (missing) return fail(`the signed header ${missing} is missing from the request`);

  const sdkDate = headerValue(req.headers, 'x-sdk-date') ?? '';
  const date = parseSdkDate(sdkDate);
  if (!date) return fail('X-Sdk-Date is not in the form YYYYMMDDTHHmmssZ');
  const maxSkewMs = opts.maxSkewMs ?? DEFAULT_MAX_SKEW_MS;
  if (Math.abs(opts.now.getTime() - date.getTime()) > maxSkewMs) {
    return fail(`X-Sdk-Date is more than ${formatDuration(maxSkewMs)} from the server time`);
  }

  // The payload hash header stands in for the body in the signature; a value other than
  // UNSIGNED-PAYLOAD must then really be the body's hash, or the body went unchecked.
  const declared = headerValue(req.headers, 'x-sdk-content-sha256');
  if (
    declared &&
    declared !== UNSIGNED_PAYLOAD &&
    declared.toLowerCase() !== sha256Hex(req.body ?? Buffer.alloc(0))
  ) {
    return fail('X-Sdk-Content-Sha256 does not match the body');
  }

  const secret = await opts.lookupSecret(auth.accessKey);
  if (secret === undefined) return fail('unknown access key');

  const expected = sign(secret, stringToSign(sdkDate, canonicalRequest(req, auth.signedHeaders)));
  // Both are 64 lowercase hex digits here (parseAuthorization checked), so lengths match.
  const match = timingSafeEqual(
    Buffer.from(expected, 'latin1'),
    Buffer.from(auth.signature, 'latin1'),
  );
  return match ? { ok: true, accessKey: auth.accessKey } : fail('signature does not match');
}

function fail(reason: string): VerifyResult {
  return { ok: false, reason };
}

function formatDuration(ms: number): string {
  const minutes = ms / 60_000;
  if (Number.isInteger(minutes)) return minutes === 1 ? '1 minute' : `${minutes} minutes`;
  return `${ms / 1000} seconds`;
}

function headerValue(headers: SignedRequest['headers'], name: string): string | undefined {
  const v = headers[name];
  // Node gives arrays only for repeated headers it does not fold itself (e.g. set-cookie).
  return Array.isArray(v) ? v.join(',') : v;
}

function sha256Hex(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** RFC 3986 encoding of each UTF-8 byte outside A-Z a-z 0-9 - _ . ~ (the SDK's urlEncode). */
function rfc3986(s: string): string {
  let out = '';
  for (const byte of Buffer.from(s, 'utf8')) {
    const c = String.fromCharCode(byte);
    out += /[A-Za-z0-9\-_.~]/.test(c) ? c : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

function canonicalUri(rawPath: string): string {
  // Encode the path as received, without decoding first: the SDK encodes the literal
  // path it sent, so '%' becomes '%25'. The SDK strips the trailing '/' before sending
  // but signed with one (§1.2 step 5, §1.3 step 3).
  const uri = rawPath.split('/').map(rfc3986).join('/');
  return uri.endsWith('/') ? uri : `${uri}/`;
}

function canonicalQuery(rawQuery: string): string {
  // The SDK signs its params object and sends querystring.stringify(params), so decoding
  // with querystring.parse gives back that object. maxKeys 0: no silent truncation.
  const params = parseQuery(rawQuery, '&', '=', { maxKeys: 0 });
  const pairs: string[] = [];
  for (const key of Object.keys(params).sort()) {
    const value = params[key];
    const values = Array.isArray(value) ? [...value].sort() : [value ?? ''];
    for (const v of values) pairs.push(`${rfc3986(key)}=${rfc3986(v)}`);
  }
  return pairs.join('&');
}

function payloadHash(req: SignedRequest): string {
  // UNSIGNED-PAYLOAD (multipart uploads) or a declared hash replaces the body's hash; like
  // the SDK, an empty value counts as absent.
  const declared = headerValue(req.headers, 'x-sdk-content-sha256');
  if (declared) return declared;
  // The SDK hashes JSON.stringify(data), which is exactly the bytes axios sends.
  return req.body && req.body.length > 0 ? sha256Hex(req.body) : EMPTY_SHA256;
}
