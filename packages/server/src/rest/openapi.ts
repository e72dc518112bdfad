import { z } from 'zod';
import type { Route } from './route.js';
import { components } from './schemas.js';

type JsonObject = Record<string, unknown>;

const REF_PREFIX = '#/components/schemas/';

function withoutIdentity(schema: JsonObject): JsonObject {
  const { $schema: _schema, $id: _id, ...rest } = schema;
  return rest;
}

/** A `$ref` to the component a schema is registered as, or the schema inline. */
function schemaOf(schema: z.ZodType): JsonObject {
  const id = components.get(schema)?.id;
  if (id) return { $ref: `${REF_PREFIX}${id}` };
  return withoutIdentity(
    z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any', metadata: components }) as JsonObject,
  );
}

function parametersOf(shape: z.ZodObject | undefined, location: 'path' | 'query'): JsonObject[] {
  if (!shape) return [];
  return Object.entries(shape.shape).map(([name, field]) => {
    const schema = withoutIdentity(
      z.toJSONSchema(field as z.ZodType, { io: 'input', unrepresentable: 'any' }) as JsonObject,
    );
    const { description, ...rest } = schema;
    return {
      name,
      in: location,
      required: location === 'path' || !(field as z.ZodType).safeParse(undefined).success,
      ...(typeof description === 'string' ? { description } : {}),
      schema: rest,
    };
  });
}

const errorContent = { 'application/json': { schema: { $ref: `${REF_PREFIX}Error` } } };

function errorResponses(route: Route): JsonObject {
  const responses: JsonObject = {
    '400': { description: 'Invalid request (INVALID_REQUEST, CONFIG_INVALID, …)', content: errorContent },
  };
  if (route.auth !== false) {
    responses['401'] = { description: 'Missing or wrong API key (UNAUTHORIZED)', content: errorContent };
  }
  if (route.params) responses['404'] = { description: 'Not found', content: errorContent };
  if (route.body) {
    responses['413'] = { description: 'Body over the limit (REQUEST_TOO_LARGE)', content: errorContent };
    responses['415'] = { description: 'Body is not JSON (UNSUPPORTED_MEDIA_TYPE)', content: errorContent };
  }
  responses['500'] = { description: 'Unexpected failure (INTERNAL_ERROR)', content: errorContent };
  // every other error a route answers (a 404 for a toolkit or auth config a body names, a 409
  // version or alias conflict, a 412, 422, 502, 503, …): an Error with the HTTP status of its code
  responses.default = {
    description:
      'Any other error, with the HTTP status of its code (TOOLMUX_ERROR_CODES: 403, 404, 409, 412, 422, 502, 503, …)',
    content: errorContent,
  };
  return responses;
}

/** A JSON-RPC message, or (before protocol version 2025-06-18) a batch of them. */
const jsonRpcMessages = (description: string) => ({
  description,
  oneOf: [{ type: 'object' }, { type: 'array', items: { type: 'object' } }],
});

/** Every method of the endpoint but POST and OPTIONS: 405 with `Allow: OPTIONS, POST`. */
const mcpMethodNotAllowed = (operationId: string, summary: string) => ({
  operationId,
  summary,
  tags: ['mcp'],
  security: [],
  responses: {
    '403': { description: 'A browser Origin that is not allowed (`mcp.allowedOrigins`)' },
    '405': {
      description:
        'Method not allowed (`Allow: OPTIONS, POST`; a JSON-RPC error, `data.code` METHOD_NOT_ALLOWED)',
    },
  },
});

