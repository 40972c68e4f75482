import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { stringify } from 'node:querystring';
import { BasicCredentials } from '@huaweicloud/huaweicloud-sdk-core';
import { AKSKSigner } from '@huaweicloud/huaweicloud-sdk-core/auth/AKSKSigner.js';
import {
  CreateManualImageSyncRepoRequest,
  CreateManualImageSyncRepoRequestBody,
  ShowSyncJobRequest,
  SwrClient,
} from '@huaweicloud/huaweicloud-sdk-swr';
import { describe, expect, it } from 'vitest';
import {
  canonicalRequest,
  parseAuthorization,
  parseSdkDate,
  sign,
  stringToSign,
  verifySignature,
  type SignedRequest,
} from './signer.js';

// The test vectors of ../shared/api/huawei-compat.md §1.3.
const AK = 'HPUAEXAMPLEAK1234567';
const SK = 'ExampleSecretKey0123456789abcdefghijklmn';
const HOST = 'swr-api.cn-north-4.myhuaweicloud.com';
const DATE = '20240101T000000Z';
const NOW = new Date('2024-01-01T00:00:00Z');
const PROJECT = '0123456789abcdef0123456789abcdef';
const lookupSecret = async (ak: string) => (ak === AK ? SK : undefined);

const VECTOR_1_BODY =
  '{"imageTag":["v1"],"remoteNamespace":"ns2","remoteRegionId":"cn-east-3","override":false}';
const VECTOR_1_SIGNATURE = 'b2e5b9a349d00e2c57109508dad0dfac618512710d59680ecb3cf6e346547300';
const VECTOR_2_SIGNATURE = 'f83287ff9f958c63e58c3f486aeaa72d6c263f38fa28b9799b19ddec02027f49';

function vector1(): SignedRequest {
  return {
    method: 'POST',
    rawPath: '/v2/manage/namespaces/ns1/repos/nginx/sync_images',
    rawQuery: '',
    headers: {
      'content-type': 'application/json',
      host: HOST,
      'x-project-id': PROJECT,
      'x-sdk-date': DATE,
      'user-agent': 'huaweicloud-usdk-nodejs/3.0',
      accept: 'application/json',
      authorization: `SDK-HMAC-SHA256 Access=${AK}, SignedHeaders=content-type;host;x-project-id;x-sdk-date, Signature=${VECTOR_1_SIGNATURE}`,
    },
    body: Buffer.from(VECTOR_1_BODY),
  };
}

function vector2(): SignedRequest {
  return {
    method: 'GET',
    rawPath: '/v2/manage/namespaces/ns1/repos/nginx/sync_job',
    rawQuery: 'filter=limit%3A%3A10%7Coffset%3A%3A0%7Corder%3A%3Adesc',
    headers: {
      'content-type': 'application/json',
      host: HOST,
      'x-sdk-date': DATE,
      authorization: `SDK-HMAC-SHA256 Access=${AK}, SignedHeaders=content-type;host;x-sdk-date, Signature=${VECTOR_2_SIGNATURE}`,
    },
    body: undefined,
  };
}

describe('test vectors (huawei-compat.md §1.3)', () => {
  it('vector 1: POST with a JSON body and X-Project-Id', async () => {
    const req = vector1();
    const signed = ['content-type', 'host', 'x-project-id', 'x-sdk-date'];
    const canonical = canonicalRequest(req, signed);
    expect(canonical).toBe(
      [
        'POST',
        '/v2/manage/namespaces/ns1/repos/nginx/sync_images/',
        '',
        'content-type:application/json',
        `host:${HOST}`,
        `x-project-id:${PROJECT}`,
        `x-sdk-date:${DATE}`,
        '',
        'content-type;host;x-project-id;x-sdk-date',
        '17a82d94d1ab430e1e6fd406755490898e650ba2e5e554951c0afc18d5168aae',
      ].join('\n'),
    );
    expect(sign(SK, stringToSign(DATE, canonical))).toBe(VECTOR_1_SIGNATURE);
    await expect(verifySignature(req, { now: NOW, lookupSecret })).resolves.toEqual({
      ok: true,
      accessKey: AK,
    });
  });

  it('vector 2: GET with a query and no body', async () => {
    const req = vector2();
    const canonical = canonicalRequest(req, ['content-type', 'host', 'x-sdk-date']);
    expect(canonical).toBe(
      [
        'GET',
        '/v2/manage/namespaces/ns1/repos/nginx/sync_job/',
        'filter=limit%3A%3A10%7Coffset%3A%3A0%7Corder%3A%3Adesc',
        'content-type:application/json',
        `host:${HOST}`,
        `x-sdk-date:${DATE}`,
        '',
        'content-type;host;x-sdk-date',
        'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
      ].join('\n'),
    );
    expect(sign(SK, stringToSign(DATE, canonical))).toBe(VECTOR_2_SIGNATURE);
    await expect(verifySignature(req, { now: NOW, lookupSecret })).resolves.toEqual({
      ok: true,
      accessKey: AK,
    });
  });
});

