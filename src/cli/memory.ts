// Keeps a long copy's memory flat. Every chunk read from a socket is a new Buffer that V8
// frees only when a garbage collection runs; while blobs stream at hundreds of MB/s, tens of
// MB of dead buffers pile up between V8's own collections. A young-generation collection
// every few MB streamed frees them early. Driven by the bytes the copy reports, so nothing
// polls while the copy waits.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

type Gc = (options?: { type?: 'minor' | 'major' }) => void;

// Bytes streamed between collections: a young-generation collection costs well under a
// millisecond, so one every 8 MB is noise next to hashing 8 MB (about 5 ms).
const BYTES_PER_COLLECTION = 8 * 1024 * 1024;

let gc: Gc | undefined;

function exposeGc(): Gc | undefined {
  if (gc) return gc;
  try {
    // The documented way to reach V8's gc() without starting node with --expose-gc.
    setFlagsFromString('--expose-gc');
    gc = runInNewContext('gc') as Gc;
  } catch {
    gc = undefined;
  }
  return gc;
}

/** Returns a function to call with each count of bytes streamed; it collects dead buffers. */
export function memoryGovernor(): (bytes: number) => void {
  const collect = exposeGc();
  if (!collect) return () => undefined;
  let since = 0;
  return (bytes) => {
    since += bytes;
    if (since >= BYTES_PER_COLLECTION) {
      since = 0;
      collect({ type: 'minor' });
    }
  };
}
