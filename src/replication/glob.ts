// Glob patterns of replication filters, as Harbor reads them (doublestar): `**` matches across
// `/`, `*` within one path segment, `?` one character but `/`, `{a,b}` either alternative
// (alternatives may hold globs and nest). Everything else matches itself.
import { FerryError } from '../errors/catalog.js';

function escape(c: string): string {
  return /[\\^$.|+()[\]{}*?]/.test(c) ? `\\${c}` : c;
}

function translate(p: string, i: number, stopAt: string): [string, number] {
  let out = '';
  while (i < p.length) {
    const c = p[i]!;
    if (stopAt.includes(c)) return [out, i];
    if (c === '*') {
      if (p[i + 1] === '*') {
        // `a/**/b` also matches `a/b`: the slash after ** is optional.
        if (p[i + 2] === '/') {
          out += '(?:.*/)?';
          i += 3;
        } else {
          out += '.*';
          i += 2;
        }
      } else {
        out += '[^/]*';
        i++;
      }
    } else if (c === '?') {
      out += '[^/]';
      i++;
    } else if (c === '{') {
      const alts: string[] = [];
      i++;
      for (;;) {
        const [alt, next] = translate(p, i, ',}');
        alts.push(alt);
        if (next >= p.length) throw new Error('unclosed {');
        i = next + 1;
        if (p[next] === '}') break;
      }
      out += `(?:${alts.join('|')})`;
    } else if (c === '}' || c === ',') {
      out += escape(c);
      i++;
    } else {
      out += escape(c);
      i++;
    }
  }
  if (stopAt) return [out, i];
  return [out, i];
}

/** Compiles a glob to an anchored RegExp; BAD_REQUEST naming the field when it is malformed. */
export function compileGlob(pattern: string, field = 'pattern'): RegExp {
  if (pattern === '') throw new FerryError('BAD_REQUEST', `${field}: empty pattern`);
  try {
    const [body] = translate(pattern, 0, '');
    return new RegExp(`^${body}$`);
  } catch (err) {
    throw new FerryError(
      'BAD_REQUEST',
      `${field}: ${JSON.stringify(pattern)}: ${(err as Error).message}`,
    );
  }
}

/** Whether `value` matches the glob. */
export function globMatch(pattern: string, value: string): boolean {
  return compileGlob(pattern).test(value);
}
