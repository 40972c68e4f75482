// Everything the benchmark starts (registries, child processes, temporary folders) is
// registered here, so one `release()` stops and removes all of it, on success, on failure
// and on Ctrl-C alike.
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { startLocalRegistry, type LocalRegistry } from '../src/cli/local-registry.js';

/** The benchmark's registries, children and folders, released together. */
export class Resources {
  private readonly registries = new Set<LocalRegistry>();
  private readonly children = new Set<ChildProcess>();
  private readonly dirs = new Set<string>();
  private released: Promise<void> | undefined;

  /** Starts a fresh, empty `docker-registry` on loopback; fails after 60 s. */
  async startRegistry(): Promise<LocalRegistry> {
    this.assertOpen();
    let timer: NodeJS.Timeout | undefined;
    const registry = await Promise.race([
      startLocalRegistry(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error('docker-registry did not start in 60 s')),
          60_000,
        );
      }),
    ]).finally(() => clearTimeout(timer));
    this.registries.add(registry);
    // A Ctrl-C that arrived while it was starting has already released everything else.
    if (this.released) {
      await this.stopRegistry(registry);
      this.assertOpen();
    }
    return registry;
  }

  /** Stops a registry this object started and removes its folder. */
  async stopRegistry(registry: LocalRegistry): Promise<void> {
    this.registries.delete(registry);
    await registry.stop();
  }

  /** Runs `fn` with a fresh registry, stopped afterwards whatever happens. */
  async withRegistry<T>(fn: (registry: LocalRegistry) => Promise<T>): Promise<T> {
    const registry = await this.startRegistry();
    try {
      return await fn(registry);
    } finally {
      await this.stopRegistry(registry);
    }
  }

  /** A new temporary folder, removed by `release()`. */
  async tempDir(prefix: string): Promise<string> {
    this.assertOpen();
    const dir = await mkdtemp(join(tmpdir(), prefix));
    this.dirs.add(dir);
    return dir;
  }

  /** Remembers a running child (spawned `detached`, so it leads its own process group). */
  trackChild(child: ChildProcess): void {
    this.children.add(child);
    child.once('exit', () => this.children.delete(child));
  }

  /** Kills the running children, stops the registries, removes the folders; safe to call twice. */
  release(): Promise<void> {
    this.released ??= (async () => {
      for (const child of this.children) {
        // The group, by its leader's id: `/usr/bin/time` does not pass SIGTERM to its child.
        if (child.pid !== undefined) {
          try {
            process.kill(-child.pid, 'SIGTERM');
          } catch {
            // already gone
          }
        }
      }
      await Promise.allSettled([...this.registries].map((r) => this.stopRegistry(r)));
      await stopUntrackedRegistries();
      await Promise.allSettled([...this.dirs].map((d) => rm(d, { recursive: true, force: true })));
    })();
    return this.released;
  }

  private assertOpen(): void {
    if (this.released) throw new Error('benchmark interrupted');
  }
}

/**
 * Stops any `docker-registry` that is still a child of this process (one whose start never
 * returned, so it was never tracked) and removes its folder. Only direct children, by id.
 */
async function stopUntrackedRegistries(): Promise<void> {
  const pids = (await readdir('/proc').catch(() => [] as string[])).filter((p) => /^\d+$/.test(p));
  for (const pid of pids) {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
    // Field 4 (after the parenthesised command name) is the parent's id.
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    if (ppid !== process.pid) continue;
    const argv = (await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).split('\0');
    if (!argv[0]?.endsWith('docker-registry') || argv[1] !== 'serve' || !argv[2]) continue;
    try {
      process.kill(Number(pid), 'SIGTERM');
    } catch {
      // already gone
    }
    const dir = dirname(argv[2]);
    if (dirname(dir) === tmpdir() && basename(dir).startsWith('ferry-registry-')) {
      await rm(dir, { recursive: true, force: true });
    }
  }
}
