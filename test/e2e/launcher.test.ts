// The `ferry` executable (bin/ferry) and NODE_EXTRA_CA_CERTS: for `ferry copy` and `ferry sync`
// Node must not load the file while starting, and Ferry must still trust its certificates
// on the first TLS connection. Real registries, one of them serving HTTPS with a test CA
// that only NODE_EXTRA_CA_CERTS names.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTls } from '../helpers/auth.js';
import { spawnFerry } from '../helpers/cli.js';
import { pushImage, type PushedImage } from '../helpers/images.js';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';
import { dockerRef, skopeoInspectRaw } from '../helpers/skopeo.js';

/** What Node 20 prints when it loads NODE_EXTRA_CA_CERTS and the file is missing. */
const NODE_LOADED_IT = /Ignoring extra certs from/;

describe('the ferry executable and NODE_EXTRA_CA_CERTS', () => {
  let dir: string;
  let caFile: string;
  let plain: TestRegistry;
  let other: TestRegistry;
  let secure: TestRegistry;
  let image: PushedImage;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-launcher-'));
    const tls = await makeTls(dir);
    caFile = join(dir, 'extra-ca.pem');
    await writeFile(caFile, tls.ca.certPem);
    [plain, other, secure] = await Promise.all([
      startRegistry(),
      startRegistry(),
      startRegistry({ tls: tls.server }),
    ]);
    image = await pushImage(plain.url, 'ns/app', 'v1', { layers: [{ size: 4000, seed: 'l' }] });
  });

  afterAll(async () => {
    await Promise.all([plain?.stop(), other?.stop(), secure?.stop()]);
    await rm(dir, { recursive: true, force: true });
  });

  /** A sync file whose one entry copies the image to `target`, over HTTPS (no CA given). */
  async function syncFileTo(target: TestRegistry, tag: string): Promise<string> {
    const file = join(dir, `sync-${tag}.yaml`);
    await writeFile(
      file,
      [
        'version: 1',
        'sync:',
        `  - source: ${plain.host}/ns/app:v1`,
        `    target: ${target.host}/ns/app:${tag}`,
        'registries:',
        `  - host: ${target.host}`,
        '    insecure: false',
        '',
      ].join('\n'),
    );
    return file;
  }

  it('Node loads the file at start for other commands, but not for copy and sync', async () => {
    const missing = { NODE_EXTRA_CA_CERTS: join(dir, 'missing.pem') };
    const version = await spawnFerry(['--version'], missing);
    expect(version.code).toBe(0);
    expect(version.stderr).toMatch(NODE_LOADED_IT);

    // Plain HTTP only: no TLS connection, so the file is never read.
    const copy = await spawnFerry(
      ['copy', `${plain.host}/ns/app:v1`, `${other.host}/ns/app:v1`],
      missing,
    );
    expect(copy.stderr).not.toMatch(NODE_LOADED_IT);
    expect(copy.code).toBe(0);
    expect((await skopeoInspectRaw(dockerRef(other.host, 'ns/app', 'v1'))).digest).toBe(
      image.digest,
    );
  });

  it('copy and sync still trust the certificates it names, on their first TLS connection', async () => {
    const run = await spawnFerry(['sync', '--config', await syncFileTo(secure, 'v1')], {
      NODE_EXTRA_CA_CERTS: caFile,
    });
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect((await skopeoInspectRaw(dockerRef(secure.host, 'ns/app', 'v1'))).digest).toBe(
      image.digest,
    );
  });

  it('without it the test CA is not trusted, so the certificates above came from it', async () => {
    const run = await spawnFerry(['sync', '--config', await syncFileTo(secure, 'v2')], {
      NODE_EXTRA_CA_CERTS: '',
    });
    expect(run.code).toBe(1);
    expect(run.stdout + run.stderr).toMatch(/CONNECTION_FAILED: .*certificate/);
  });

  it('a file that cannot be read gets Node’s own warning, once, when TLS is first needed', async () => {
    const run = await spawnFerry(['sync', '--config', await syncFileTo(secure, 'v3')], {
      NODE_EXTRA_CA_CERTS: join(dir, 'missing.pem'),
    });
    expect(run.stderr.match(new RegExp(NODE_LOADED_IT, 'g'))).toHaveLength(1);
    expect(run.code).toBe(1);
    expect(run.stdout + run.stderr).toMatch(/CONNECTION_FAILED: .*certificate/);
  });
});
