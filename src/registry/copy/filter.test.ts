import { describe, expect, it } from 'vitest';
import { compileTagPatterns, filterIndexEntries, parsePlatform, tagAllowed } from './filter.js';

describe('tag filter', () => {
  it('anchors patterns and applies allow then deny', () => {
    const filter = {
      allow: compileTagPatterns(['v1.*', 'latest'], 't'),
      deny: compileTagPatterns(['.*-rc'], 't'),
    };
    expect(tagAllowed('v1.2', filter)).toBe(true);
    expect(tagAllowed('latest', filter)).toBe(true);
    expect(tagAllowed('v1.2-rc', filter)).toBe(false);
    expect(tagAllowed('xv1', filter)).toBe(false);
    expect(tagAllowed('anything', undefined)).toBe(true);
  });

  it('rejects a bad regular expression clearly', () => {
    expect(() => compileTagPatterns(['v(1'], 'tag filter')).toThrow(
      /tag filter: "v\(1" is not a valid regular expression/,
    );
  });
});

describe('platforms', () => {
  const d = (os: string, architecture: string, variant?: string) => ({
    mediaType: 'x',
    digest: `sha256:${os}${architecture}${variant ?? ''}`,
    size: 1,
    platform: variant ? { os, architecture, variant } : { os, architecture },
  });
  it('keeps the wanted platforms; no variant matches any variant', () => {
    const entries = [d('linux', 'amd64'), d('linux', 'arm64', 'v8'), d('linux', 'arm', 'v7')];
    expect(
      filterIndexEntries(entries, [parsePlatform('linux/arm64')]).map(
        (e) => e.platform?.architecture,
      ),
    ).toEqual(['arm64']);
    expect(filterIndexEntries(entries, [parsePlatform('linux/arm/v6')])).toEqual([]);
    expect(filterIndexEntries(entries, undefined)).toHaveLength(3);
  });
  it('rejects malformed platforms', () => {
    expect(() => parsePlatform('linux')).toThrow(/os\/architecture/);
    expect(() => parsePlatform('linux/arm/v7/x')).toThrow(/os\/architecture/);
  });
});
