import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { isFerryError } from '../errors/catalog.js';
import { VerifyingStream, isDigest, sha256Digest } from './digest.js';

async function run(
  chunks: Buffer[],
  digest: string,
  size: number,
): Promise<{ got: Buffer; err?: unknown }> {
  const parts: Buffer[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _e, cb) {
      parts.push(chunk);
      cb();
    },
  });
  try {
    await pipeline(Readable.from(chunks), new VerifyingStream(digest, size, 'blob'), sink);
    return { got: Buffer.concat(parts) };
  } catch (err) {
    return { got: Buffer.concat(parts), err };
  }
}

describe('VerifyingStream', () => {
  const chunks = [Buffer.from('hello '), Buffer.from('wide '), Buffer.from('world')];
  const all = Buffer.concat(chunks);

  it('passes good bytes through unchanged', async () => {
    const { got, err } = await run(chunks, sha256Digest(all), all.length);
    expect(err).toBeUndefined();
    expect(got.equals(all)).toBe(true);
  });

  it('fails with DIGEST_MISMATCH and never delivers the last chunk of a wrong blob', async () => {
    const bad = [Buffer.from('hello '), Buffer.from('wide '), Buffer.from('WORLD')];
    const { got, err } = await run(bad, sha256Digest(all), all.length);
    expect(isFerryError(err, 'DIGEST_MISMATCH')).toBe(true);
    expect(got.length).toBeLessThan(all.length);
  });

  it('fails with SIZE_MISMATCH when too long or too short', async () => {
    expect(
      isFerryError((await run(chunks, sha256Digest(all), all.length - 1)).err, 'SIZE_MISMATCH'),
    ).toBe(true);
    expect(
      isFerryError((await run(chunks, sha256Digest(all), all.length + 1)).err, 'SIZE_MISMATCH'),
    ).toBe(true);
  });

  it('recognises digests', () => {
    expect(isDigest(sha256Digest('x'))).toBe(true);
    expect(isDigest('sha256:abc')).toBe(false);
    expect(isDigest(`md5:${'a'.repeat(32)}`)).toBe(false);
  });
});
