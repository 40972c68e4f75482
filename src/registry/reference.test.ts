import { describe, expect, it } from 'vitest';
import { isFerryError } from '../errors/catalog.js';
import { formatReference, parseEndpoint, parseReference } from './reference.js';

const D = `sha256:${'a'.repeat(64)}`;

describe('parseReference', () => {
  it.each([
    ['ubuntu', { registry: 'docker.io', repository: 'library/ubuntu' }],
    ['ubuntu:22.04', { registry: 'docker.io', repository: 'library/ubuntu', tag: '22.04' }],
    ['bitnami/redis:7', { registry: 'docker.io', repository: 'bitnami/redis', tag: '7' }],
    ['127.0.0.1:5000/ns/app:v1', { registry: '127.0.0.1:5000', repository: 'ns/app', tag: 'v1' }],
    ['localhost/app', { registry: 'localhost', repository: 'app' }],
    ['Reg.Example.com/a/b/c@' + D, { registry: 'reg.example.com', repository: 'a/b/c', digest: D }],
    ['h.io:443/app:t@' + D, { registry: 'h.io:443', repository: 'app', tag: 't', digest: D }],
    ['[::1]:5000/app:v', { registry: '[::1]:5000', repository: 'app', tag: 'v' }],
  ])('%s', (input, expected) => {
    expect(parseReference(input)).toEqual(expected);
  });

  it.each([
    ['', 'empty'],
    ['UPPER/case', 'repository'],
    ['h.io/app:bad tag', 'tag'],
    ['h.io/app@sha256:xyz', 'digest'],
    ['h.io:99999/app', 'port'],
    ['h.io/app//x', 'repository'],
    ['h.io/-app', 'repository'],
  ])('rejects %j with a clear INVALID_REFERENCE', (input, word) => {
    try {
      parseReference(input);
      expect.unreachable();
    } catch (err) {
      expect(isFerryError(err, 'INVALID_REFERENCE')).toBe(true);
      expect((err as Error).message).toContain(word === 'empty' ? 'empty' : word);
      expect((err as Error).message).not.toContain('\n');
    }
  });

  it('round-trips', () => {
    expect(formatReference(parseReference('127.0.0.1:5000/ns/app:v1'))).toBe(
      '127.0.0.1:5000/ns/app:v1',
    );
  });
});

describe('parseEndpoint', () => {
  it('tells registries, repositories, images and layouts apart', () => {
    expect(parseEndpoint('127.0.0.1:5000')).toEqual({
      kind: 'registry',
      scheme: 'http',
      registry: '127.0.0.1:5000',
    });
    expect(parseEndpoint('reg.io/')).toEqual({
      kind: 'registry',
      scheme: 'http',
      registry: 'reg.io',
    });
    expect(parseEndpoint('127.0.0.1:5000/ns/app')).toMatchObject({
      kind: 'repository',
      repository: 'ns/app',
    });
    expect(parseEndpoint('127.0.0.1:5000/ns/app:v1')).toMatchObject({ kind: 'image', ref: 'v1' });
    expect(parseEndpoint(`127.0.0.1:5000/ns/app@${D}`)).toMatchObject({ kind: 'image', ref: D });
    expect(parseEndpoint('oci:/tmp/x')).toEqual({
      kind: 'repository',
      scheme: 'oci',
      registry: '/tmp/x',
      repository: '',
    });
    expect(parseEndpoint('oci:/tmp/x:v1')).toMatchObject({
      kind: 'image',
      scheme: 'oci',
      registry: '/tmp/x',
      ref: 'v1',
    });
    expect(parseEndpoint(`oci:/tmp/x@${D}`)).toMatchObject({
      kind: 'image',
      registry: '/tmp/x',
      ref: D,
    });
    expect(parseEndpoint('ubuntu')).toMatchObject({
      kind: 'repository',
      registry: 'docker.io',
      repository: 'library/ubuntu',
    });
  });

  it('rejects nonsense', () => {
    expect(() => parseEndpoint('oci:')).toThrow(/oci: needs a folder/);
    expect(() => parseEndpoint('not a ref')).toThrow(/invalid reference/);
  });
});
