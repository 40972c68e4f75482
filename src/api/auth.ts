// Authenticates API requests (IAM token or AK/SK signature, huawei-compat.md section 1) and
// resolves the region each request acts in.
import type { FastifyRequest } from 'fastify';
import { FerryError } from '../errors/catalog.js';
import type { IamService, Principal } from '../iam/service.js';
import type { Region, Regions } from '../sync/regions.js';

/** An authenticated caller and the region its request acts in (undefined: none configured). */
export interface RequestAuth {
  principal: Principal;
  region: Region | undefined;
}

function header(req: FastifyRequest, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** The caller of a request, or UNAUTHENTICATED with the reason. */
export async function authenticate(
  req: FastifyRequest,
  iam: IamService,
  regions: Regions,
  rawBody: Buffer | undefined,
): Promise<RequestAuth> {
  const token = header(req, 'x-auth-token');
  const authorization = header(req, 'authorization');
  let principal: Principal | undefined;
  if (token) {
    principal = await iam.authenticateToken(token);
    if (!principal) throw new FerryError('UNAUTHENTICATED', 'The token is unknown or expired.');
  } else if (authorization) {
    const q = req.raw.url!.indexOf('?');
    const result = await iam.authenticateSignature({
      method: req.method,
      rawPath: q < 0 ? req.raw.url! : req.raw.url!.slice(0, q),
      rawQuery: q < 0 ? '' : req.raw.url!.slice(q + 1),
      headers: req.headers,
      body: rawBody,
    });
    if (!result.ok)
      throw new FerryError('UNAUTHENTICATED', `AK/SK signature refused: ${result.reason}`);
    principal = result.principal;
  } else {
    throw new FerryError(
      'UNAUTHENTICATED',
      'No credentials: send X-Auth-Token, or sign the request with AK/SK (SDK-HMAC-SHA256).',
    );
  }

  // The request's project: X-Project-Id when sent, else the token's project scope.
  const projectId = header(req, 'x-project-id') || principal.projectId;
  let regionId: string | undefined;
  if (projectId) {
    const project = await iam.project(projectId);
    if (!project || project.domain_id !== principal.domainId) {
      throw new FerryError('FORBIDDEN', `project ${projectId} is not a project of your domain`);
    }
    if (principal.method === 'token' && principal.projectId && principal.projectId !== projectId) {
      throw new FerryError('FORBIDDEN', `the token is scoped to another project than ${projectId}`);
    }
    regionId = project.name;
    principal = { ...principal, projectId };
  }
  // Without a project, the domain's first region (configuration order).
  const region =
    regionId !== undefined ? regions.all().find((r) => r.id === regionId) : regions.all()[0];
  if (regionId !== undefined && !region) {
    throw new FerryError(
      'BAD_REQUEST',
      `project ${projectId} names region ${regionId}, which is not configured`,
    );
  }
  return { principal, region };
}
