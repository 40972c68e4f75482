import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { hashPassword, newId, SecretBox, tokenHash, verifyPassword } from './crypto.js';

describe('secrets at rest', () => {
  it('hashes passwords with a salt and verifies them', async () => {
    const a = await hashPassword('s3cret');
    const b = await hashPassword('s3cret');
    expect(a).not.toBe(b);
    expect(a).not.toContain('s3cret');
    expect(await verifyPassword('s3cret', a)).toBe(true);
    expect(await verifyPassword('s3cret!', a)).toBe(false);
    expect(await verifyPassword('s3cret', 'plain')).toBe(false);
  });

  it('seals secret keys so only the same key opens them, and detects tampering', () => {
    const box = new SecretBox(randomBytes(32));
    const sealed = box.seal('ExampleSecretKey');
    expect(sealed).not.toContain('ExampleSecretKey');
    expect(box.seal('ExampleSecretKey')).not.toBe(sealed);
    expect(box.open(sealed)).toBe('ExampleSecretKey');
    expect(() => new SecretBox(randomBytes(32)).open(sealed)).toThrow(/cannot be decrypted/);
    const parts = sealed.split('.');
    parts[3] = Buffer.from('tampered').toString('base64url');
    expect(() => box.open(parts.join('.'))).toThrow(/cannot be decrypted/);
  });

  it('stores tokens as sha256 and makes IAM-shaped ids', () => {
    expect(tokenHash('abc')).toBe(
      'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
    );
    expect(newId()).toMatch(/^[0-9a-f]{32}$/);
  });
});
