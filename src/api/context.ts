// What a route needs to know about its caller beyond authentication: the region it acts in
// (SWR basic routes) or the project named in its path (Enterprise and HSS routes).
import type { FastifyRequest } from 'fastify';
import { FerryError } from '../errors/catalog.js';
import type { IamService } from '../iam/service.js';
import type { ProjectRow } from '../storage/iam.js';
import type { CallContext } from '../sync/service.js';

/** The caller and its region; BAD_REQUEST when no region is configured. */
export function regionContext(req: FastifyRequest): CallContext {
  const auth = req.auth!;
  if (!auth.region) {
    throw new FerryError(
      'BAD_REQUEST',
      'No region is configured: add one under `regions:` in the config (see docs/configuration.md).',
    );
  }
  return { principal: auth.principal, region: auth.region };
}

/** The `{project_id}` of the path: a project of the caller's domain, and of its scope (else 403). */
export async function pathProject(
  req: FastifyRequest<{ Params: { project_id: string } }>,
  iam: IamService,
): Promise<ProjectRow> {
  const { principal } = req.auth!;
  const project = await iam.project(req.params.project_id);
  if (!project || project.domain_id !== principal.domainId) {
    throw new FerryError(
      'FORBIDDEN',
      `project ${req.params.project_id} is not a project of your domain`,
    );
  }
  if (principal.projectId && principal.projectId !== project.id) {
    throw new FerryError(
      'FORBIDDEN',
      `the request is scoped to another project than ${project.id}`,
    );
  }
  return project;
}
