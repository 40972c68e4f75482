import { describe, expect, it } from 'vitest';
import { checkTag, namespaceProblem, repositoryFromPath, repositoryProblem } from './names.js';

describe('namespace names (huawei-compat.md section 3)', () => {
  it.each(['a', 'group', 'team-1', 'a.b', 'a_b', 'a__b', 'x'.repeat(64)])('accepts %s', (n) => {
    expect(namespaceProblem(n)).toBeUndefined();
  });
  it.each([
    ['', '1 to 64'],
    ['x'.repeat(65), '1 to 64'],
    ['1abc', 'start with a lowercase letter'],
    ['Abc', 'only a-z'],
    ['abc-', 'end with'],
    ['a--b', 'adjacent'],
    ['a.-b', 'adjacent'],
    ['a___b', 'adjacent'],
    ['a/b', 'only a-z'],
  ])('refuses %j (%s)', (n, why) => {
    expect(namespaceProblem(n)).toContain(why);
  });
});

describe('repository names', () => {
  it('accepts nested paths and digits at both ends', () => {
    expect(repositoryProblem('team/app')).toBeUndefined();
    expect(repositoryProblem('1app9')).toBeUndefined();
  });
  it('refuses adjacent separators, including slashes', () => {
    expect(repositoryProblem('a//b')).toContain('adjacent');
    expect(repositoryProblem('a/-b')).toContain('adjacent');
    expect(repositoryProblem('/a')).toContain('start and end');
  });
  it('turns $ into / in URL path segments', () => {
    expect(repositoryFromPath('team$app')).toBe('team/app');
    expect(() => repositoryFromPath('Team')).toThrow(/repository "Team"/);
  });
  it('checks tags with the distribution grammar', () => {
    expect(() => checkTag('v1.0_rc-1')).not.toThrow();
    expect(() => checkTag('-v1')).toThrow(/tag "-v1"/);
    expect(() => checkTag('a'.repeat(129))).toThrow();
  });
});