describe('canonicalRequest', () => {
  const base: SignedRequest = {
    method: 'GET',
    rawPath: '/',
    rawQuery: '',
    headers: { host: HOST },
    body: undefined,
  };

  it('encodes path segments as received, without decoding first', () => {
    const c = canonicalRequest({ ...base, rawPath: '/repos/a$b/x%2Fy/c d~e' }, ['host']);
    expect(c.split('\n')[1]).toBe('/repos/a%24b/x%252Fy/c%20d~e/');
  });

  it('keeps a trailing slash and maps the root to /', () => {
    expect(canonicalRequest({ ...base, rawPath: '/a/' }, ['host']).split('\n')[1]).toBe('/a/');
    expect(canonicalRequest(base, ['host']).split('\n')[1]).toBe('/');
  });

  it('decodes the query, sorts keys and array values, and re-encodes', () => {
    const c = canonicalRequest({ ...base, rawQuery: 'b=2&a=z&a=y&c=x+y&d&%E4%B8%AD=%21' }, [
      'host',
    ]);
    expect(c.split('\n')[2]).toBe('a=y&a=z&b=2&c=x%20y&d=&%E4%B8%AD=%21');
  });

  it('lowercases and sorts signed headers and keeps values untrimmed', () => {
    const headers = { host: HOST, 'x-b': ' spaced ', 'x-a': ['1', '2'] };
    const c = canonicalRequest({ ...base, headers }, ['X-B', 'host', 'x-a']);
    expect(c.split('\n').slice(3, 8)).toEqual([
      'host:' + HOST,
      'x-a:1,2',
      'x-b: spaced ',
      '',
      'host;x-a;x-b',
    ]);
  });

  it('takes the payload hash from X-Sdk-Content-Sha256 when present', () => {
    const headers = { host: HOST, 'x-sdk-content-sha256': 'UNSIGNED-PAYLOAD' };
    const c = canonicalRequest({ ...base, headers, body: Buffer.from('x') }, ['host']);
    expect(c.split('\n').at(-1)).toBe('UNSIGNED-PAYLOAD');
  });
});

describe('parseAuthorization', () => {
  it('parses the SDK header', () => {
    expect(
      parseAuthorization(
        `SDK-HMAC-SHA256 Access=${AK}, SignedHeaders=content-type;host;x-sdk-date, Signature=${VECTOR_2_SIGNATURE}`,
      ),
    ).toEqual({
      accessKey: AK,
      signedHeaders: ['content-type', 'host', 'x-sdk-date'],
      signature: VECTOR_2_SIGNATURE,
    });
  });

  it.each([
    ['another scheme', `Bearer abc`],
    [
      'the derived scheme',
      `V11-HMAC-SHA256 Access=${AK}, SignedHeaders=host, Signature=${VECTOR_2_SIGNATURE}`,
    ],
    ['no signature', `SDK-HMAC-SHA256 Access=${AK}, SignedHeaders=host`],
    [
      'an empty access key',
      `SDK-HMAC-SHA256 Access=, SignedHeaders=host, Signature=${VECTOR_2_SIGNATURE}`,
    ],
    ['a non-hex signature', `SDK-HMAC-SHA256 Access=${AK}, SignedHeaders=host, Signature=xyz`],
    [
      'an empty header name',
      `SDK-HMAC-SHA256 Access=${AK}, SignedHeaders=host;;x, Signature=${VECTOR_2_SIGNATURE}`,
    ],
    [
      'a repeated field',
      `SDK-HMAC-SHA256 Access=${AK}, Access=x, SignedHeaders=host, Signature=${VECTOR_2_SIGNATURE}`,
    ],
    [
      'an unknown field',
      `SDK-HMAC-SHA256 Access=${AK}, Foo=1, SignedHeaders=host, Signature=${VECTOR_2_SIGNATURE}`,
    ],
    ['garbage', 'SDK-HMAC-SHA256 nonsense'],
  ])('rejects %s', (_what, value) => {
    expect(parseAuthorization(value)).toBeUndefined();
  });
});

