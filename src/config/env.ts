// What the CLI takes from its environment, read once. The other reader of process.env is
// service-config.ts, for the FERRY_ overrides of the service config.
import { homedir } from 'node:os';
import { join } from 'node:path';

/** What the environment tells the CLI. */
export interface CliEnvironment {
  /** Docker's config.json, for registry credentials (`$DOCKER_CONFIG/config.json`). */
  dockerConfigPath: string;
  /** Ferry's CLI flags may also come from here: FERRY_SRC_CREDS and FERRY_DST_CREDS. */
  srcCreds: string | undefined;
  dstCreds: string | undefined;
  /** FERRY_CONFIG: the service config when --config is not given. */
  serviceConfigPath: string | undefined;
  /** NO_COLOR / CI turn the live display off. */
  plainOutput: boolean;
}

/** Reads the CLI's environment once and freezes it. */
export function readCliEnvironment(env: NodeJS.ProcessEnv = process.env): Readonly<CliEnvironment> {
  const dockerDir = env.DOCKER_CONFIG || join(env.HOME || homedir(), '.docker');
  return Object.freeze({
    dockerConfigPath: join(dockerDir, 'config.json'),
    srcCreds: env.FERRY_SRC_CREDS || undefined,
    dstCreds: env.FERRY_DST_CREDS || undefined,
    serviceConfigPath: env.FERRY_CONFIG || undefined,
    plainOutput: Boolean(env.NO_COLOR || env.CI),
  });
}
