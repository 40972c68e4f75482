// The certificate authorities a TLS connection to a registry trusts, as one TLS context per
// set of authorities for the whole process. Building a context parses every root
// certificate (about 20 ms for Node's ~140), so it happens once, when the first connection
// that needs it is opened, never at start-up.
import { readFileSync } from 'node:fs';
import { createSecureContext, rootCertificates, type SecureContext } from 'node:tls';

/**
 * Where bin/ferry hands over NODE_EXTRA_CA_CERTS for `ferry copy` and `ferry sync`, so that
 * Node does not load it while starting (see bin/ferry). Ferry then adds those certificates
 * to Node's roots itself, as Node would have.
 */
export const DEFERRED_EXTRA_CA_ENV = 'FERRY_DEFERRED_EXTRA_CA_CERTS';

const contexts = new Map<string, SecureContext | undefined>();

/**
 * The TLS context for connections to a registry: Node's bundled roots plus `ca` when the
 * registry has its own CA; else Node's roots plus the certificates bin/ferry deferred;
 * else undefined, Node's default store (which holds NODE_EXTRA_CA_CERTS when Node loaded
 * it). As in Node, text in `ca` that is not a certificate adds nothing, and a deferred
 * file that cannot be read is skipped with Node's own warning.
 */
export function registryTlsContext(ca: string | undefined): SecureContext | undefined {
  if (ca !== undefined) return cached(`ca:${ca}`, () => withRoots(ca));
  const file = process.env[DEFERRED_EXTRA_CA_ENV];
  if (!file) return undefined;
  return cached(`file:${file}`, () => {
    try {
      return withRoots(readFileSync(file, 'utf8'));
    } catch (err) {
      process.emitWarning(
        `Ignoring extra certs from \`${file}\`, load failed: ${(err as Error).message}`,
      );
      return undefined;
    }
  });
}

function withRoots(pem: string): SecureContext {
  return createSecureContext({ ca: [...rootCertificates, pem] });
}

function cached(key: string, build: () => SecureContext | undefined): SecureContext | undefined {
  if (!contexts.has(key)) contexts.set(key, build());
  return contexts.get(key);
}
