// Starts a real CNCF distribution registry (Debian's `docker-registry`) on loopback with its
// own storage folder and port, for one test file. Stop it with `stop()`.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';

/** A running registry. */
export interface TestRegistry {
  /** `127.0.0.1:PORT` */
  host: string;
  /** `http://127.0.0.1:PORT` (or https when TLS is on) */
  url: string;
  port: number;
  /** Storage root folder. */
  dir: string;
  pid: number;
  stop(): Promise<void>;
}

/** Options: `auth` and `tls` are merged into the registry's config as given. */
export interface TestRegistryOptions {
  /** The registry config's `auth:` section (htpasswd or token). */
  auth?: Record<string, unknown>;
  /** `http.tls` section: `{ certificate, key }` file paths. */
  tls?: { certificate: string; key: string };
  /** Extra top-level config keys (e.g. `notifications`). */
  extra?: Record<string, unknown>;
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

async function waitReady(url: string, child: ChildProcess, log: () => string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`docker-registry exited: ${log()}`);
    try {
      const res = await fetch(`${url}/v2/`);
      await res.arrayBuffer();
      if (res.status === 200 || res.status === 401) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`docker-registry did not start: ${log()}`);
}

/** Starts a registry; retries on a port race. */
export async function startRegistry(options: TestRegistryOptions = {}): Promise<TestRegistry> {
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      return await startOnce(options);
    } catch (err) {
      lastError = err;
    }
  }
  throw lastError;
}

async function startOnce(options: TestRegistryOptions): Promise<TestRegistry> {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-registry-'));
  const port = await freePort();
  const http: Record<string, unknown> = { addr: `127.0.0.1:${port}`, secret: 'ferry-test' };
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
  const child = spawn('docker-registry', ['serve', configPath], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (b: Buffer) => {
    stderr = (stderr + b.toString()).slice(-4000);
  });
  const scheme = options.tls ? 'https' : 'http';
  const url = `${scheme}://127.0.0.1:${port}`;
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
    await rm(dir, { recursive: true, force: true });
  };
  try {
    if (options.tls) {
      // fetch would reject the self-signed certificate; wait for the port instead.
      await waitPort(port, child, () => stderr);
    } else {
      await waitReady(url, child, () => stderr);
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return { host: `127.0.0.1:${port}`, url, port, dir, pid: child.pid ?? 0, stop };
}

async function waitPort(port: number, child: ChildProcess, log: () => string): Promise<void> {
  const { connect } = await import('node:net');
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`docker-registry exited: ${log()}`);
    const ok = await new Promise<boolean>((resolve) => {
      const sock = connect(port, '127.0.0.1');
      sock.once('connect', () => {
        sock.destroy();
        resolve(true);
      });
      sock.once('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`docker-registry did not start: ${log()}`);
}
