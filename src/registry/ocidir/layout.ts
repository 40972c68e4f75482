// The OCI image layout backend: a folder with `oci-layout`, `index.json` and
// `blobs/<alg>/<hex>`, seen through the same RegistryBackend interface as an HTTP registry.
// A layout folder is one repository, so every method ignores `repo` (the CLI passes '') and
// catalogList answers `['']`, which lets the copy engine iterate it like any registry.
// Deleting a manifest drops its index.json entries and its blob, as a registry would; layers
// and configs stay. Manifests put by digest get no index.json entry, except referrers (with a
// `subject`), which get an untagged one so referrerList can find them. index.json writers are
// serialised per folder within this process only; two processes must not write one layout.
// https://github.com/opencontainers/image-spec/blob/main/image-layout.md
import { mkdir, readFile, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { FerryError } from '../../errors/catalog.js';
import type {
  BlobGetOptions,
  BlobPutOptions,
  Descriptor,
  Manifest,
  ManifestHead,
  RegistryBackend,
} from '../types.js';
import { blobGet, blobHead, blobPut } from './blob.js';
import {
  ioError,
  isNotFound,
  throwIfAborted,
  writeFileAtomic,
  type LayoutContext,
} from './files.js';
import { ensureIndex } from './indexjson.js';
import { manifestDelete, manifestGet, manifestHead, manifestPut } from './manifest.js';
import { referrerList, type ReferrerCache } from './referrer.js';
import { tagList } from './tag.js';

/** The `oci-layout` file's content for the layout version Ferry writes. */
export const OCI_LAYOUT_FILE = { imageLayoutVersion: '1.0.0' } as const;

/** Options for an OCI layout. */
export interface OciLayoutOptions {
  /** Create the folder, `oci-layout` and `index.json` when missing (the copy target). */
  create?: boolean;
}

/** A RegistryBackend over an OCI image layout folder (one repository, named ''). */
export class OciLayout implements RegistryBackend {
  /** `oci:<path>` as given, for messages. */
  readonly name: string;
  /** Absolute path of the folder; two layouts are the same registry when these match. */
  readonly root: string;
  private readonly create: boolean;
  private readonly ctx: LayoutContext;
  private readonly referrers: ReferrerCache = new Map();
  private readying: Promise<void> | undefined;

  constructor(path: string, options: OciLayoutOptions = {}) {
    if (path === '') throw new FerryError('INVALID_REFERENCE', 'oci: an empty layout path');
    this.name = `oci:${path}`;
    this.root = resolve(path);
    this.create = options.create ?? false;
    this.ctx = { root: this.root, name: this.name, ready: () => this.ready() };
  }

  /** Checks the folder is an OCI layout, first creating it when `create` is set. */
  async ping(signal?: AbortSignal): Promise<void> {
    throwIfAborted(signal);
    if (this.create) await this.ready();
    else await this.check();
  }

  /** `['']`: the folder is a single repository, and the copy engine iterates this list. */
  async catalogList(signal?: AbortSignal): Promise<string[]> {
    throwIfAborted(signal);
    return [''];
  }

  /** The ref.name tags in index.json, sorted. */
  tagList(_repo: string, signal?: AbortSignal): Promise<string[]> {
    return tagList(this.ctx, signal);
  }

  /** HEAD a tag or digest; undefined when missing. */
  manifestHead(
    _repo: string,
    ref: string,
    signal?: AbortSignal,
  ): Promise<ManifestHead | undefined> {
    return manifestHead(this.ctx, ref, signal);
  }

  /** GET a tag or digest, verified against its digest; MANIFEST_UNKNOWN when missing. */
  manifestGet(_repo: string, ref: string, signal?: AbortSignal): Promise<Manifest> {
    return manifestGet(this.ctx, ref, signal);
  }

  /** PUT a manifest as a blob, plus its index.json entry for a tag (or a referrer). */
  manifestPut(_repo: string, ref: string, manifest: Manifest, signal?: AbortSignal): Promise<void> {
    return manifestPut(this.ctx, ref, manifest, signal);
  }

  /** DELETE: drops the digest's index.json entries (its tags) and its blob. */
  manifestDelete(_repo: string, digest: string, signal?: AbortSignal): Promise<void> {
    return manifestDelete(this.ctx, digest, signal);
  }

  /** A blob's size, or undefined when missing. */
  blobHead(_repo: string, digest: string, signal?: AbortSignal): Promise<number | undefined> {
    return blobHead(this.ctx, digest, signal);
  }

  /** A blob's bytes from `offset`, unverified; BLOB_UNKNOWN when missing. */
  blobGet(_repo: string, desc: Descriptor, options?: BlobGetOptions): Promise<Readable> {
    return blobGet(this.ctx, desc, options);
  }

  /** Streams a blob in, verified, renamed into place only when digest and size match. */
  blobPut(
    _repo: string,
    desc: Descriptor,
    body: Readable,
    options?: BlobPutOptions,
  ): Promise<void> {
    // `mode` and `chunkSize` describe HTTP uploads; a file is always written as one stream.
    return blobPut(this.ctx, desc, body, options?.signal);
  }

  /** Always false: a folder has one repository, so there is nothing to mount from. */
  async blobMount(
    _repo: string,
    _digest: string,
    _fromRepo: string,
    signal?: AbortSignal,
  ): Promise<boolean> {
    throwIfAborted(signal);
    return false;
  }

  /** Manifests whose subject is `digest` (index.json scan plus the `sha256-<hex>` tag). */
  referrerList(
    _repo: string,
    digest: string,
    artifactType?: string,
    signal?: AbortSignal,
  ): Promise<Descriptor[]> {
    return referrerList(this.ctx, digest, this.referrers, artifactType, signal);
  }

  /** Nothing to release: files are opened per call. */
  async close(): Promise<void> {}

  /** True only for another OciLayout on the same resolved folder. */
  sameRegistry(other: RegistryBackend): boolean {
    return other instanceof OciLayout && other.root === this.root;
  }

  /** Runs `check` once before the first write (creating the layout when `create` is set). */
  private ready(): Promise<void> {
    this.readying ??= (this.create ? this.initialise() : Promise.resolve())
      .then(() => this.check())
      .catch((err: unknown) => {
        // Forget a failure so a later call (say, after the folder was fixed) tries again.
        this.readying = undefined;
        throw err;
      });
    return this.readying;
  }

  /** Creates the folder, `oci-layout` and an empty `index.json`, keeping what exists. */
  private async initialise(): Promise<void> {
    try {
      await mkdir(this.root, { recursive: true });
    } catch (err) {
      throw ioError('create', this.root, err);
    }
    const layoutFile = join(this.root, 'oci-layout');
    try {
      await stat(layoutFile);
    } catch (err) {
      if (!isNotFound(err)) throw ioError('read', layoutFile, err);
      await writeFileAtomic(layoutFile, JSON.stringify(OCI_LAYOUT_FILE));
    }
    await ensureIndex(this.ctx);
  }

  /** IO_ERROR unless the folder exists and its `oci-layout` names a 1.x layout version. */
  private async check(): Promise<void> {
    try {
      if (!(await stat(this.root)).isDirectory()) {
        throw new FerryError('IO_ERROR', `${this.root} is not a folder`);
      }
    } catch (err) {
      if (err instanceof FerryError) throw err;
      if (isNotFound(err)) throw new FerryError('IO_ERROR', `${this.root}: no such folder`);
      throw ioError('read', this.root, err);
    }
    const layoutFile = join(this.root, 'oci-layout');
    let text: string;
    try {
      text = await readFile(layoutFile, 'utf8');
    } catch (err) {
      if (isNotFound(err)) {
        throw new FerryError(
          'IO_ERROR',
          `${this.root} is not an OCI image layout: no oci-layout file`,
        );
      }
      throw ioError('read', layoutFile, err);
    }
    let version: unknown;
    try {
      version = (JSON.parse(text) as { imageLayoutVersion?: unknown }).imageLayoutVersion;
    } catch {
      version = undefined;
    }
    // Minor versions stay compatible; a 2.x layout could mean a different structure.
    if (typeof version !== 'string' || !/^1\./.test(version)) {
      throw new FerryError(
        'IO_ERROR',
        `${layoutFile}: unsupported imageLayoutVersion ${JSON.stringify(version) ?? 'missing'}`,
      );
    }
  }
}
