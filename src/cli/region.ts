// `ferry region notification-config REGION`: the `notifications:` block to paste into that
// region's registry config, so pushes reach Ferry at once (auto-sync).
import { stringify } from 'yaml';
import { loadServiceConfig } from '../config/service-config.js';
import { FerryError } from '../errors/catalog.js';
import type { CliIo } from './copy.js';

/** Prints the block; `url` is how the registry reaches Ferry. */
export async function runNotificationConfig(
  regionId: string,
  flags: { config?: string; url?: string },
  io: CliIo,
): Promise<number> {
  const config = await loadServiceConfig(flags.config);
  const region = config.regions.find((r) => r.id === regionId);
  if (!region) {
    throw new FerryError(
      'INVALID_ARGUMENT',
      `no region ${regionId} in the config (known: ${config.regions.map((r) => r.id).join(', ') || 'none'})`,
    );
  }
  if (!region.eventToken) {
    throw new FerryError(
      'INVALID_CONFIG',
      `regions: ${regionId}: set eventToken (a long random string) first; the registry sends it with every event`,
    );
  }
  const host =
    config.listen.host === '0.0.0.0' || config.listen.host === '::'
      ? '127.0.0.1'
      : config.listen.host;
  const base = (
    flags.url ?? `http://${host.includes(':') ? `[${host}]` : host}:${config.listen.port}`
  ).replace(/\/$/, '');
  io.stdout.write(
    `${notificationBlock(`${base}/v2/events/registries/${regionId}`, region.eventToken)}`,
  );
  return 0;
}

/** The registry config's `notifications:` section for one endpoint. */
export function notificationBlock(url: string, token: string): string {
  return stringify({
    notifications: {
      endpoints: [
        {
          name: 'ferry',
          url,
          headers: { Authorization: [`Bearer ${token}`] },
          timeout: '5s',
          threshold: 3,
          backoff: '1s',
          // Blob events are not needed: Ferry acts on manifest pushes only.
          ignore: { actions: ['pull'], mediatypes: ['application/octet-stream'] },
        },
      ],
    },
  });
}
