// Keeps a long copy's memory flat. Every chunk read from a socket is a new Buffer that V8
// frees only when a garbage collection runs; while blobs stream at hundreds of MB/s, tens of
// MB of dead buffers pile up between V8's own collections. A young-generation collection
// when more than a few MB of buffers are alive frees them early, for well under 1 ms each.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

type Gc = (options?: { type?: 'minor' | 'major' }) => void;

// Dead-buffer bytes tolerated before a collection, and how often to look.
const THRESHOLD_BYTES = 4 * 1024 * 1024;
const INTERVAL_MS = 10;

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

/** Starts collecting dead buffers while a copy runs; call the returned function to stop. */
export function startMemoryGovernor(): () => void {
  const collect = exposeGc();
  if (!collect) return () => undefined;
  const timer = setInterval(() => {
    if (process.memoryUsage().arrayBuffers > THRESHOLD_BYTES) collect({ type: 'minor' });
  }, INTERVAL_MS);
  timer.unref();
  return () => clearInterval(timer);
}
