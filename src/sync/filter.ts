// SWR's `filter=k1::v1|k2::v2` query syntax (huawei-compat.md section 0, pagination).
import { FerryError } from '../errors/catalog.js';

/** Parses a filter, allowing only `keys`; a malformed pair or unknown key is BAD_REQUEST. */
export function parseFilter(filter: string, keys: readonly string[]): Map<string, string> {
  const out = new Map<string, string>();
  if (filter === '') return out;
  for (const part of filter.split('|')) {
    const i = part.indexOf('::');
    if (i <= 0) {
      throw new FerryError('BAD_REQUEST', `filter: ${JSON.stringify(part)} is not key::value`);
    }
    const key = part.slice(0, i);
    if (!keys.includes(key)) {
      throw new FerryError(
        'BAD_REQUEST',
        `filter: unknown key ${JSON.stringify(key)} (allowed: ${keys.join(', ')})`,
      );
    }
    if (out.has(key)) throw new FerryError('BAD_REQUEST', `filter: ${key} given twice`);
    out.set(key, part.slice(i + 2));
  }
  return out;
}

/** A non-negative integer parameter within [min, max], or BAD_REQUEST naming it. */
export function intParam(name: string, value: string, min: number, max: number): number {
  if (!/^\d{1,10}$/.test(value)) {
    throw new FerryError('BAD_REQUEST', `${name}: ${JSON.stringify(value)} is not a number`);
  }
  const n = Number(value);
  if (n < min || n > max) {
    throw new FerryError('BAD_REQUEST', `${name}: must be between ${min} and ${max}`);
  }
  return n;
}

/** `Content-Range` as SWR sends it: `{offset}-{count}/{total}`. */
export function contentRange(offset: number, count: number, total: number): string {
  return `${offset}-${count}/${total}`;
}
