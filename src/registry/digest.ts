// Digests: parsing, computing, and a stream that verifies bytes against a descriptor while
// they flow, holding back the last chunk until the digest is known to be right, so a
// target never receives a complete wrong blob.
import { createHash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { FerryError } from '../errors/catalog.js';

const DIGEST_RE = /^(sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})$/;

/** True when `s` is a well-formed sha256 or sha512 digest. */
export function isDigest(s: string): boolean {
  return DIGEST_RE.test(s);
}

/** The sha256 digest (`sha256:<hex>`) of some bytes. */
export function sha256Digest(bytes: Buffer | string): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

/** The digest of `bytes` with the algorithm `digest` uses. */
export function digestOf(bytes: Buffer, algorithmOf: string): string {
  const algorithm = algorithmOf.startsWith('sha512:') ? 'sha512' : 'sha256';
  return `${algorithm}:${createHash(algorithm).update(bytes).digest('hex')}`;
}

/** Throws DIGEST_MISMATCH unless `bytes` hash to `digest`. */
export function verifyBytes(bytes: Buffer, digest: string, what: string): void {
  const actual = digestOf(bytes, digest);
  if (actual !== digest) {
    throw new FerryError('DIGEST_MISMATCH', `${what}: expected ${digest}, got ${actual}`);
  }
}

/**
 * A pass-through stream that hashes what flows and fails with DIGEST_MISMATCH or
 * SIZE_MISMATCH. It keeps the latest chunk back until the next one arrives (or the end,
 * once verified), so a consumer never sees all the bytes of a wrong blob.
 */
export class VerifyingStream extends Transform {
  private readonly hash;
  private held: Buffer | undefined;
  private received = 0;

  constructor(
    private readonly digest: string,
    private readonly size: number,
    private readonly what: string,
    private readonly onBytes?: (n: number) => void,
  ) {
    super();
    this.hash = createHash(digest.startsWith('sha512:') ? 'sha512' : 'sha256');
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.received += chunk.length;
    if (this.received > this.size) {
      done(
        new FerryError(
          'SIZE_MISMATCH',
          `${this.what}: more than the ${this.size} bytes its descriptor declares`,
        ),
      );
      return;
    }
    this.hash.update(chunk);
    this.onBytes?.(chunk.length);
    const previous = this.held;
    this.held = chunk;
    if (previous) this.push(previous);
    done();
  }

  override _flush(done: TransformCallback): void {
    if (this.received !== this.size) {
      done(
        new FerryError(
          'SIZE_MISMATCH',
          `${this.what}: ${this.received} bytes, its descriptor declares ${this.size}`,
        ),
      );
      return;
    }
    const actual = `${this.digest.split(':')[0]}:${this.hash.digest('hex')}`;
    if (actual !== this.digest) {
      done(
        new FerryError('DIGEST_MISMATCH', `${this.what}: expected ${this.digest}, got ${actual}`),
      );
      return;
    }
    if (this.held) this.push(this.held);
    done();
  }
}
