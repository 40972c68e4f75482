import { describe, expect, it } from 'vitest';
import { contentRange, intParam, parseFilter } from './filter.js';

describe('SWR filter syntax', () => {
  it('parses key::value pairs separated by |', () => {
    const f = parseFilter('limit::10|offset::0|order::desc', ['limit', 'offset', 'order']);
    expect([...f]).toEqual([
      ['limit', '10'],
      ['offset', '0'],
      ['order', 'desc'],
    ]);
  });
  it('keeps :: inside values after the first', () => {
    expect(parseFilter('name::a::b', ['name']).get('name')).toBe('a::b');
  });
  it('refuses malformed pairs, unknown and repeated keys', () => {
    expect(() => parseFilter('limit=10', ['limit'])).toThrow(/not key::value/);
    expect(() => parseFilter('::10', ['limit'])).toThrow(/not key::value/);
    expect(() => parseFilter('size::10', ['limit'])).toThrow(/unknown key "size"/);
    expect(() => parseFilter('limit::1|limit::2', ['limit'])).toThrow(/twice/);
  });
  it('checks integer parameters and their range', () => {
    expect(intParam('limit', '10', 1, 100)).toBe(10);
    expect(() => intParam('limit', 'ten', 1, 100)).toThrow(/not a number/);
    expect(() => intParam('limit', '-1', 1, 100)).toThrow(/not a number/);
    expect(() => intParam('limit', '0', 1, 100)).toThrow(/between 1 and 100/);
  });
  it('formats Content-Range as offset-count/total', () => {
    expect(contentRange(0, 1, 1)).toBe('0-1/1');
    expect(contentRange(20, 5, 25)).toBe('20-5/25');
  });
});
