// `ferry demo`: walks a newcomer through Ferry's job against a running `ferry serve` on its
// embedded defaults (two local regions): it gets IAM tokens, creates a namespace in both
// regions, pushes sample images to cn-north-4, syncs them to cn-east-3 through the SWR API,
// and shows the sync jobs and the digests on both sides. Each step prints its curl equivalent.
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { FerryError } from '../errors/catalog.js';
import { sha256Digest } from '../registry/digest.js';
import { HttpRegistry } from '../registry/http/registry.js';
import { MediaType } from '../registry/types.js';
import type { CliIo } from './copy.js';
import { putImage } from './demo.js';

/** Flags of `ferry demo`. */
export interface DemoFlags {
  url: string;
  dataDir: string;
}

const FROM = 'cn-north-4';
const TO = 'cn-east-3';

/** Runs the walkthrough; resolves to the exit code. */
export async function runServiceDemo(flags: DemoFlags, io: CliIo): Promise<number> {
  const url = flags.url.replace(/\/$/, '');
  const say = (s: string) => io.stdout.write(`\n== ${s}\n`);
  const show = (s: string) => io.stdout.write(`   $ ${s}\n`);

  let password: string;
  const file = join(resolve(flags.dataDir), 'admin-password');
  try {
    password = (await readFile(file, 'utf8')).trim();
  } catch {
    throw new FerryError(
      'INVALID_ARGUMENT',
      `${file} not found: start the service first with \`npm start\` (ferry serve, no config) in this folder, or pass --data-dir`,
    );
  }
  const call = async (method: string, path: string, token?: string, body?: unknown) => {
    let res: Response;
    try {
      res = await fetch(`${url}${path}`, {
        method,
        headers: {
          'content-type': 'application/json',
          ...(token ? { 'x-auth-token': token } : {}),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (err) {
      throw new FerryError(
        'CONNECTION_FAILED',
        `${url}: ${(err as Error).message}: is \`npm start\` running?`,
      );
    }
    const text = await res.text();
    return {
      status: res.status,
      headers: res.headers,
      json: text ? (JSON.parse(text) as unknown) : undefined,
    };
  };
  const tokenFor = async (project: string): Promise<string> => {
    const body = {
      auth: {
        identity: {
          methods: ['password'],
          password: { user: { name: 'admin', password, domain: { name: 'demo' } } },
        },
        scope: { project: { name: project } },
      },
    };
    const res = await call('POST', '/v3/auth/tokens?nocatalog=true', undefined, body);
    if (res.status !== 201) {
      throw new FerryError('UNAUTHENTICATED', `token for ${project}: ${JSON.stringify(res.json)}`);
    }
    return res.headers.get('x-subject-token')!;
  };

  say(`1. IAM tokens for ${FROM} and ${TO} (password in ${file})`);
  show(
    `curl -si ${url}/v3/auth/tokens -H 'Content-Type: application/json' -d '{"auth":{"identity":{"methods":["password"],"password":{"user":{"name":"admin","password":"'$(cat ${file})'","domain":{"name":"demo"}}}},"scope":{"project":{"name":"${FROM}"}}}}' | grep -i x-subject-token`,
  );
  const tokenA = await tokenFor(FROM);
  const tokenB = await tokenFor(TO);
  io.stdout.write('   got two tokens (X-Subject-Token)\n');

  const regions = (await call('GET', '/v3/regions', tokenA)).json as {
    regions: { id: string; registry: string }[];
  };
  const registryOf = (id: string) => regions.regions.find((r) => r.id === id)?.registry;
  const hostA = registryOf(FROM);
  const hostB = registryOf(TO);
  if (!hostA || !hostB) {
    throw new FerryError(
      'INVALID_CONFIG',
      `the service has no regions ${FROM} and ${TO}: run it with no config (npm start)`,
    );
  }

  say(`2. namespace "demo" in both regions`);
  show(
    `curl -X POST ${url}/v2/manage/namespaces -H "X-Auth-Token: $TOKEN" -H 'Content-Type: application/json' -d '{"namespace":"demo"}'`,
  );
  for (const token of [tokenA, tokenB]) {
    const res = await call('POST', '/v2/manage/namespaces', token, { namespace: 'demo' });
    io.stdout.write(
      `   ${res.status === 201 ? 'created' : res.status === 409 ? 'already there' : JSON.stringify(res.json)}\n`,
    );
  }

  say(`3. sample images pushed to ${FROM}'s registry (${hostA})`);
  const reg = new HttpRegistry({ host: hostA });
  const base = Buffer.alloc(2 << 20, 'ferry base layer ');
  const image = await putImage(reg, 'demo/hello', '1.0', [
    base,
    Buffer.from(`hello ${Date.now()}`),
  ]);
  const children = [
    await putImage(reg, 'demo/hello', 'amd64', [base, Buffer.from('amd64')]),
    await putImage(reg, 'demo/hello', 'arm64', [base, Buffer.from('arm64')], {
      architecture: 'arm64',
      os: 'linux',
    }),
  ];
  const index = Buffer.from(
    JSON.stringify({ schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: children }),
  );
  const indexDigest = sha256Digest(index);
  await reg.manifestPut('demo/hello', 'multi', {
    mediaType: MediaType.OciIndex,
    digest: indexDigest,
    bytes: index,
  });
  await reg.close();
  io.stdout.write(
    `   demo/hello:1.0 ${image.digest}\n   demo/hello:multi ${indexDigest} (amd64 + arm64)\n`,
  );

  say(`4. sync demo/hello:1.0 and :multi from ${FROM} to ${TO}`);
  const syncBody = {
    imageTag: ['1.0', 'multi'],
    remoteRegionId: TO,
    remoteNamespace: 'demo',
    override: true,
  };
  show(
    `curl -X POST ${url}/v2/manage/namespaces/demo/repos/hello/sync_images -H "X-Auth-Token: $TOKEN" -H 'Content-Type: application/json' -d '${JSON.stringify(syncBody)}'`,
  );
  const synced = await call(
    'POST',
    '/v2/manage/namespaces/demo/repos/hello/sync_images',
    tokenA,
    syncBody,
  );
  io.stdout.write(
    `   ${synced.status} ${JSON.stringify(synced.json)}   ([] means every tag synced)\n`,
  );

  say('5. the sync jobs');
  show(
    `curl "${url}/v2/manage/namespaces/demo/repos/hello/sync_job?filter=limit::5|offset::0|order::desc" -H "X-Auth-Token: $TOKEN"`,
  );
  const jobs = await call(
    'GET',
    '/v2/manage/namespaces/demo/repos/hello/sync_job?filter=limit::5|offset::0|order::desc',
    tokenA,
  );
  for (const j of jobs.json as { id: number; tag: string; status: string; bytesCopied: number }[]) {
    io.stdout.write(`   job ${j.id}: ${j.tag} ${j.status} (${j.bytesCopied} bytes copied)\n`);
  }

  say(`6. the tags in ${TO}, with their digests`);
  show(
    `curl ${url}/v2/manage/namespaces/demo/repos/hello/tags -H "X-Auth-Token: $TOKEN_${TO.replaceAll('-', '_').toUpperCase()}"`,
  );
  const tags = await call('GET', '/v2/manage/namespaces/demo/repos/hello/tags', tokenB);
  let exact = true;
  for (const t of (tags.json as { Tag: string; digest: string }[]) ?? []) {
    const want = t.Tag === '1.0' ? image.digest : t.Tag === 'multi' ? indexDigest : undefined;
    if (want === undefined) continue;
    exact &&= want === t.digest;
    io.stdout.write(
      `   ${t.Tag} ${t.digest} ${want === t.digest ? 'same digest as the source' : 'DIFFERS'}\n`,
    );
  }
  io.stdout.write(
    `\nCheck it with skopeo: skopeo inspect --raw --tls-verify=false docker://${hostB}/demo/hello:multi | sha256sum\n` +
      `API docs: ${url}/docs. Next: README.md ("Use the API") and docs/api.md.\n`,
  );
  return synced.status === 200 && exact ? 0 : 1;
}
