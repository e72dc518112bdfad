import { ToolMuxError } from '@toolmux/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { parseRequestPart } from './route.js';
import { ExecuteInSessionBody, ExecuteToolBody } from './schemas.js';

/**
 * The execute routes do not let zod walk the tool arguments (a megabyte of them would be one long
 * turn of the event loop); what they accept, refuse and answer must be what zod's full check gives.
 */

/** What zod alone makes of a body (the check before the arguments were passed over). */
function zodAlone(schema: z.ZodType, body: unknown): unknown {
  const wrapped = z.object({ body: schema });
  try {
    return { data: parseRequestPart(wrapped, { body }, 'body') };
  } catch (error) {
    return { error: ToolMuxError.isInstance(error) ? error.message.replaceAll('body.body', 'body') : error };
  }
}

function outcome(schema: z.ZodType, body: unknown): unknown {
  try {
    return { data: { body: parseRequestPart(schema, body, 'body') } };
  } catch (error) {
    return { error: ToolMuxError.isInstance(error) ? error.message : error };
  }
}

const json = fc.jsonValue({ maxDepth: 3 });
// zod's copy drops a `__proto__` key (see below): the one difference, on purpose
const key = fc.string().filter((text) => text !== '__proto__');
const argumentsValue = fc.oneof(fc.dictionary(key, json, { maxKeys: 6 }), json, fc.constant(undefined));
const body = fc.oneof(
  fc.record(
    {
      tool_slug: fc.oneof(fc.constant('TASKS_CREATE'), fc.string(), fc.integer()),
      arguments: argumentsValue,
      call_id: fc.oneof(fc.string(), fc.constant(undefined)),
      account: fc.oneof(fc.string({ minLength: 1 }), fc.integer()),
      user_id: fc.constant('user_1'),
      extra: json,
    },
    { requiredKeys: ['tool_slug', 'arguments'] },
  ),
  json,
);

describe('the tool arguments of an execute body', () => {
  for (const [name, schema] of [
    ['POST /sessions/:id/execute', ExecuteInSessionBody],
    ['POST /tools/execute', ExecuteToolBody],
  ] as const) {
    it(`${name}: accepts, refuses and answers as zod's full check`, () => {
      fc.assert(
        fc.property(body, (value) => {
          // JSON as a request body would carry it
          const parsed = value === undefined ? undefined : JSON.parse(JSON.stringify(value));
          expect(outcome(schema, parsed)).toEqual(zodAlone(schema, parsed));
        }),
        { numRuns: 500 },
      );
    });
  }

  it('hands the parsed arguments on as they are, not a copy that would lose a __proto__ key', () => {
    const parsed = JSON.parse('{"tool_slug":"T","arguments":{"__proto__":{"x":1},"a":[1]}}');
    const out = parseRequestPart(ExecuteInSessionBody, parsed, 'body') as { arguments: object };
    expect(out.arguments).toBe(parsed.arguments);
    expect(Object.keys(out.arguments)).toEqual(['__proto__', 'a']);
    expect(Object.getPrototypeOf(out.arguments)).toBe(Object.prototype);
  });

  it('hands arguments that are not an object on as they are: core answers them (TOOL_ARGUMENTS_INVALID), as embedded', () => {
    for (const args of [[1], 'x', 5, true]) {
      const out = parseRequestPart(ExecuteInSessionBody, { tool_slug: 'T', arguments: args }, 'body');
      expect((out as { arguments: unknown }).arguments).toEqual(args);
    }
  });

  it('leaves arguments of any other schema to zod', () => {
    const strict = z.object({ arguments: z.record(z.string(), z.number()) });
    expect(() => parseRequestPart(strict, { arguments: { a: 'x' } }, 'body')).toThrow(/body\.arguments\.a/);
    const checked = z.object({ arguments: z.record(z.string().min(2), z.unknown()) });
    expect(() => parseRequestPart(checked, { arguments: { a: 1 } }, 'body')).toThrow(/body\.arguments/);
  });

  it('walks none of a wide argument object', () => {
    // a getter on a key zod would read: never called
    const args: Record<string, unknown> = {};
    let read = 0;
    Object.defineProperty(args, 'watched', {
      enumerable: true,
      get: () => {
        read++;
        return 1;
      },
    });
    parseRequestPart(ExecuteInSessionBody, { tool_slug: 'T', arguments: args }, 'body');
    expect(read).toBe(0);
  });
});
