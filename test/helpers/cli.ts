// Runs the ferry CLI for tests: in-process through main() (fast, from the sources), or as
// the real executable (bin/ferry, which runs bin/ferry.js on the compiled dist/, as users
// run it).
import { execFile, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Writable } from 'node:stream';
import { main } from '../../src/cli/main.js';
import { withThisNode } from './node-env.js';

/** What a CLI run printed and returned. */
export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

function capture(): Writable & { text: () => string } {
  const chunks: Buffer[] = [];
  const w = new Writable({
    write(chunk: Buffer | string, _enc, cb) {
      chunks.push(Buffer.from(chunk));
      cb();
    },
  }) as Writable & { text: () => string };
  w.text = () => Buffer.concat(chunks).toString('utf8');
  return w;
}

/** Runs `ferry ARGS` in this process. */
export async function runFerry(...args: string[]): Promise<CliRun> {
  const stdout = capture();
  const stderr = capture();
  const code = await main(['node', 'ferry', ...args], { stdout, stderr });
  return { code, stdout: stdout.text(), stderr: stderr.text() };
}

/** The path of the real `ferry` executable (package.json "bin"). */
export const FERRY_BIN = fileURLToPath(new URL('../../bin/ferry', import.meta.url));

/** Runs the real executable (needs `npm run build`). */
export function spawnFerry(args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliRun> {
  return new Promise((resolve) => {
    execFile(
      FERRY_BIN,
      args,
      { env: withThisNode(env), maxBuffer: 64 << 20, timeout: 300_000 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** A `ferry serve` process started by a test. */
export interface ServeProcess {
  url: string;
  pid: number;
  /** Everything it printed so far. */
  output(): string;
  /** Sends `signal` and waits for the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** Starts the real `ferry serve` in `cwd` and waits for its "listening" line. */
export function startServe(
  args: string[],
  options: { cwd: string; env?: NodeJS.ProcessEnv; timeoutMs?: number },
): Promise<ServeProcess> {
  return startProcess('serve', args, options);
}

/** Starts the real `ferry worker` and waits for its "running" line (`url` is empty). */
export function startWorker(
  args: string[],
  options: { cwd: string; env?: NodeJS.ProcessEnv; timeoutMs?: number },
): Promise<ServeProcess> {
  return startProcess('worker', args, options);
}

function startProcess(
  command: 'serve' | 'worker',
  args: string[],
  options: { cwd: string; env?: NodeJS.ProcessEnv; timeoutMs?: number },
): Promise<ServeProcess> {
  const ready =
    command === 'serve' ? /Ferry is listening on (http:\/\/\S+)/ : /Ferry worker running()/;
  const child = spawn(FERRY_BIN, [command, ...args], {
    cwd: options.cwd,
    env: withThisNode({ FERRY_LOG_LEVEL: 'warn', ...options.env }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString('utf8')));
  child.stderr.on('data', (c: Buffer) => (out += c.toString('utf8')));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`ferry ${command} did not start:\n${out}`));
    }, options.timeoutMs ?? 60_000);
    const poll = setInterval(() => {
      const m = ready.exec(out);
      if (m) {
        clearInterval(poll);
        clearTimeout(timer);
        resolve({
          url: m[1]!,
          pid: child.pid!,
          output: () => out,
          stop: async (signal = 'SIGTERM') => {
            child.kill(signal);
            return exited;
          },
        });
      }
    }, 50);
    void exited.then((code) => {
      clearInterval(poll);
      clearTimeout(timer);
      reject(new Error(`ferry ${command} exited with ${code}:\n${out}`));
    });
  });
}
