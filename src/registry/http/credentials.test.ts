// Docker config.json lookups (the module lives in src/registry/credentials.ts).
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { dockerConfigCredentials, readDockerConfig } from '../credentials.js';

const b64 = (s: string): string => Buffer.from(s).toString('base64');

describe('dockerConfigCredentials', () => {
  const config = {
    auths: {
      'https://index.docker.io/v1/': { auth: b64('hubuser:hub:pass') },
      'registry.example:5000': { username: 'u', password: 'p' },
      'https://ghcr.example/v2/': { auth: b64('gh:tok') },
      'token.example': { identitytoken: 'refresh-me', auth: b64('x:y') },
      'empty.example': {},
    },
    credsStore: 'desktop',
  };

  it('decodes auth (user:pass, the password may hold colons)', () => {
    expect(dockerConfigCredentials(config, 'docker.io')).toEqual({
      username: 'hubuser',
      password: 'hub:pass',
    });
    expect(dockerConfigCredentials(config, 'ghcr.example')).toEqual({
      username: 'gh',
      password: 'tok',
    });
  });

  it('reads username and password fields', () => {
    expect(dockerConfigCredentials(config, 'Registry.Example:5000')).toEqual({
      username: 'u',
      password: 'p',
    });
    expect(dockerConfigCredentials(config, 'registry.example')).toBeUndefined();
  });

  it('prefers an identity token', () => {
    expect(dockerConfigCredentials(config, 'token.example')).toEqual({ token: 'refresh-me' });
  });

  it('finds Docker Hub under any of its names', () => {
    for (const host of ['docker.io', 'index.docker.io', 'registry-1.docker.io']) {
      expect(dockerConfigCredentials(config, host)).toEqual({
        username: 'hubuser',
        password: 'hub:pass',
      });
    }
    expect(
      dockerConfigCredentials({ auths: { 'docker.io': { auth: b64('a:b') } } }, 'docker.io'),
    ).toEqual({
      username: 'a',
      password: 'b',
    });
  });

  it('answers undefined for unknown hosts, empty entries and odd input', () => {
    expect(dockerConfigCredentials(config, 'other.example')).toBeUndefined();
    expect(dockerConfigCredentials(config, 'empty.example')).toBeUndefined();
    expect(dockerConfigCredentials(null, 'docker.io')).toBeUndefined();
    expect(dockerConfigCredentials({ auths: 'x' }, 'docker.io')).toBeUndefined();
    expect(
      dockerConfigCredentials({ auths: { 'a.example': { auth: b64('nocolon') } } }, 'a.example'),
    ).toBeUndefined();
  });
});

describe('readDockerConfig', () => {
  it('parses the file, answers undefined when missing, refuses bad JSON', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ferry-docker-config-'));
    try {
      const path = join(dir, 'config.json');
      expect(await readDockerConfig(path)).toBeUndefined();
      await writeFile(path, JSON.stringify({ auths: { 'r.example': { auth: b64('a:b') } } }));
      expect(dockerConfigCredentials(await readDockerConfig(path), 'r.example')).toEqual({
        username: 'a',
        password: 'b',
      });
      await writeFile(path, '{ not json');
      await expect(readDockerConfig(path)).rejects.toMatchObject({ code: 'INVALID_CONFIG' });
      await expect(readDockerConfig(dir)).rejects.toMatchObject({ code: 'IO_ERROR' });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
