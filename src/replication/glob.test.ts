import { describe, expect, it } from 'vitest';
import { compileGlob, globMatch } from './glob.js';

describe('replication filter globs (Harbor/doublestar semantics)', () => {
  it.each([
    ['ns1/**', 'ns1/app', true],
    ['ns1/**', 'ns1/team/app', true],
    ['ns1/**', 'ns10/app', false],
    ['ns1/*', 'ns1/team/app', false],
    ['ns1/*', 'ns1/app', true],
    ['**/app', 'app', true],
    ['**/app', 'a/b/app', true],
    ['ns?/app', 'ns2/app', true],
    ['ns?/app', 'ns/app', false],
    ['v{1,2}', 'v1', true],
    ['v{1,2}', 'v2', true],
    ['v{1,2}', 'v3', false],
    ['v{1,2}', 'v12', false],
    ['{a,b*,*c}', 'bxx', true],
    ['{a,b*,*c}', 'xxc', true],
    ['{a,b*,*c}', 'xxd', false],
    ['v1.*', 'v1.0', true],
    ['v1.*', 'v1x0', false],
    ['{lib,tools/{a,b}}/**', 'tools/b/x', true],
    ['release-(1)', 'release-(1)', true],
  ])('%s ~ %s = %s', (pattern, value, want) => {
    expect(globMatch(pattern, value)).toBe(want);
  });

  it('refuses malformed patterns with the field name', () => {
    expect(() => compileGlob('v{1,2', 'filters[1].value')).toThrow(
      /filters\[1\]\.value: "v\{1,2": unclosed \{/,
    );
    expect(() => compileGlob('', 'filters[0].value')).toThrow(/empty pattern/);
  });
});
