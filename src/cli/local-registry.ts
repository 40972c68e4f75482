// Starts Debian's `docker-registry` (CNCF distribution) on loopback with its own folder and
// port. Used by `ferry demo`, the tests and the benchmark.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { FerryError } from '../errors/catalog.js';

/** A running registry. */
export interface LocalRegistry {
  /** `127.0.0.1:PORT` */
  host: string;
  /** `http://127.0.0.1:PORT` (https with TLS) */
  url: string;
  port: number;
  /** Its folder (config and storage). */
  dir: string;
  pid: number;
  /** Stops the process and removes the folder. */
  stop(): Promise<void>;
}

/** Options; `auth`, `tls` and `extra` go into the registry's config as given. */
export interface LocalRegistryOptions {
  /** Folder for config and storage; a new temporary one when absent. */
  dir?: string;
  /** The config's `auth:` section (htpasswd or token). */
  auth?: Record<string, unknown>;
  /** `http.tls`: certificate and key file paths. */
  tls?: { certificate: string; key: string };
  /** Extra top-level config keys (e.g. `notifications`). */
  extra?: Record<string, unknown>;
  /** Port to use when it is free (else a free one). */
  port?: number;
  /** Keep the folder (the images) when stopping. */
  keepData?: boolean;
}

/** A free TCP port on 127.0.0.1 (bound then released). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect(port, '127.0.0.1');
    sock.once('connect', () => {
      sock.destroy();
      resolve(true);
    });
    sock.once('error', () => resolve(false));
  });
}

async function waitListening(port: number, child: ChildProcess, log: () => string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`docker-registry exited: ${log()}`);
    if (await portOpen(port)) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`docker-registry did not start within 20 s: ${log()}`);
}

/** Starts a registry; tries again on a port race. */
export async function startLocalRegistry(
  options: LocalRegistryOptions = {},
): Promise<LocalRegistry> {
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      return await startOnce(options);
    } catch (err) {
      lastError = err;
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') break;
    }
  }
  if ((lastError as NodeJS.ErrnoException).code === 'ENOENT') {
    throw new FerryError(
      'IO_ERROR',
      'docker-registry is not installed: run `bash scripts/ensure-deps.sh` (apt-get install docker-registry)',
    );
  }
  throw lastError;
}

async function startOnce(options: LocalRegistryOptions): Promise<LocalRegistry> {
  const dir = options.dir ?? (await mkdtemp(join(tmpdir(), 'ferry-registry-')));
  await mkdir(dir, { recursive: true });
  const port =
    options.port !== undefined && !(await portOpen(options.port)) ? options.port : await freePort();
  const http: Record<string, unknown> = { addr: `127.0.0.1:${port}`, secret: 'ferry-local' };
  if (options.tls) http.tls = options.tls;
  const config: Record<string, unknown> = {
    version: 0.1,
    log: { level: 'error', accesslog: { disabled: true } },
    storage: {
      filesystem: { rootdirectory: join(dir, 'data') },
      delete: { enabled: true },
      maintenance: { uploadpurging: { enabled: false } },
      cache: { blobdescriptor: 'inmemory' },
    },
    http,
    ...(options.auth ? { auth: options.auth } : {}),
    ...(options.extra ?? {}),
  };
  const configPath = join(dir, 'config.yml');
  await writeFile(configPath, stringify(config));
  // The registry logs to a file, not a pipe: a pipe that nobody drains (a parent blocked in
  // spawnSync, say) fills up and then blocks the registry on its next log line.
  const logPath = join(dir, 'registry.log');
  const log = await open(logPath, 'w');
  const child = spawn('docker-registry', ['serve', configPath], {
    stdio: ['ignore', 'ignore', log.fd],
  });
  const spawned = new Promise<void>((resolve, reject) => {
    child.once('spawn', resolve);
    child.once('error', reject);
  });
  await log.close(); // the child has its own copy of the descriptor
  const stderr = (): string => {
    try {
      return readFileSync(logPath, 'utf8').slice(-4000);
    } catch {
      return '';
    }
  };
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
    if (!options.keepData) await rm(dir, { recursive: true, force: true });
  };
  try {
    await spawned;
    await waitListening(port, child, stderr);
  } catch (err) {
    await stop();
    throw err;
  }
  const scheme = options.tls ? 'https' : 'http';
  return {
    host: `127.0.0.1:${port}`,
    url: `${scheme}://127.0.0.1:${port}`,
    port,
    dir,
    pid: child.pid ?? 0,
    stop,
  };
}
