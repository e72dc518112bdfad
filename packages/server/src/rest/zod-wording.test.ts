import { ToolMuxError } from '@toolmux/core';
import { badZodValues, ZOD_DEFAULTS } from '@toolmux/core/test';
import { describe, expect, it } from 'vitest';
import { apiRoutes } from './api.js';
import { parseRequestPart, type Route } from './route.js';

/**
 * Every REST route's path, query and body schemas, walked with values that break each of their
 * checks (an array under its `.min()` or over its `.max()`, a string too short or long or of the
 * wrong format, a number out of range or not whole, a wrong type, an unknown enum value or
 * discriminator, an unknown key). No 400 reads like zod's defaults: before, `POST
 * /sessions/:id/wait-for-connections` with `toolkits: []` answered "body.toolkits: Too small:
 * expected array to have >=1 items", naming the field but not what to send.
 */

/**
 * Two more that said nothing to act on: a key a union's other form takes, "unknown key "mode". Did
 * you mean "mode"?", and an object echoed where an enum value was due, `unknown value {…}`.
 */
const MISWORDED = /unknown key "([^"]+)"\. Did you mean "\1"|unknown value [{[]/;

// the schemas are all a route holds here; its handlers, which use the context, never run
const routes: Route[] = apiRoutes({ version: '0.0.0' } as Parameters<typeof apiRoutes>[0]);

describe('REST 400s word every zod issue as what is wrong and what to send', () => {
  it('walks every route’s schemas with values breaking each of their checks', () => {
    const defaults: string[] = [];
    let refused = 0;
    for (const route of routes) {
      for (const part of ['path', 'query', 'body'] as const) {
        const schema = part === 'path' ? route.params : part === 'query' ? route.query : route.body;
        if (!schema) continue;
        for (const value of badZodValues(schema)) {
          try {
            parseRequestPart(schema, value, part);
          } catch (error) {
            if (!ToolMuxError.isInstance(error)) throw error;
            refused++;
            const lines = error.message
              .replace(/^Invalid request \w+: /, '')
              .replace(/\.$/, '')
              .split('; ');
            if (
              ZOD_DEFAULTS.test(error.message) ||
              MISWORDED.test(error.message) ||
              new Set(lines).size < lines.length
            )
              defaults.push(`${route.method.toUpperCase()} ${route.path}: ${error.message}`);
          }
        }
      }
    }
    // the walk reached the routes' checks (a few hundred refusals), and none reads like zod's
    expect(refused).toBeGreaterThan(200);
    expect(defaults.slice(0, 20)).toEqual([]);
  });

  it('names the issue of the form that takes a key, and shows no object given for an enum value', () => {
    const update = routes.find(
      (candidate) => candidate.method === 'patch' && candidate.path === '/sessions/:sessionId',
    )!;
    const answer = (toolkits: unknown) => {
      try {
        parseRequestPart(update.body, { config: { toolkits } }, 'body');
      } catch (error) {
        return (error as Error).message;
      }
      return 'accepted';
    };
    // before: 'body.config.toolkits: unknown key "mode". Did you mean "mode"? Known keys: …'
    expect(answer({ mode: 7 })).toBe(
      'Invalid request body: body.config.toolkits.mode: unknown value 7; use "all".',
    );
    // before: 'unknown value {"token":"sk-…"}; use "all"'
    expect(answer({ mode: { token: 'sk-live-secret' } })).toBe(
      'Invalid request body: body.config.toolkits.mode: is an object: use "all".',
    );
  });

  it('names a value that breaks two checks alike once', () => {
    const search = routes.find(
      (candidate) => candidate.method === 'post' && candidate.path.endsWith('/search'),
    )!;
    let message = 'accepted';
    try {
      parseRequestPart(search.body, { query: 'issues', limit: 2 ** 60 }, 'body');
    } catch (error) {
      message = (error as Error).message;
    }
    // before: the same line twice, for `.max(50)` and for zod's safe-integer range
    expect(message).toBe('Invalid request body: body.limit: is too large: send an integer from 1 to 50.');
  });

  it('says what to send with the schema’s own bounds', () => {
    const wait = routes.find((candidate) => candidate.path.endsWith('/wait-for-connections'))!;
    const answer = () => {
      try {
        parseRequestPart(wait.body, { toolkits: [] }, 'body');
      } catch (error) {
        return (error as Error).message;
      }
      return 'accepted';
    };
    expect(answer()).toBe(
      'Invalid request body: body.toolkits: has 0 items: send an array of 1 to 20 items.',
    );
  });
});
