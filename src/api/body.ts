// JSON bodies of `rawBody` routes, parsed only once the route has checked its caller.
import { FerryError } from '../errors/catalog.js';

/** Parses a raw JSON body (for `rawBody` routes, once they have authenticated the caller). */
export function parseJsonBody(body: unknown): unknown {
  if (!Buffer.isBuffer(body) || body.length === 0) return undefined;
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    throw new FerryError('BAD_REQUEST', 'The request body is not valid JSON.');
  }
}
