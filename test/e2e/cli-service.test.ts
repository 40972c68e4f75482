// The service's helper commands: `ferry region notification-config` prints a notifications
// block a CNCF distribution registry accepts (checked by starting one with it).
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runFerry } from '../helpers/cli.js';
import { startRegistry } from '../helpers/registry.js';

describe('ferry region notification-config', () => {
  let dir: string;
  let config: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-cli-'));
    config = join(dir, 'ferry.yaml');
    await writeFile(
      config,
      [
        'version: 1',
        'listen: 127.0.0.1:9090',
        'regions:',
        '  - { id: cn-north-4, url: "http://127.0.0.1:5000", eventToken: s3cret-token }',
        '  - { id: cn-east-3, url: "http://127.0.0.1:5001" }',
      ].join('\n'),
    );
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('prints the block with the event URL and token, and a registry starts with it', async () => {
    const run = await runFerry('region', 'notification-config', 'cn-north-4', '--config', config);
    expect(run.code).toBe(0);
    const block = parse(run.stdout) as {
      notifications: { endpoints: { url: string; headers: Record<string, string[]> }[] };
    };
    const [endpoint] = block.notifications.endpoints;
    expect(endpoint!.url).toBe('http://127.0.0.1:9090/v2/events/registries/cn-north-4');
    expect(endpoint!.headers.Authorization).toEqual(['Bearer s3cret-token']);
    // Debian's docker-registry accepts the block as it is.
    const reg = await startRegistry({ extra: block });
    await reg.stop();

    const other = await runFerry(
      'region',
      'notification-config',
      'cn-north-4',
      '--config',
      config,
      '--url',
      'https://ferry.example.com/',
    );
    expect(other.stdout).toContain(
      'url: https://ferry.example.com/v2/events/registries/cn-north-4',
    );
  });

  it('names what is missing: an unknown region, a region without eventToken', async () => {
    const unknown = await runFerry('region', 'notification-config', 'mars-1', '--config', config);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(
      /no region mars-1 in the config \(known: cn-north-4, cn-east-3\)/,
    );
    const tokenless = await runFerry(
      'region',
      'notification-config',
      'cn-east-3',
      '--config',
      config,
    );
    expect(tokenless.code).toBe(1);
    expect(tokenless.stderr).toMatch(/cn-east-3: set eventToken/);
  });
});
