// Must show (issue 2): malformed references, unreachable hosts, and registries answering
// 401, 404 or 500 give one-line errors that name what failed, and nothing is written.
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import bcrypt from 'bcryptjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FERRY_BIN, runFerry, spawnFerry } from '../helpers/cli.js';
import { withThisNode } from '../helpers/node-env.js';
import { startFaultProxy, type FaultProxy } from '../helpers/fault-proxy.js';
import { pushImage } from '../helpers/images.js';
import { freePort, startRegistry, type TestRegistry } from '../helpers/registry.js';

describe('bad input', () => {
  let a: TestRegistry;
  let target: TestRegistry;
  let locked: TestRegistry;
  let broken: FaultProxy;
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-bad-'));
    const htpasswd = join(dir, 'htpasswd');
    await writeFile(htpasswd, `alice:${bcrypt.hashSync('right', 10)}\n`);
    [a, target, locked] = await Promise.all([
      startRegistry(),
      startRegistry(),
      startRegistry({ auth: { htpasswd: { realm: 'test', path: htpasswd } } }),
    ]);
    await pushImage(a.url, 'ns/app', 'v1', { layers: [{ size: 1000, seed: 'x' }] });
    broken = await startFaultProxy(a.url);
    broken.addRule({ path: /.*/, fault: { type: 'status', status: 500 } });
  });

  afterAll(async () => {
    await broken?.stop();
    await Promise.all([a?.stop(), target?.stop(), locked?.stop()]);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  /** The single error line of a failed run (stdout or stderr). */
  function errorLine(run: { stdout: string; stderr: string }): string {
    const lines = (run.stdout + run.stderr)
      .split('\n')
      .filter((l) => /^(failed|ferry: [A-Z_]+:)/.test(l));
    expect(lines).toHaveLength(1);
    return lines[0]!;
  }

  it.each([
    ['UPPER/Case:v1', /INVALID_REFERENCE: invalid reference "UPPER\/Case:v1": .*repository name/],
    [
      '127.0.0.1:5000/app:bad tag!',
      /INVALID_REFERENCE: invalid reference ".*": ".*" is not a valid tag/,
    ],
    ['127.0.0.1:5000/app@sha256:1234', /INVALID_REFERENCE: .*is not a sha256 or sha512 digest/],
  ])('a malformed reference %j', async (ref, message) => {
    const run = await runFerry('copy', ref, `${target.host}/x/y:v1`);
    expect(run.code).toBe(1);
    expect(errorLine(run)).toMatch(message);
  });

  it('an unreachable host', async () => {
    const port = await freePort();
    const run = await runFerry(
      'copy',
      '--retries',
      '2',
      `127.0.0.1:${port}/ns/app:v1`,
      `${target.host}/x/y:v1`,
    );
    expect(run.code).toBe(1);
    expect(errorLine(run)).toMatch(new RegExp(`CONNECTION_FAILED: .*127\\.0\\.0\\.1:${port}`));
  });

  it('a registry answering 401', async () => {
    const run = await runFerry('copy', `${a.host}/ns/app:v1`, `${locked.host}/x/y:v1`);
    expect(run.code).toBe(1);
    expect(errorLine(run)).toMatch(new RegExp(`UNAUTHORIZED: .*${locked.host}`));
    const wrong = await runFerry(
      'copy',
      '--dst-creds',
      'alice:wrong',
      `${a.host}/ns/app:v1`,
      `${locked.host}/x/y:v1`,
    );
    expect(errorLine(wrong)).toMatch(new RegExp(`UNAUTHORIZED: .*${locked.host}`));
    // The right password works.
    const ok = await runFerry(
      'copy',
      '--dst-creds',
      'alice:right',
      `${a.host}/ns/app:v1`,
      `${locked.host}/x/y:v1`,
    );
    expect(ok.code).toBe(0);
  });

  it('a registry answering 404', async () => {
    const run = await runFerry('copy', `${a.host}/ns/nothing:v1`, `${target.host}/x/y:v1`);
    expect(run.code).toBe(1);
    expect(errorLine(run)).toMatch(/MANIFEST_UNKNOWN: .*ns\/nothing:v1/);
  });

  it('a registry answering 500', async () => {
    const run = await runFerry(
      'copy',
      '--retries',
      '2',
      `${broken.host}/ns/app:v1`,
      `${target.host}/x/y:v1`,
    );
    expect(run.code).toBe(1);
    expect(errorLine(run)).toMatch(new RegExp(`REGISTRY_UNAVAILABLE: .*${broken.host}.*500`));
  });

  it('usage errors from the real executable', async () => {
    const run = await spawnFerry(['copy', 'only-one-arg']);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/missing required argument 'dst'/);
  });

  it('a reader that goes away (`ferry ... | head`) ends the run quietly, not with a stack trace', async () => {
    for (const command of ['sync', 'serve']) {
      const child = spawn(FERRY_BIN, [command, '--help'], {
        env: withThisNode(),
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      // Closed before Ferry has started, so its first write meets a closed pipe.
      child.stdout.destroy();
      let stderr = '';
      child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
      const code = await new Promise<number | null>((r) => child.once('close', r));
      expect(stderr).toBe('');
      expect(code).toBe(0);
    }
  });

  it('left nothing half-written at the target', async () => {
    const res = await fetch(`${target.url}/v2/_catalog`);
    expect(await res.json()).toEqual({ repositories: [] });
  });
});
