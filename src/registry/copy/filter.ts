// Filters a copy applies: tags by regular expression, and platforms of multi-arch images.
import { FerryError } from '../../errors/catalog.js';
import type { Descriptor, Platform } from '../types.js';

/** Allow and deny lists of tag regular expressions; a tag must match one allow (if any) and no deny. */
export interface TagFilter {
  allow?: RegExp[];
  deny?: RegExp[];
}

/** Compiles user-supplied patterns; each is anchored (`^(?:p)$`), so `v1.*` matches whole tags. */
export function compileTagPatterns(patterns: readonly string[], what: string): RegExp[] {
  return patterns.map((p) => {
    try {
      return new RegExp(`^(?:${p})$`);
    } catch (err) {
      throw new FerryError(
        'INVALID_ARGUMENT',
        `${what}: "${p}" is not a valid regular expression: ${(err as Error).message}`,
      );
    }
  });
}

/** True when the tag passes the filter. */
export function tagAllowed(tag: string, filter: TagFilter | undefined): boolean {
  if (!filter) return true;
  if (filter.allow?.length && !filter.allow.some((re) => re.test(tag))) return false;
  if (filter.deny?.some((re) => re.test(tag))) return false;
  return true;
}

/** A platform pattern: `os/arch[/variant]`. */
export interface PlatformSpec {
  os: string;
  architecture: string;
  variant?: string;
}

/** Parses `linux/amd64`, `linux/arm64/v8`. */
export function parsePlatform(s: string): PlatformSpec {
  const parts = s.trim().split('/');
  const [os, architecture, variant] = parts;
  if (parts.length < 2 || parts.length > 3 || !os || !architecture || variant === '') {
    throw new FerryError(
      'INVALID_ARGUMENT',
      `platform "${s}" must be os/architecture[/variant], e.g. linux/amd64`,
    );
  }
  return variant ? { os, architecture, variant } : { os, architecture };
}

/** True when an index entry's platform is one of the wanted ones (no variant in the spec matches any). */
export function platformWanted(
  platform: Platform | undefined,
  wanted: readonly PlatformSpec[],
): boolean {
  if (!platform) return true; // entries without a platform (attestations, artifacts) are kept
  return wanted.some(
    (w) =>
      w.os === platform.os &&
      w.architecture === platform.architecture &&
      (w.variant === undefined || w.variant === platform.variant),
  );
}

/** The entries of an index that a platform list keeps. */
export function filterIndexEntries(
  entries: readonly Descriptor[],
  wanted: readonly PlatformSpec[] | undefined,
): Descriptor[] {
  if (!wanted) return [...entries];
  return entries.filter((d) => platformWanted(d.platform, wanted));
}
