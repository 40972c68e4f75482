// Must show (issue 3): `ferry serve` with no config starts in an empty folder on the embedded
// defaults, creates its database, and after a restart still has what was created before;
// `ferry admin access-key create` prints a pair that signs requests.
import { chmod, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnFerry, startServe, type ServeProcess } from '../helpers/cli.js';
import { getToken } from '../helpers/ferry.js';
import { signedFetch } from '../helpers/sdk-sign.js';

describe('ferry serve on embedded defaults', () => {
  let dir: string;
  let serve: ServeProcess | undefined;
  const env = { FERRY_LISTEN: '127.0.0.1:0' };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-serve-'));
    // As root, PostgreSQL runs as user postgres, which must be able to enter the folder
    // (else Ferry would place the cluster in /var/lib/ferry, outside this test's folder).
    await chmod(dir, 0o711);
  });

  afterAll(async () => {
    await serve?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('starts in an empty folder, prints where things are, and answers', async () => {
    serve = await startServe([], { cwd: dir, env });
    const out = serve.output();
    expect(out).toContain(`embedded PostgreSQL in ${join(dir, 'ferry-data', 'postgres')}`);
    expect(out).toMatch(/regions: cn-north-4, cn-east-3/);
    expect(out).toContain(`password in ${join(dir, 'ferry-data', 'admin-password')}`);
    expect((await stat(join(dir, 'ferry-data', 'postgres', 'PG_VERSION'))).isFile()).toBe(true);
    // Secret files are private to the owner.
    expect((await stat(join(dir, 'ferry-data', 'admin-password'))).mode & 0o077).toBe(0);
    expect((await stat(join(dir, 'ferry-data', 'secret.key'))).mode & 0o077).toBe(0);
    expect((await fetch(`${serve.url}/healthz`)).status).toBe(200);
  });

  it('keeps namespaces and access keys across a restart', async () => {
    const password = (await readFile(join(dir, 'ferry-data', 'admin-password'), 'utf8')).trim();
    const user = { domain: 'demo', name: 'admin', password };
    const token = await getToken(serve!.url, user, 'cn-north-4');
    const created = await fetch(`${serve!.url}/v2/manage/namespaces`, {
      method: 'POST',
      headers: { 'x-auth-token': token, 'content-type': 'application/json' },
      body: JSON.stringify({ namespace: 'kept' }),
    });
    expect(created.status).toBe(201);

    // The admin command attaches to the database the server is using.
    const admin = await spawnFerry(['admin', 'access-key', 'create', '--user', 'admin'], {
      ...env,
      FERRY_DATA_DIR: join(dir, 'ferry-data'),
    });
    expect(admin.stderr).toBe('');
    expect(admin.code).toBe(0);
    const ak = /AK=(\S+)/.exec(admin.stdout)![1]!;
    const sk = /SK=(\S+)/.exec(admin.stdout)![1]!;
    expect((await fetch(`${serve!.url}/healthz`)).status).toBe(200);

    expect(await serve!.stop('SIGTERM')).toBe(0);
    expect(serve!.output()).toContain('SIGTERM: stopping');
    serve = await startServe([], { cwd: dir, env });

    // The old token was stored (hashed) and still works; so does the access key.
    const list = await fetch(`${serve.url}/v2/manage/namespaces`, {
      headers: { 'x-auth-token': token },
    });
    expect(await list.json()).toEqual({
      namespaces: [{ id: expect.any(Number), name: 'kept', creator_name: 'admin', auth: 7 }],
    });
    const signed = await signedFetch(
      serve.url,
      { ak, sk },
      { method: 'GET', path: '/v2/manage/namespaces' },
    );
    expect(signed.status).toBe(200);
    expect((signed.json() as { namespaces: { name: string }[] }).namespaces[0]!.name).toBe('kept');
  });

  it('`ferry demo` syncs sample images between the two local regions through the API', async () => {
    const demo = await spawnFerry([
      'demo',
      '--url',
      serve!.url,
      '--data-dir',
      join(dir, 'ferry-data'),
    ]);
    expect(demo.stderr).toBe('');
    expect(demo.stdout).toMatch(/200 \[\]/);
    expect(demo.stdout).toMatch(/job \d+: 1\.0 success/);
    expect(demo.stdout.match(/same digest as the source/g)).toHaveLength(2);
    expect(demo.code).toBe(0);
  });
});