describe('parseSdkDate', () => {
  it('parses the basic UTC format', () => {
    expect(parseSdkDate('20240229T235958Z')?.toISOString()).toBe('2024-02-29T23:59:58.000Z');
  });

  it.each(['2024-01-01T00:00:00Z', '20240101T000000', '20240230T000000Z', '20240101T246000Z', ''])(
    'rejects %j',
    (value) => {
      expect(parseSdkDate(value)).toBeUndefined();
    },
  );
});

/** Signs a request with the SDK's own AKSKSigner, as BaseCredentials.processAuthRequest does. */
function sdkSigned(opts: {
  method: string;
  path: string;
  query?: Record<string, string | number | boolean | string[]>;
  headers?: Record<string, string>;
  data?: unknown;
  body?: Buffer;
}): SignedRequest {
  const credentials = new BasicCredentials().withAk(AK).withSk(SK);
  const request = {
    endpoint: `https://${HOST}${opts.path}`,
    method: opts.method,
    headers: { ...opts.headers },
    queryParams: opts.query ?? {},
    data: opts.data,
  };
  // The SDK merges the returned headers (X-Sdk-Date, host, Authorization) into the request.
  const sent = { ...request.headers, ...(AKSKSigner.sign(request, credentials) as object) };
  const headers: Record<string, string> = {
    'user-agent': 'huaweicloud-usdk-nodejs/3.0',
    accept: 'application/json',
  };
  for (const [k, v] of Object.entries(sent)) headers[k.toLowerCase()] = String(v);
  return {
    method: opts.method,
    // DefaultHttpClient strips a trailing '/' and serialises the query with querystring.
    rawPath: opts.path.replace(/\/$/, ''),
    rawQuery: stringify(request.queryParams),
    headers,
    body:
      opts.body ?? (opts.data === undefined ? undefined : Buffer.from(JSON.stringify(opts.data))),
  };
}

