import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { createTestServer } from '../test-helpers.js';

/**
 * The route table of docs/rest-and-mcp.md is what a user programs from: each route, its query
 * parameters and its body's fields (`?` for an optional one). These tests keep it and the served
 * OpenAPI document (written from the schemas that validate requests) from drifting apart.
 */

const DOC = new URL('../../../../docs/rest-and-mcp.md', import.meta.url);

interface DocumentedRoute {
  /** `POST /api/v1/sessions/{id}` */
  operation: string;
  query: string[];
  /** field names, `?` after an optional one; undefined when the table gives no body */
  body?: string[];
}

/** The rows of the table headed `| route | SDK |`, one entry per method and path of their first cell. */
function documentedRoutes(): DocumentedRoute[] {
  const lines = readFileSync(DOC, 'utf8').split('\n');
  const start = lines.findIndex((line) => /^\| route \| SDK \|$/.test(line));
  expect(start).toBeGreaterThan(0);
  const routes: DocumentedRoute[] = [];
  for (const line of lines.slice(start + 2)) {
    if (!line.startsWith('|')) break;
    const cell = line.split(' | ')[0]!.slice(2);
    let previous: DocumentedRoute[] = [];
    for (const [, span] of cell.matchAll(/`([^`]+)`/g)) {
      const route = /^([A-Z]+(?:\/[A-Z]+)*) (\/api\/v1\/[^?\s]*)(?:\?(.*))?$/.exec(span!);
      if (route) {
        const path = route[2]!.replace(/:\w+/g, '{id}');
        const query = route[3] ? route[3].split('&') : [];
        previous = route[1]!.split('/').map((method) => ({ operation: `${method} ${path}`, query }));
        routes.push(...previous);
      } else if (/^\{.*\}$/.test(span!)) {
        const fields = span!
          .slice(1, -1)
          .split(',')
          .map((field) => field.trim())
          .filter(Boolean);
        for (const entry of previous) entry.body = fields;
      } else {
        throw new Error(`docs/rest-and-mcp.md: "${span}" in the route table is neither a route nor a body`);
      }
    }
  }
  return routes;
}

describe('the route table of docs/rest-and-mcp.md', () => {
  const { mux, server } = createTestServer();
  afterAll(() => mux.close());

  async function servedRoutes(): Promise<Map<string, { query: string[]; body?: string[] }>> {
    const response = await server.fetch(new Request('http://localhost/api/v1/openapi.json'));
    const document = (await response.json()) as any;
    const served = new Map<string, { query: string[]; body?: string[] }>();
    for (const [path, item] of Object.entries<any>(document.paths)) {
      if (!path.startsWith('/api/v1/') || path === '/api/v1/openapi.json') continue;
      for (const [method, operation] of Object.entries<any>(item)) {
        const parameters = (operation.parameters ?? []) as { name: string; in: string }[];
        const reference = operation.requestBody?.content['application/json'].schema.$ref as
          | string
          | undefined;
        const schema = reference ? document.components.schemas[reference.split('/').pop()!] : undefined;
        served.set(`${method.toUpperCase()} ${path.replace(/\{\w+\}/g, '{id}')}`, {
          query: parameters
            .filter((parameter) => parameter.in === 'query')
            .map((parameter) => parameter.name),
          ...(schema
            ? {
                body: Object.keys(schema.properties).map((name) =>
                  schema.required?.includes(name) ? name : `${name}?`,
                ),
              }
            : {}),
        });
      }
    }
    return served;
  }

  it('lists every route of the REST API, and only those', async () => {
    const documented = documentedRoutes().map((route) => route.operation);
    expect(new Set(documented).size).toBe(documented.length);
    expect(documented.sort()).toEqual([...(await servedRoutes()).keys()].sort());
  });

  it("gives each route's query parameters and body fields as the server takes them", async () => {
    const served = await servedRoutes();
    const problems: string[] = [];
    for (const route of documentedRoutes()) {
      const actual = served.get(route.operation);
      if (!actual) continue;
      if ([...route.query].sort().join('&') !== [...actual.query].sort().join('&'))
        problems.push(
          `${route.operation}: documents ?${route.query.join('&')}, takes ?${actual.query.join('&')}`,
        );
      if (route.body === undefined) {
        if (actual.body)
          problems.push(`${route.operation}: no body documented, takes { ${actual.body.join(', ')} }`);
      } else if ([...route.body].sort().join() !== [...(actual.body ?? [])].sort().join())
        problems.push(
          `${route.operation}: documents { ${route.body.join(', ')} }, takes { ${(actual.body ?? []).join(', ')} }`,
        );
    }
    expect(problems).toEqual([]);
  });
});
