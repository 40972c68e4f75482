// SWR's name rules for namespaces and repositories (huawei-compat.md section 3).
import { FerryError } from '../errors/catalog.js';

// A run of separators is one `.`, `_`, `-` (or `/` in repositories), or exactly `__`.
function separatorsOk(name: string, separators: string): boolean {
  let run = '';
  for (const c of name) {
    if (separators.includes(c)) {
      run += c;
      continue;
    }
    if (run.length > 1 && run !== '__') return false;
    run = '';
  }
  return run === '';
}

/** Why `name` is not a valid namespace, or undefined when it is. */
export function namespaceProblem(name: string): string | undefined {
  if (name.length < 1 || name.length > 64) return 'must be 1 to 64 characters';
  if (!/^[a-z0-9._-]+$/.test(name)) return 'may contain only a-z, 0-9, ".", "_" and "-"';
  if (!/^[a-z]/.test(name)) return 'must start with a lowercase letter';
  if (!/[a-z0-9]$/.test(name)) return 'must end with a lowercase letter or digit';
  if (!separatorsOk(name, '._-')) {
    return 'separators ".", "_", "-" may not be adjacent (except "__")';
  }
  return undefined;
}

/** Why `name` is not a valid repository name, or undefined when it is. */
export function repositoryProblem(name: string): string | undefined {
  if (name.length < 1 || name.length > 128) return 'must be 1 to 128 characters';
  if (!/^[a-z0-9._/-]+$/.test(name)) return 'may contain only a-z, 0-9, ".", "_", "-" and "/"';
  if (!/^[a-z0-9]/.test(name) || !/[a-z0-9]$/.test(name)) {
    return 'must start and end with a lowercase letter or digit';
  }
  if (!separatorsOk(name, '._-/')) {
    return 'separators ".", "_", "-", "/" may not be adjacent (except "__")';
  }
  return undefined;
}

/** Throws BAD_REQUEST naming the field when `name` breaks the namespace rules. */
export function checkNamespace(name: string, field = 'namespace'): void {
  const why = namespaceProblem(name);
  if (why) throw new FerryError('BAD_REQUEST', `${field} ${JSON.stringify(name)}: ${why}`);
}

/** The repository name from a URL path segment (`$` stands for `/`), checked. */
export function repositoryFromPath(segment: string): string {
  const name = segment.replaceAll('$', '/');
  const why = repositoryProblem(name);
  if (why) throw new FerryError('BAD_REQUEST', `repository ${JSON.stringify(name)}: ${why}`);
  return name;
}

// Docker distribution's tag grammar.
const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;

/** Throws BAD_REQUEST when `tag` is not a valid tag. */
export function checkTag(tag: string, field = 'tag'): void {
  if (!TAG.test(tag)) {
    throw new FerryError(
      'BAD_REQUEST',
      `${field} ${JSON.stringify(tag)}: must match [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`,
    );
  }
}
