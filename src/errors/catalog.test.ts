import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ERRORS, FerryError, describeError, toFerryError } from './catalog.js';

describe('error catalog', () => {
  it('documents every code in docs/errors.md with its status and retry class', () => {
    const doc = readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8');
    for (const [code, spec] of Object.entries(ERRORS)) {
      const rows = doc.split('\n').map((l) => l.split('|').map((c) => c.trim()));
      const cells = rows.find((c) => c[1] === `\`${code}\``);
      expect(cells, `docs/errors.md has no row for ${code}`).toBeDefined();
      expect(cells![2], `${code} status`).toBe(String(spec.status));
      expect(cells![3], `${code} temporary`).toBe(spec.temporary ? 'yes' : 'no');
    }
  });

  it('keeps codes and wraps foreign errors as INTERNAL', () => {
    const e = new FerryError('TIMEOUT', 'x: slow');
    expect(e.temporary).toBe(true);
    expect(toFerryError(e)).toBe(e);
    expect(toFerryError(new Error('boom')).code).toBe('INTERNAL');
    expect(describeError(new FerryError('TAG_CONFLICT'))).toBe(
      'TAG_CONFLICT: target tag holds a different image',
    );
  });
});
