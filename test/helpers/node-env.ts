// The environment for running the `ferry` executable (bin/ferry, which starts `node` from
// PATH) from tests and benchmarks: the caller's, with the Node running them first on PATH.
import { delimiter, dirname } from 'node:path';

/** This process's environment, then `env`, with this Node first on PATH. */
export function withThisNode(env: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const path = `${dirname(process.execPath)}${delimiter}${process.env.PATH ?? ''}`;
  return { ...process.env, PATH: path, ...env };
}
