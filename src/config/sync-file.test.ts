import { describe, expect, it } from 'vitest';
import { parseSyncFile } from './sync-file.js';

describe('sync file', () => {
  it('parses a full file', () => {
    const f = parseSyncFile(
      `version: 1
defaults: { override: false, platforms: [linux/amd64] }
registries:
  - { host: "127.0.0.1:5000", insecure: true, username: u, password: p }
sync:
  - source: 127.0.0.1:5000
    target: 127.0.0.1:5001
    repositories: [ns/a, ns/b]
  - { source: "127.0.0.1:5000/x", target: "127.0.0.1:5001/y", tags: { allow: ["v.*"], deny: ["v0.*"] }, override: true }
`,
      'f.yaml',
    );
    expect(f.sync).toHaveLength(2);
    expect(f.sync[0]?.repositories).toEqual(['ns/a', 'ns/b']);
    expect(f.sync[1]?.tags).toEqual({ allow: ['v.*'], deny: ['v0.*'] });
    expect(f.registries[0]).toEqual({
      host: '127.0.0.1:5000',
      insecure: true,
      username: 'u',
      password: 'p',
    });
    expect(f.defaults.platforms).toEqual(['linux/amd64']);
  });

  it.each([
    ['version: 2\nsync: [{source: a, target: b}]', 'f.yaml: version: must be 1'],
    ['version: 1', 'f.yaml: sync: must be a non-empty list'],
    ['version: 1\nsync: [{source: a}]', 'f.yaml: sync[0].target: is required'],
    [
      'version: 1\nsync: [{source: a, target: b, overide: true}]',
      'f.yaml: sync[0].overide: unknown key',
    ],
    [
      'version: 1\nsync: [{source: a, target: b, override: yes please}]',
      'f.yaml: sync[0].override: must be true or false',
    ],
    [
      'version: 1\nregistries: [{insecure: true}]\nsync: [{source: a, target: b}]',
      'f.yaml: registries[0].host: is required',
    ],
    ['version: [1\n', 'f.yaml: (file): not valid YAML'],
  ])('rejects %j naming the key', (text, message) => {
    expect(() => parseSyncFile(text, 'f.yaml')).toThrow(message);
  });
});
