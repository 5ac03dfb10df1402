import 'reflect-metadata';
import { RequestMethod, type Type } from '@nestjs/common';
import { METHOD_METADATA, PATH_METADATA } from '@nestjs/common/constants';
import { Reflector } from '@nestjs/core';
import { ErrorCode, type Scope } from '@fathom/contracts';
import { FEATURES } from '../api.module';
import { LOCAL_PRINCIPAL } from './authenticator';
import type { Principal } from './principal';
import { PUBLIC_ROUTE, REQUIRED_SCOPES } from './scopes.decorator';
import { ScopesGuard } from './scopes.guard';

interface Route {
  route: string;
  access: string;
}

/** Every controller route of the API's features, found the way Nest finds them (module metadata). */
function routes(): Route[] {
  const seen = new Set<unknown>();
  const controllers = new Set<Type>();
  const visit = (module: unknown) => {
    if (!module || seen.has(module)) return;
    seen.add(module);
    for (const c of (Reflect.getMetadata('controllers', module) ?? []) as Type[]) controllers.add(c);
    for (const m of (Reflect.getMetadata('imports', module) ?? []) as unknown[]) visit(m);
  };
  FEATURES.forEach(visit);
  const found: Route[] = [];
  for (const controller of controllers) {
    const base = String(Reflect.getMetadata(PATH_METADATA, controller) ?? '');
    for (const name of Object.getOwnPropertyNames(controller.prototype)) {
      const handler = (controller.prototype as Record<string, unknown>)[name];
      if (name === 'constructor' || typeof handler !== 'function' || Reflect.getMetadata(PATH_METADATA, handler) === undefined) continue;
      const method = RequestMethod[Reflect.getMetadata(METHOD_METADATA, handler) as number];
      const path = `/${[base, String(Reflect.getMetadata(PATH_METADATA, handler))].filter((p) => p && p !== '/').join('/')}`;
      const isPublic = Reflect.getMetadata(PUBLIC_ROUTE, handler) ?? Reflect.getMetadata(PUBLIC_ROUTE, controller);
      const scopes = (Reflect.getMetadata(REQUIRED_SCOPES, handler) ?? Reflect.getMetadata(REQUIRED_SCOPES, controller)) as
        Scope[] | undefined;
      found.push({ route: `${method} ${path}`, access: isPublic ? 'public' : scopes ? scopes.join(',') || 'any key' : 'UNDECLARED' });
    }
  }
  return found.sort((a, b) => a.route.localeCompare(b.route));
}

describe('who may call each route', () => {
  it('every route declares its scopes or says it is public, and jobs, models and keys need what the README says', () => {
    expect(Object.fromEntries(routes().map((r) => [r.route, r.access]))).toEqual({
      'DELETE /v1/admin/models/:name/:version': 'models:admin',
      'DELETE /v1/admin/models/:name/aliases/canary': 'models:admin',
      'DELETE /v1/admin/models/:name/gate': 'models:admin',
      'DELETE /v1/admin/models/:name/versions/:version/drift-reference': 'models:admin',
      'DELETE /v1/evaluations/:id': 'jobs:write',
      'DELETE /v1/jobs/:id': 'jobs:write',
      'DELETE /v1/keys/:id': 'keys:admin',
      'GET /': 'public',
      'GET /healthz': 'public',
      'GET /readyz': 'public',
      'GET /v1/admin/models': 'models:admin',
      'GET /v1/admin/models/:name': 'models:admin',
      'GET /v1/admin/models/:name/:version': 'models:admin',
      'GET /v1/admin/models/:name/gate': 'models:admin',
      'GET /v1/admin/models/:name/versions/:version/drift-reference': 'models:admin',
      'GET /v1/audit': 'keys:admin',
      'GET /v1/datasets': 'jobs:read',
      'GET /v1/datasets/:name': 'jobs:read',
      'GET /v1/datasets/:name/:version': 'jobs:read',
      'GET /v1/evaluations': 'jobs:read',
      'GET /v1/evaluations/:id': 'jobs:read',
      'GET /v1/evaluations/:id/report': 'jobs:read',
      'GET /v1/evaluations/:id/samples': 'jobs:read',
      'GET /v1/jobs/:id': 'jobs:read',
      'GET /v1/jobs/:id/result': 'jobs:read',
      'GET /v1/keys': 'keys:admin',
      'GET /v1/keys/:id': 'keys:admin',
      'GET /v1/models': 'any key',
      'GET /v1/models/:name/drift': 'any key',
      'GET /v1/predictions': 'models:admin',
      'POST /v1/admin/models': 'models:admin',
      'POST /v1/admin/models/:name/promote': 'models:admin',
      'POST /v1/admin/models/:name/rollback': 'models:admin',
      'POST /v1/datasets': 'models:admin',
      'POST /v1/evaluations': 'jobs:write',
      'POST /v1/evaluations/compare': 'jobs:write',
      'POST /v1/infer': 'jobs:write',
      'POST /v1/jobs': 'jobs:write',
      'POST /v1/jobs/:id/feedback': 'jobs:write',
      'POST /v1/keys': 'keys:admin',
      'PUT /v1/admin/models/:name/:version': 'models:admin',
      'PUT /v1/admin/models/:name/aliases/:alias': 'models:admin',
      'PUT /v1/admin/models/:name/gate': 'models:admin',
      'PUT /v1/admin/models/:name/versions/:version/drift-reference': 'models:admin',
      'PUT /v1/admin/models/:name/weights': 'models:admin',
    });
  });
});

describe('ScopesGuard', () => {
  const guard = new ScopesGuard(new Reflector());
  const context = (handler: object, principal?: Principal) =>
    ({
      getType: () => 'http',
      getHandler: () => handler,
      getClass: () => Object,
      switchToHttp: () => ({ getRequest: () => ({ principal }) }),
    }) as never;
  const declared = (meta: Record<string, unknown>) => {
    const handler = () => undefined;
    for (const [k, v] of Object.entries(meta)) Reflect.defineMetadata(k, v, handler);
    return handler;
  };
  const key = (scopes: Scope[]): Principal => ({ ...LOCAL_PRINCIPAL, keyId: 'k', scopes, authenticated: true });

  it('refuses a route that declares nothing, even to a key with every scope (deny by default)', () => {
    expect(() => guard.canActivate(context(declared({}), LOCAL_PRINCIPAL))).toThrow(expect.objectContaining({ code: ErrorCode.Forbidden }));
  });

  it('answers 401 without a key, 403 naming the scope a key lacks, and lets public routes through', () => {
    const submit = declared({ [REQUIRED_SCOPES]: ['jobs:write'] });
    expect(() => guard.canActivate(context(submit))).toThrow(expect.objectContaining({ code: ErrorCode.Unauthorized }));
    expect(() => guard.canActivate(context(submit, key(['jobs:read'])))).toThrow(
      expect.objectContaining({ code: ErrorCode.Forbidden, message: expect.stringContaining('jobs:write') }),
    );
    expect(guard.canActivate(context(submit, key(['jobs:write'])))).toBe(true);
    expect(guard.canActivate(context(declared({ [PUBLIC_ROUTE]: true })))).toBe(true);
    expect(guard.canActivate(context(declared({ [REQUIRED_SCOPES]: [] }), key([])))).toBe(true);
  });
});