/** The MCP endpoint, documented beside the REST routes (its messages are MCP's JSON-RPC). */
const mcpPath = {
  parameters: [{ name: 'sessionId', in: 'path', required: true, schema: { type: 'string' } }],
  post: {
    operationId: 'mcp',
    summary:
      'MCP Streamable HTTP endpoint of one session (stateless; JSON responses, an event stream for a long tools/call that asks for progress).',
    description:
      'JSON-RPC 2.0 messages of the Model Context Protocol: initialize, ping, tools/list (paged with ' +
      '`cursor` / `nextCursor`), tools/call. Authenticate with the session token (`mcp.headers` of ' +
      'the session as POST or GET /api/v1/sessions answers it: `Authorization: Bearer <token>`), or ' +
      'with the project API key in an `x-api-key` header (not as a Bearer token). Batches (an array ' +
      'of messages) only under protocol versions before 2025-06-18, at most `mcp.maxBatchSize` messages. ' +
      'A tools/call with `params._meta.progressToken`, from a client whose Accept takes ' +
      'text/event-stream, that runs longer than `mcp.progressIntervalMs` is answered with an event ' +
      'stream: a `notifications/progress` at once and at every interval, then the response.',
    tags: ['mcp'],
    security: [{ sessionToken: [] }, { apiKeyHeader: [] }],
    requestBody: {
      required: true,
      content: { 'application/json': { schema: jsonRpcMessages('A JSON-RPC message, or a batch of them') } },
    },
    responses: {
      '200': {
        description: 'JSON-RPC response',
        content: {
          'application/json': { schema: jsonRpcMessages('The JSON-RPC response, or those of a batch') },
          'text/event-stream': {
            schema: {
              type: 'string',
              description:
                'Server-sent events (`event: message`), each a JSON-RPC message: `notifications/progress`, then the response',
            },
          },
        },
      },
      '202': { description: 'Notification accepted' },
      '400': { description: 'Not JSON-RPC, or a batch that is refused (protocol version, size)' },
      '401': { description: 'Missing or wrong session token, or a wrong x-api-key' },
      '403': { description: 'A browser Origin that is not allowed (`mcp.allowedOrigins`)' },
      '404': { description: 'Unknown session' },
      '406': { description: 'An Accept header that does not take application/json' },
      '413': { description: 'Body over the limit (REQUEST_TOO_LARGE)' },
      '415': { description: 'Body is not JSON, or sent in a content coding (UNSUPPORTED_MEDIA_TYPE)' },
      default: {
        description:
          "Any other error of the request: a JSON-RPC error whose `data.code` is a toolmux error code, with that code's HTTP status",
        content: { 'application/json': { schema: { type: 'object' } } },
      },
    },
  },
  get: mcpMethodNotAllowed('mcpStream', 'Not offered: this server sends no server-initiated messages.'),
  delete: mcpMethodNotAllowed(
    'mcpEndSession',
    'Not offered: the endpoint is stateless, there is no MCP session to end (the SDK client takes the 405).',
  ),
};

/**
 * The OpenAPI 3.1 document of the REST API, written from the routes' own zod schemas (zod 4's
 * JSON Schema output is draft 2020-12, which OpenAPI 3.1 uses as is).
 */
export function buildOpenApiDocument(routes: readonly Route[], version = '0.0.0'): JsonObject {
  const generated = z.toJSONSchema(components, {
    io: 'input',
    unrepresentable: 'any',
    uri: (id) => `${REF_PREFIX}${id}`,
  }) as { schemas: Record<string, JsonObject> };
  const schemas = Object.fromEntries(
    Object.entries(generated.schemas).map(([id, schema]) => [id, withoutIdentity(schema)]),
  );
  const paths: Record<string, JsonObject> = {};
  for (const route of routes) {
    const path = `/api/v1${route.path.replace(/:(\w+)/g, '{$1}')}`;
    const parameters = [...parametersOf(route.params, 'path'), ...parametersOf(route.query, 'query')];
    const status = String(route.status ?? 200);
    paths[path] ??= {};
    paths[path][route.method] = {
      operationId: route.operationId,
      summary: route.summary,
      tags: [route.tag],
      ...(route.auth === false ? { security: [] } : {}),
      ...(parameters.length > 0 ? { parameters } : {}),
      ...(route.body
        ? {
            requestBody: {
              // a body the route takes left out (`POST /connected-accounts/:id/reconnect`): optional
              required: !route.body.safeParse(undefined).success,
              content: { 'application/json': { schema: schemaOf(route.body) } },
            },
          }
        : {}),
      responses: {
        [status]: {
          description: route.summary,
          content: { 'application/json': { schema: schemaOf(route.response) } },
        },
        ...errorResponses(route),
      },
    };
  }
  paths['/mcp/{sessionId}'] = mcpPath;
  return {
    openapi: '3.1.0',
    info: {
      title: 'toolmux',
      version,
      description:
        'The toolmux server: sessions, toolkits and tool execution over REST, and a per-session MCP endpoint. ' +
        'Every error is `{ "error": { "code", "message" } }` (schema `Error`) with the HTTP status of its code.',
    },
    security: [{ apiKey: [] }],
    paths,
    components: {
      schemas,
      securitySchemes: {
        apiKey: {
          type: 'http',
          scheme: 'bearer',
          description: 'The project API key: `Authorization: Bearer <key>`.',
        },
        sessionToken: {
          type: 'http',
          scheme: 'bearer',
          description:
            'A session token (`mcp.headers.Authorization` of the session), valid for that session only.',
        },
        apiKeyHeader: {
          type: 'apiKey',
          in: 'header',
          name: 'x-api-key',
          description:
            'The project API key in an `x-api-key` header (the MCP endpoint; as the SDK of Composio sends it).',
        },
      },
    },
  };
}
