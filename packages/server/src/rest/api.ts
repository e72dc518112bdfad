import { type AuthRouteContext, authRoutes } from './auth-routes.js';
import { connectionWaitRoutes } from './connection-wait-routes.js';
import { buildOpenApiDocument } from './openapi.js';
import { type Route, route } from './route.js';
import { type RestRouteContext, restRoutes } from './routes.js';
import { OpenApiDocumentSchema } from './schemas.js';

/** Every route under `/api/v1`: the OpenAPI document, the SDK's calls, and auth. */
export function apiRoutes(context: RestRouteContext & AuthRouteContext & { version: string }): Route[] {
  let document: Record<string, unknown> | undefined;
  const routes: Route[] = [
    route({
      method: 'get',
      path: '/openapi.json',
      operationId: 'getOpenApiDocument',
      summary: 'This OpenAPI 3.1 document.',
      tag: 'meta',
      auth: false,
      response: OpenApiDocumentSchema,
      handle: async () => {
        document ??= buildOpenApiDocument(routes, context.version);
        return document;
      },
    }),
    ...restRoutes(context),
    ...authRoutes(context),
    ...connectionWaitRoutes(context),
  ];
  return routes;
}
