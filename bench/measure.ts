// Runs a command as a child process and measures it: wall-clock time, exit status, output,
// and peak resident memory. Peak RSS comes from GNU time's `%M` when /usr/bin/time exists;
// otherwise from the child's `VmHWM` in /proc, read every 50 ms until it exits.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { withThisNode } from '../test/helpers/node-env.js';
import type { Resources } from './cleanup.js';

const GNU_TIME = '/usr/bin/time';
const OUTPUT_LIMIT = 4 * 1024 * 1024;

/** How one command run went. */
export interface Measured {
  /** Wall-clock milliseconds from spawn to exit. */
  ms: number;
  /** Exit code (null when killed by a signal). */
  code: number | null;
  /** stdout and stderr, interleaved as they arrived (the first 4 MiB). */
  output: string;
  /** Peak resident set size in bytes, when it could be measured. */
  peakRssBytes: number | undefined;
  /** How the peak was measured. */
  rssSource: 'gnu-time' | 'vmhwm-poll';
}

/** Runs `command args` in `cwd`, measuring it; `scratch` is a folder for GNU time's output file. */
export async function measure(
  resources: Resources,
  command: string,
  args: string[],
  options: { cwd: string; scratch: string },
): Promise<Measured> {
  const gnuTime = existsSync(GNU_TIME);
  const rssFile = join(options.scratch, `rss-${process.hrtime.bigint()}.txt`);
  const [file, argv] = gnuTime
    ? [GNU_TIME, ['-f', '%M', '-o', rssFile, command, ...args]]
    : [command, args];
  const started = process.hrtime.bigint();
  const child = spawn(file, argv, {
    cwd: options.cwd,
    // bin/ferry runs `node` from PATH: the same Node as the benchmark.
    env: withThisNode(),
    stdio: ['ignore', 'pipe', 'pipe'],
    // Its own process group, so an interrupted benchmark can end it together with its child.
    detached: true,
  });
  resources.trackChild(child);
  let output = '';
  const collect = (b: Buffer): void => {
    if (output.length < OUTPUT_LIMIT) output += b.toString('utf8');
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  let peakKiB = 0;
  const poll = gnuTime
    ? undefined
    : setInterval(() => {
        void readFile(`/proc/${child.pid}/status`, 'utf8').then(
          (status) => {
            const kib = Number(/^VmHWM:\s+(\d+) kB/m.exec(status)?.[1] ?? 0);
            peakKiB = Math.max(peakKiB, kib);
          },
          () => undefined,
        );
      }, 50);
  let ms = 0;
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', () => {
      ms = Number(process.hrtime.bigint() - started) / 1e6;
    });
    // `close` waits for the pipes too, so the output is complete.
    child.once('close', (exitCode) => resolve(exitCode));
  });
  if (poll) clearInterval(poll);
  if (gnuTime) {
    const text = await readFile(rssFile, 'utf8').catch(() => '');
    await rm(rssFile, { force: true });
    // GNU time writes "Command exited with non-zero status N" before the value on failure.
    peakKiB = Number(/(\d+)\s*$/.exec(text.trim())?.[1] ?? 0);
  }
  return {
    ms,
    code,
    output,
    peakRssBytes: peakKiB > 0 ? peakKiB * 1024 : undefined,
    rssSource: gnuTime ? 'gnu-time' : 'vmhwm-poll',
  };
}

/** Throws with the tail of the output when the command did not exit 0. */
export function assertSucceeded(what: string, run: Measured): void {
  if (run.code === 0) return;
  const tail = run.output.trim().split('\n').slice(-20).join('\n');
  throw new Error(`${what} exited with ${String(run.code)}:\n${tail}`);
}

function cpuTimes(): { idle: number; total: number } {
  // First line of /proc/stat: aggregate jiffies (user nice system idle iowait irq softirq steal …).
  const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]?.trim().split(/\s+/).slice(1);
  const values = (fields ?? []).map(Number);
  const idle = (values[3] ?? 0) + (values[4] ?? 0);
  return { idle, total: values.slice(0, 8).reduce((a, b) => a + b, 0) };
}

/** Percent of all CPUs busy over `ms` milliseconds (the benchmark itself being idle meanwhile). */
export async function cpuBusy(ms = 500): Promise<number> {
  const before = cpuTimes();
  await new Promise((r) => setTimeout(r, ms));
  const after = cpuTimes();
  const total = after.total - before.total;
  return total > 0 ? (100 * (total - (after.idle - before.idle))) / total : 0;
}

/**
 * Waits (up to `maxWaitMs`) until other processes leave the CPUs mostly idle, so a timing is
 * not shared with someone else's work; returns the last busy percentage seen.
 */
export async function waitForQuietCpu(
  thresholdPercent = 15,
  maxWaitMs = 60_000,
  onWait?: (busy: number) => void,
): Promise<number> {
  const deadline = Date.now() + maxWaitMs;
  let busy = await cpuBusy();
  let told = false;
  while (busy > thresholdPercent && Date.now() < deadline) {
    if (!told) onWait?.(busy);
    told = true;
    busy = await cpuBusy(1000);
  }
  return busy;
}

async function ticksOf(pid: number | 'self'): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  // After the parenthesised name: state is field 3; utime, stime, cutime, cstime are 14-17.
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const field = (n: number): number => Number(f[n - 3] ?? 0);
  // cutime/cstime hold the children this process has waited for (the timed commands, and
  // through /usr/bin/time their own children).
  return field(14) + field(15) + field(16) + field(17);
}

/** A start point for measuring how much CPU other processes took during a timing. */
export interface CpuProbe {
  /** Percent of all CPUs' capacity used, since the start, by processes other than ours. */
  othersPercent(): Promise<number>;
}

/**
 * Starts a probe: the machine's busy time minus this process's, its waited children's and
 * `pids`' (the registries), so what is left is someone else's work sharing the CPUs.
 */
export async function startCpuProbe(pids: readonly number[]): Promise<CpuProbe> {
  const ours = async (): Promise<number> => {
    let sum = await ticksOf('self');
    for (const pid of pids) sum += await ticksOf(pid);
    return sum;
  };
  const machine0 = cpuTimes();
  const ours0 = await ours();
  return {
    async othersPercent(): Promise<number> {
      const machine1 = cpuTimes();
      const ours1 = await ours();
      const total = machine1.total - machine0.total;
      const busy = total - (machine1.idle - machine0.idle);
      return total > 0 ? Math.max(0, (100 * (busy - (ours1 - ours0))) / total) : 0;
    },
  };
}
