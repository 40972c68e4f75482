// HTTP exchanges with one origin over Node's own http/https modules: a keep-alive connection
// pool, a connect timeout, and an idle timeout that covers waiting for headers, reading the
// body and sending a streamed upload. Node's http is used rather than undici because undici
// alone adds about 19 MB of resident memory and 75 ms of start-up (docs/decisions.md).
import http from 'node:http';
import https from 'node:https';
import type { Readable } from 'node:stream';
import type { SecureContext } from 'node:tls';

/** Response headers, lower-cased. */
export type ResponseHeaders = http.IncomingHttpHeaders;

/** One request to the origin. */
export interface ClientRequest {
  /** Path and query. */
  path: string;
  method: string;
  headers: Record<string, string>;
  /** A Buffer is sent at once; a stream is piped with backpressure. */
  body: Buffer | Readable | null;
  signal: AbortSignal | null;
}

/** A response whose body is still to be read. */
export interface ClientResponse {
  statusCode: number;
  headers: ResponseHeaders;
  body: Readable;
}

/** Timeouts and TLS settings of a pool. */
export interface OriginOptions {
  connectTimeoutMs: number;
  idleTimeoutMs: number;
  keepAliveMs: number;
  /** The TLS context of https connections (trust.ts); undefined: Node's default. */
  secureContext?: SecureContext | undefined;
  /** False: accept any server certificate (default true). */
  tlsVerify?: boolean;
}

/** An error with a code the transport classifies (TIMEOUT_CODES in transport.ts). */
function codedError(message: string, code: string): Error {
  return Object.assign(new Error(message), { code });
}

/** The connections to one origin (`http://host:port`). */
export class OriginPool {
  private readonly agent: http.Agent;
  private readonly url: URL;
  private readonly secure: boolean;
  private inFlight = 0;
  private idle: (() => void) | undefined;

  constructor(
    origin: string,
    private readonly options: OriginOptions,
  ) {
    this.url = new URL(origin);
    this.secure = this.url.protocol === 'https:';
    const agentOptions = {
      keepAlive: true,
      // Idle pooled sockets close after this long (Node applies `timeout` to free sockets).
      timeout: options.keepAliveMs,
      // Reuse the most recently used socket: it is the least likely to have been closed.
      scheduling: 'lifo' as const,
    };
    this.agent = this.secure
      ? new https.Agent({
          ...agentOptions,
          ...(options.secureContext !== undefined ? { secureContext: options.secureContext } : {}),
          ...(options.tlsVerify === false ? { rejectUnauthorized: false } : {}),
        })
      : new http.Agent(agentOptions);
  }

  /** Sends a request; resolves when the response headers arrive. */
  request(req: ClientRequest): Promise<ClientResponse> {
    return new Promise((resolve, reject) => {
      const { connectTimeoutMs, idleTimeoutMs } = this.options;
      const out = (this.secure ? https : http).request({
        protocol: this.url.protocol,
        hostname: this.url.hostname.replace(/^\[|\]$/g, ''),
        port: this.url.port,
        path: req.path,
        method: req.method,
        headers: req.headers,
        agent: this.agent,
        ...(req.signal ? { signal: req.signal } : {}),
      });
      this.inFlight++;
      let settled = false;
      let response: http.IncomingMessage | undefined;
      const done = (): void => {
        if (settled) return;
        settled = true;
        if (--this.inFlight === 0) this.idle?.();
      };
      let connectTimer: NodeJS.Timeout | undefined;
      out.once('socket', (socket) => {
        if (!socket.connecting) return;
        connectTimer = setTimeout(
          () =>
            out.destroy(
              codedError(`connect timed out after ${connectTimeoutMs} ms`, 'FERRY_CONNECT_TIMEOUT'),
            ),
          connectTimeoutMs,
        );
        socket.once('connect', () => clearTimeout(connectTimer));
      });
      // Socket inactivity, whatever the phase: a registry that accepted and went silent,
      // a body that stopped flowing, or an upload whose source stalled.
      out.setTimeout(idleTimeoutMs, () => {
        const err = codedError(`no bytes for ${idleTimeoutMs} ms`, 'FERRY_IDLE_TIMEOUT');
        if (response) response.destroy(err);
        else out.destroy(err);
      });
      out.once('response', (res) => {
        clearTimeout(connectTimer);
        response = res;
        res.once('close', done);
        resolve({ statusCode: res.statusCode ?? 0, headers: res.headers, body: res });
      });
      out.once('error', (err) => {
        clearTimeout(connectTimer);
        if (response) {
          // Errors after the headers belong to the body's reader.
          if (!response.destroyed) response.destroy(err);
          return;
        }
        done();
        reject(err);
      });
      const body = req.body;
      if (body === null) out.end();
      else if (Buffer.isBuffer(body)) out.end(body);
      else if (body.destroyed) {
        // A stream that already failed or was closed sends nothing: fail now, not at the
        // idle timeout (a small blob's digest check can fail while its upload session opens).
        out.destroy(
          body.errored ?? codedError('the request body was closed', 'ERR_STREAM_PREMATURE_CLOSE'),
        );
      } else {
        // The stream's own error aborts the request; the caller keeps that error.
        body.once('error', (err) => out.destroy(err));
        // A body shorter than its Content-Length fails here instead of leaving the server
        // waiting for bytes that never come (and longer ones are refused by Node itself).
        const declared = req.headers['content-length'];
        let sent = 0;
        body.on('data', (chunk: Buffer) => (sent += chunk.length));
        body.once('end', () => {
          if (declared !== undefined && sent !== Number(declared)) {
            out.destroy(
              codedError(
                `the body has ${sent} bytes, Content-Length says ${declared}`,
                'ERR_HTTP_CONTENT_LENGTH_MISMATCH',
              ),
            );
          } else out.end();
        });
        body.pipe(out, { end: false });
      }
    });
  }

  /** Waits up to `graceMs` for requests in flight, then closes every connection. */
  async close(graceMs = 1000): Promise<void> {
    if (this.inFlight > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, graceMs);
        this.idle = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    this.agent.destroy();
  }
}

/** Reads and drops up to `limit` bytes of a body, then destroys what is left. */
export function dump(body: Readable, limit: number): Promise<void> {
  // Events rather than an async iterator: this runs for every HEAD and every small answer.
  if (body.readableEnded || body.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    let seen = 0;
    body.on('data', (chunk: Buffer) => {
      seen += chunk.length;
      if (seen > limit) body.destroy();
    });
    body.once('end', resolve);
    body.once('close', resolve);
    body.once('error', () => resolve());
    body.resume();
  });
}
