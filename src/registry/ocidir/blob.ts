// Blobs in an OCI layout: files under blobs/<alg>/<hex>. Uploads stream through a
// VerifyingStream into a temp file beside the blob and are renamed into place only once the
// digest and size match, so a wrong or cut upload never appears under a blob's name.
import { createWriteStream } from 'node:fs';
import { mkdir, open, rename, rm, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { addAbortSignal, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { FerryError, toFerryError } from '../../errors/catalog.js';
import { VerifyingStream } from '../digest.js';
import type { BlobGetOptions, Descriptor } from '../types.js';
import {
  blobPath,
  ioError,
  isNotFound,
  statOrUndefined,
  tempPathFor,
  throwIfAborted,
  type LayoutContext,
} from './files.js';

/** HEAD: a blob's size from stat, or undefined when it does not exist. */
export async function blobHead(
  ctx: LayoutContext,
  digest: string,
  signal?: AbortSignal,
): Promise<number | undefined> {
  throwIfAborted(signal);
  const info = await statOrUndefined(blobPath(ctx, digest));
  return info?.isFile() ? info.size : undefined;
}

/** GET: a stream of the blob's bytes from `offset`; BLOB_UNKNOWN when it does not exist. */
export async function blobGet(
  ctx: LayoutContext,
  desc: Descriptor,
  options: BlobGetOptions = {},
): Promise<Readable> {
  throwIfAborted(options.signal);
  const path = blobPath(ctx, desc.digest);
  let handle: FileHandle;
  try {
    // Opening before returning turns a missing blob into BLOB_UNKNOWN here, not a stream error.
    handle = await open(path, 'r');
  } catch (err) {
    if (isNotFound(err)) {
      throw new FerryError('BLOB_UNKNOWN', `${ctx.name}: blob ${desc.digest} not found`);
    }
    throw ioError('read', path, err);
  }
  const offset = options.offset ?? 0;
  if (offset !== 0) {
    const { size } = await handle.stat();
    if (!Number.isSafeInteger(offset) || offset < 0 || offset > size) {
      await handle.close();
      throw new FerryError(
        'INVALID_ARGUMENT',
        `${ctx.name}: offset ${offset} is outside blob ${desc.digest} of ${size} bytes`,
      );
    }
  }
  // autoClose (the default) closes the handle when the stream ends or is destroyed.
  const stream = handle.createReadStream({ start: offset });
  return options.signal ? addAbortSignal(options.signal, stream) : stream;
}

/** What a failed upload reports: the verifier's own error, CANCELLED, or IO_ERROR for the file. */
function putError(
  err: unknown,
  writeError: unknown,
  tmp: string,
  signal?: AbortSignal,
): FerryError {
  if (err instanceof FerryError) return err;
  if (signal?.aborted || (err as Error | undefined)?.name === 'AbortError') {
    return new FerryError('CANCELLED', undefined, { cause: err });
  }
  if (writeError !== undefined && err === writeError) return ioError('write', tmp, err);
  return toFerryError(err);
}

/**
 * PUT: streams `body` into blobs/<alg>/<hex>, verified against `desc`. When the blob is
 * already there the body is destroyed unread (no need to move its bytes again).
 */
export async function blobPut(
  ctx: LayoutContext,
  desc: Descriptor,
  body: Readable,
  signal?: AbortSignal,
): Promise<void> {
  let path: string;
  try {
    path = blobPath(ctx, desc.digest);
    if (!Number.isSafeInteger(desc.size) || desc.size < 0) {
      throw new FerryError('INVALID_ARGUMENT', `${ctx.name}: blob size ${desc.size} is not valid`);
    }
    throwIfAborted(signal);
    await ctx.ready();
    // Content-addressed: a file with that name and size already holds these bytes.
    if ((await statOrUndefined(path))?.size === desc.size) {
      body.destroy();
      return;
    }
    await mkdir(dirname(path), { recursive: true }).catch((err: unknown) => {
      throw ioError('create', dirname(path), err);
    });
  } catch (err) {
    // The caller handed the body over; an upload that never starts must still release it.
    body.destroy();
    throw err;
  }
  const tmp = tempPathFor(path);
  const out = createWriteStream(tmp, { flags: 'wx' });
  let writeError: unknown;
  out.once('error', (err) => (writeError = err));
  const verifier = new VerifyingStream(desc.digest, desc.size, `${ctx.name} blob ${desc.digest}`);
  try {
    await pipeline(body, verifier, out, signal ? { signal } : {});
    await rename(tmp, path).catch((err: unknown) => {
      throw ioError('write', path, err);
    });
  } catch (err) {
    // Wait for the file to be closed (it may still be opening) so the removal is final.
    if (!out.closed) await new Promise<void>((resolve) => out.once('close', () => resolve()));
    await rm(tmp, { force: true }).catch(() => undefined);
    throw putError(err, writeError, tmp, signal);
  }
}