describe('verifySignature against the SDK signer', () => {
  const post = () =>
    sdkSigned({
      method: 'POST',
      path: '/v2/manage/namespaces/ns1/repos/a$b/sync_images',
      headers: { 'content-type': 'application/json', 'X-Project-Id': PROJECT },
      data: { imageTag: ['v1', 'v2'], remoteNamespace: 'ns2', override: true },
    });
  const get = () =>
    sdkSigned({
      method: 'GET',
      path: '/v2/manage/namespaces/ns1/repos/a$b/sync_job',
      headers: { 'content-type': 'application/json' },
      query: { filter: 'limit::10|offset::0|order::desc' },
    });
  const ok = { ok: true, accessKey: AK };
  const verify = (req: SignedRequest, now = new Date()) =>
    verifySignature(req, { now, lookupSecret });

  it('accepts a POST with $ in the path and a JSON body', async () => {
    const req = post();
    expect(req.rawPath).toContain('a$b');
    await expect(verify(req)).resolves.toEqual(ok);
  });

  it('accepts a GET with | and :: in the query', async () => {
    const req = get();
    expect(req.rawQuery).toBe('filter=limit%3A%3A10%7Coffset%3A%3A0%7Corder%3A%3Adesc');
    await expect(verify(req)).resolves.toEqual(ok);
  });

  it('accepts arrays, numbers, booleans, spaces and non-ASCII in the query', async () => {
    const req = sdkSigned({
      method: 'GET',
      path: '/v2/manage/repos',
      headers: { 'content-type': 'application/json' },
      query: { tag: ['v2', 'v10', 'v1'], limit: 10, public: true, 'q x': 'a b/中!*', z: '' },
    });
    await expect(verify(req)).resolves.toEqual(ok);
  });

  it('accepts a literal % in the path and a trailing slash the client stripped', async () => {
    const req = sdkSigned({ method: 'DELETE', path: '/v2/repos/a%2Fb/', headers: {} });
    expect(req.rawPath).toBe('/v2/repos/a%2Fb');
    await expect(verify(req)).resolves.toEqual(ok);
  });

  it('accepts UNSIGNED-PAYLOAD without looking at the body', async () => {
    const req = sdkSigned({
      method: 'POST',
      path: '/v2/upload',
      headers: {
        'content-type': 'application/octet-stream',
        'X-Sdk-Content-Sha256': 'UNSIGNED-PAYLOAD',
      },
      body: Buffer.from([0, 1, 2, 255]),
    });
    await expect(verify(req)).resolves.toEqual(ok);
  });

  it('rejects a wrong secret key', async () => {
    const req = post();
    const result = await verifySignature(req, {
      now: new Date(),
      lookupSecret: async () => SK.replace('E', 'e'),
    });
    expect(result).toEqual({ ok: false, reason: 'signature does not match' });
  });

  it('rejects a tampered body', async () => {
    const req = post();
    req.body = Buffer.from(req.body!.toString().replace('ns2', 'ns3'));
    await expect(verify(req)).resolves.toEqual({ ok: false, reason: 'signature does not match' });
  });

  it('rejects a tampered query', async () => {
    const req = get();
    req.rawQuery = req.rawQuery.replace('10', '99');
    await expect(verify(req)).resolves.toEqual({ ok: false, reason: 'signature does not match' });
  });

  it('rejects a tampered path', async () => {
    const req = get();
    req.rawPath = req.rawPath.replace('ns1', 'ns9');
    await expect(verify(req)).resolves.toEqual({ ok: false, reason: 'signature does not match' });
  });

  it('rejects a stale date and a future date (16 minutes), accepts 15 minutes', async () => {
    const req = get();
    const signedAt = parseSdkDate(req.headers['x-sdk-date'] as string)!.getTime();
    const reason = 'X-Sdk-Date is more than 15 minutes from the server time';
    await expect(verify(req, new Date(signedAt + 16 * 60_000))).resolves.toEqual({
      ok: false,
      reason,
    });
    await expect(verify(req, new Date(signedAt - 16 * 60_000))).resolves.toEqual({
      ok: false,
      reason,
    });
    await expect(verify(req, new Date(signedAt + 15 * 60_000))).resolves.toEqual(ok);
    await expect(verify(req, new Date(signedAt - 15 * 60_000))).resolves.toEqual(ok);
  });

  it('honours maxSkewMs', async () => {
    const req = get();
    const signedAt = parseSdkDate(req.headers['x-sdk-date'] as string)!.getTime();
    const result = await verifySignature(req, {
      now: new Date(signedAt + 61_000),
      maxSkewMs: 60_000,
      lookupSecret,
    });
    expect(result).toEqual({
      ok: false,
      reason: 'X-Sdk-Date is more than 1 minute from the server time',
    });
  });

  it('rejects an unknown access key', async () => {
    const req = get();
    const result = await verifySignature(req, {
      now: new Date(),
      lookupSecret: async () => undefined,
    });
    expect(result).toEqual({ ok: false, reason: 'unknown access key' });
  });

  it('rejects a request whose host is not signed', async () => {
    // A client that signs without host: the signature is valid but could be replayed elsewhere.
    const req = vector2();
    const canonical = canonicalRequest(req, ['content-type', 'x-sdk-date']);
    const signature = sign(SK, stringToSign(DATE, canonical));
    req.headers.authorization = `SDK-HMAC-SHA256 Access=${AK}, SignedHeaders=content-type;x-sdk-date, Signature=${signature}`;
    await expect(verifySignature(req, { now: NOW, lookupSecret })).resolves.toEqual({
      ok: false,
      reason: 'host is not signed',
    });
  });

  it('rejects a request whose X-Sdk-Date is not signed or is malformed', async () => {
    const req = vector2();
    req.headers.authorization = `SDK-HMAC-SHA256 Access=${AK}, SignedHeaders=content-type;host, Signature=${VECTOR_2_SIGNATURE}`;
    await expect(verifySignature(req, { now: NOW, lookupSecret })).resolves.toMatchObject({
      reason: 'X-Sdk-Date is not signed',
    });
    const bad = vector2();
    bad.headers['x-sdk-date'] = '2024-01-01T00:00:00Z';
    await expect(verifySignature(bad, { now: NOW, lookupSecret })).resolves.toMatchObject({
      reason: 'X-Sdk-Date is not in the form YYYYMMDDTHHmmssZ',
    });
  });

  it('rejects a signed header that is missing from the request', async () => {
    const req = vector1();
    delete req.headers['x-project-id'];
    await expect(verifySignature(req, { now: NOW, lookupSecret })).resolves.toEqual({
      ok: false,
      reason: 'the signed header x-project-id is missing from the request',
    });
  });

  it('rejects a missing or malformed Authorization header', async () => {
    const missing = vector2();
    delete missing.headers.authorization;
    await expect(verifySignature(missing, { now: NOW, lookupSecret })).resolves.toEqual({
      ok: false,
      reason: 'the Authorization header is missing',
    });
    const malformed = vector2();
    malformed.headers.authorization = `SDK-HMAC-SHA256 Access=${AK} SignedHeaders=host Signature=x`;
    await expect(verifySignature(malformed, { now: NOW, lookupSecret })).resolves.toEqual({
      ok: false,
      reason: 'the Authorization header is not a valid SDK-HMAC-SHA256 signature',
    });
  });

  it('rejects an X-Sdk-Content-Sha256 hash that is not the body hash', async () => {
    const req = sdkSigned({
      method: 'POST',
      path: '/v2/upload',
      headers: {
        'content-type': 'application/octet-stream',
        'X-Sdk-Content-Sha256': 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
      },
      body: Buffer.from('not empty'),
    });
    await expect(verify(req)).resolves.toEqual({
      ok: false,
      reason: 'X-Sdk-Content-Sha256 does not match the body',
    });
  });
});

