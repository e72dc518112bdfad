import { ToolMuxError } from '@toolmux/core';
import { describe, expect, it } from 'vitest';
import type { z } from 'zod';
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

type Def = { type: string; checks?: Array<{ _zod: { def: Record<string, unknown> } }> } & Record<
  string,
  unknown
>;

const defOf = (schema: z.core.$ZodType) => schema._zod.def as unknown as Def;

/** The schema inside optional / nullable / default / pipe wrappers. */
function unwrap(schema: z.core.$ZodType): z.core.$ZodType {
  let current = schema;
  for (let depth = 0; depth < 20; depth++) {
    const def = defOf(current);
    if (
      ['optional', 'nullable', 'default', 'prefault', 'readonly', 'catch', 'nonoptional'].includes(def.type)
    )
      current = def.innerType as z.core.$ZodType;
    else if (def.type === 'pipe') current = def.in as z.core.$ZodType;
    else if (def.type === 'lazy') current = (def.getter as () => z.core.$ZodType)();
    else return current;
  }
  return current;
}

/** Values that break `schema`: one per check it makes, and one of a wrong type. */
function badValues(schema: z.core.$ZodType, depth = 0): unknown[] {
  const inner = unwrap(schema);
  const def = defOf(inner);
  const checks = (def.checks ?? []).map((check) => check._zod.def);
  const values: unknown[] = [];
  for (const check of checks) {
    if (check.check === 'min_length') values.push(def.type === 'string' ? '' : []);
    if (check.check === 'max_length')
      values.push(
        def.type === 'string'
          ? 'x'.repeat(Number(check.maximum) + 1)
          : new Array(Number(check.maximum) + 1).fill(null),
      );
    if (check.check === 'greater_than') values.push(Number(check.value) - 1);
    if (check.check === 'less_than') values.push(Number(check.value) + 1);
    if (check.check === 'number_format') values.push(1.5, 2 ** 60);
    if (check.check === 'string_format') values.push('#not this format#');
    if (check.check === 'multiple_of') values.push(Number(check.value) + 0.5);
  }
  if (depth > 5) return values;
  switch (def.type) {
    case 'string':
      return [...values, 5];
    case 'number':
    case 'int':
      return [...values, 'five', true];
    case 'boolean':
      return ['yes'];
    case 'enum':
    case 'literal':
      return ['not-one-of-them', 7];
    case 'array':
      return [...values, 'x', ...badValues(def.element as z.core.$ZodType, depth + 1).map((item) => [item])];
    case 'record':
      return [
        ...values,
        'x',
        ...badValues(def.keyType as z.core.$ZodType, depth + 1)
          .filter((key) => typeof key === 'string')
          .map((key) => ({ [key as string]: 'x' })),
        ...badValues(def.valueType as z.core.$ZodType, depth + 1).map((item) => ({ key: item })),
      ];
    case 'object':
      return [
        ...values,
        'x',
        [],
        { not_a_known_key: 1 },
        ...Object.entries(def.shape as Record<string, z.core.$ZodType>).flatMap(([name, field]) =>
          badValues(field, depth + 1).map((item) => ({ [name]: item })),
        ),
      ];
    case 'union':
      return [
        ...values,
        7,
        {},
        { type: 'not-one-of-them' },
        ...(def.options as z.core.$ZodType[]).flatMap((option) => badValues(option, depth + 1)),
      ];
    default:
      return values;
  }
}

/** zod's default English wording: it names the rule broken, not what to send. */
const ZOD_DEFAULTS =
  /Too small|Too big|expected \w+ to (?:have|be)|Invalid input|Invalid option|Invalid string|Invalid number|Invalid key in|Invalid value in|Invalid discriminator|Unrecognized key|received \w+/;

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
        for (const value of badValues(schema)) {
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
