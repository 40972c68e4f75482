// File helpers for the OCI layout backend: where a blob lives, atomic writes (temp file then
// rename, so readers never see half a file), and fs errors turned into one-line IO_ERRORs.
import { randomBytes } from 'node:crypto';
import { rename, rm, stat, writeFile } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { FerryError } from '../../errors/catalog.js';
import { isDigest } from '../digest.js';

/** What every operation on one layout needs: where it is, and how to make it ready for writes. */
export interface LayoutContext {
  /** Absolute path of the layout folder. */
  readonly root: string;
  /** `oci:<path>`, for messages. */
  readonly name: string;
  /** Makes sure the folder, `oci-layout` and `index.json` exist before the first write. */
  ready(): Promise<void>;
}

/** The path of a blob: `blobs/<alg>/<hex>`; INVALID_REFERENCE for a malformed digest. */
export function blobPath(ctx: LayoutContext, digest: string): string {
  // The regex check also keeps `..` and `/` out of the path built from the digest.
  if (!isDigest(digest)) {
    throw new FerryError('INVALID_REFERENCE', `${ctx.name}: "${digest}" is not a valid digest`);
  }
  const [algorithm = '', hex = ''] = digest.split(':');
  return join(ctx.root, 'blobs', algorithm, hex);
}

/** True for "no such file": ENOENT, or ENOTDIR when a parent is a file. */
export function isNotFound(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

/** An IO_ERROR whose one-line message names the path and the system's reason. */
export function ioError(action: string, path: string, err: unknown): FerryError {
  const e = err as NodeJS.ErrnoException | undefined;
  // Node's messages read "EACCES: permission denied, open '/x'": keep the reason only.
  const reason = /^[A-Z0-9_]+: ([^,]+)/.exec(e?.message ?? '')?.[1] ?? e?.message ?? String(err);
  const code = e?.code ? ` (${e.code})` : '';
  return new FerryError('IO_ERROR', `cannot ${action} ${path}: ${reason}${code}`, { cause: err });
}

/** A temporary name beside `path`: same folder, so the final rename is atomic. */
export function tempPathFor(path: string): string {
  return join(
    dirname(path),
    `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`,
  );
}

/** `stat`, or undefined when the file does not exist; IO_ERROR for other failures. */
export async function statOrUndefined(path: string): Promise<Stats | undefined> {
  try {
    return await stat(path);
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw ioError('read', path, err);
  }
}

/** Writes `bytes` to `path` atomically: a temp file beside it, then rename over it. */
export async function writeFileAtomic(path: string, bytes: Buffer | string): Promise<void> {
  const tmp = tempPathFor(path);
  try {
    await writeFile(tmp, bytes, { flag: 'wx' });
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true }).catch(() => undefined);
    throw ioError('write', path, err);
  }
}

/** Throws CANCELLED when the signal has fired. */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new FerryError('CANCELLED', undefined, { cause: signal.reason });
}