describe('verifySignature over HTTP with the real SWR SDK client', () => {
  it('verifies what a node:http server receives from SwrClient', async () => {
    const seen: { method: string; url: string; result: unknown }[] = [];
    const server = createServer((req: IncomingMessage, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const url = req.url ?? '/';
        const q = url.indexOf('?');
        const signed: SignedRequest = {
          method: req.method ?? '',
          rawPath: q < 0 ? url : url.slice(0, q),
          rawQuery: q < 0 ? '' : url.slice(q + 1),
          headers: req.headers,
          body: Buffer.concat(chunks),
        };
        void verifySignature(signed, { now: new Date(), lookupSecret }).then((result) => {
          seen.push({ method: signed.method, url, result });
          res.writeHead(result.ok ? 200 : 401, { 'content-type': 'application/json' });
          res.end('{}');
        });
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as AddressInfo;
      const client = SwrClient.newBuilder()
        .withCredential(new BasicCredentials().withAk(AK).withSk(SK).withProjectId(PROJECT))
        .withEndpoint(`http://127.0.0.1:${port}`)
        .build();
      await client.showSyncJob(
        new ShowSyncJobRequest()
          .withNamespace('ns1')
          .withRepository('a$b')
          .withFilter('limit::10|offset::0|order::desc'),
      );
      await client.createManualImageSyncRepo(
        new CreateManualImageSyncRepoRequest()
          .withNamespace('ns1')
          .withRepository('a$b')
          .withBody(
            new CreateManualImageSyncRepoRequestBody()
              .withImageTag(['v1'])
              .withRemoteNamespace('ns2')
              .withRemoteRegionId('cn-east-3')
              .withOverride(false),
          ),
      );
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
    expect(seen).toEqual([
      {
        method: 'GET',
        url: '/v2/manage/namespaces/ns1/repos/a$b/sync_job?filter=limit%3A%3A10%7Coffset%3A%3A0%7Corder%3A%3Adesc',
        result: { ok: true, accessKey: AK },
      },
      {
        method: 'POST',
        url: '/v2/manage/namespaces/ns1/repos/a$b/sync_images',
        result: { ok: true, accessKey: AK },
      },
    ]);
  });
});
