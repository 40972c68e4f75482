// `ferry admin`: administration on the service's database (the config names it).
import { loadServiceConfig } from '../config/service-config.js';
import { openCore } from '../main.js';
import type { CliIo } from './copy.js';

/** `ferry admin access-key create --user NAME [--domain NAME]`: prints a new AK/SK pair. */
export async function runAccessKeyCreate(
  flags: { user: string; domain?: string; config?: string },
  io: CliIo,
): Promise<number> {
  const config = await loadServiceConfig(flags.config);
  const core = await openCore(config);
  try {
    const { ak, sk, domain } = await core.iam.createAccessKey(flags.user, flags.domain);
    io.stdout.write(
      `Access key for user ${flags.user} in domain ${domain} (the secret is shown only now):\n` +
        `AK=${ak}\nSK=${sk}\n`,
    );
    return 0;
  } finally {
    await core.close();
  }
}
