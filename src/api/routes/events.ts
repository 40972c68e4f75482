// Registry notification endpoints: CNCF distribution posts its event envelopes here with
// `Authorization: Bearer <eventToken>` (the region's token from the config).
import { timingSafeEqual } from 'node:crypto';
import type { FastifyPluginAsync } from 'fastify';
import { FerryError } from '../../errors/catalog.js';
import { receiveEvents } from '../../sync/events.js';
import { parseJsonBody } from '../body.js';
import type { AppDeps } from '../deps.js';

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** POST /v2/events/registries/{region_id} and /v2/events/instances/{instance_id}. */
export function eventRoutes(deps: AppDeps): FastifyPluginAsync {
  return async (app) => {
    app.post<{ Params: { region_id: string } }>(
      '/v2/events/registries/:region_id',
      {
        config: { public: true, rawBody: true },
        schema: {
          tags: ['Events'],
          summary: 'Receive a registry notification envelope (push events) for a region',
          security: [{ eventToken: [] }],
        },
      },
      async (req, reply) => {
        const region = deps.config.regions.find((r) => r.id === req.params.region_id);
        const auth = req.headers.authorization ?? '';
        const token = auth.startsWith('Bearer ') ? auth.slice(7) : '';
        // An unknown region and a wrong token answer alike: nothing to learn by probing.
        if (!region?.eventToken || !token || !sameSecret(token, region.eventToken)) {
          throw new FerryError('UNAUTHENTICATED', 'missing or wrong event token');
        }
        const body = parseJsonBody(req.body);
        const r = await receiveEvents(deps.db, { kind: 'region', id: region.id }, body);
        return reply.status(200).send(r);
      },
    );

    app.post<{ Params: { instance_id: string } }>(
      '/v2/events/instances/:instance_id',
      {
        config: { public: true, rawBody: true },
        schema: {
          tags: ['Events'],
          summary:
            'Receive a registry notification envelope (push events) for an Enterprise instance',
          security: [{ eventToken: [] }],
        },
      },
      async (req, reply) => {
        const inst = deps.config.instances.find((i) => i.id === req.params.instance_id);
        const auth = req.headers.authorization ?? '';
        const token = auth.startsWith('Bearer ') ? auth.slice(7) : '';
        if (!inst?.eventToken || !token || !sameSecret(token, inst.eventToken)) {
          throw new FerryError('UNAUTHENTICATED', 'missing or wrong event token');
        }
        const body = parseJsonBody(req.body);
        const r = await receiveEvents(deps.db, { kind: 'instance', id: inst.id }, body);
        return reply.status(200).send(r);
      },
    );
  };
}
