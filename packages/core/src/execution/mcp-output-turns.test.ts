import { describe, expect, it } from 'vitest';
import type { JSONSchema } from '../catalog/types.js';
import type { ToolSpec } from '../provider.js';
import { compileDocument } from '../schema/validate.js';
import { longestTurn, turnReport } from '../test/longest-turn.js';
import { mcpOutputSchemaOf, mcpToolResultOf } from './mcp-result.js';

/**
 * An MCP surface (toolmux's MCP endpoint, the Claude Agent SDK provider) compiles each tool's output
 * schema and checks each successful result against it. The schema is the tool's (an MCP server's, a
 * remote client's declared tool) and the result is the tool's answer (megabytes of an MCP server's
 * JSON): both were one synchronous turn on the main thread, a 2,000-property output schema 0.3 s at
 * its first listing, four megabytes of results 90–150 ms. They go the ways arguments do: a large
 * schema is compiled and checked in the validation thread, a large result checked a slice at a time;
 * the answers are those of the one-turn check.
 */
const BOUND_MS = 40;

function specOf(slug: string, outputSchema: JSONSchema): ToolSpec {
  return { slug, outputSchema } as unknown as ToolSpec;
}

/** `width` properties of several kinds (defaults, enums, patterns, nested objects, unions). */
function wideSchema(width: number, salt = ''): JSONSchema {
  const properties: Record<string, JSONSchema> = {};
  for (let index = 0; index < width; index++) {
    const name = `${salt}p${index}`;
    switch (index % 4) {
      case 0:
        properties[name] = { type: 'string', minLength: 1, pattern: '^[a-z]+$' };
        break;
      case 1:
        properties[name] = { type: 'integer', minimum: 0, default: index };
        break;
      case 2:
        properties[name] = {
          type: 'object',
          properties: { login: { type: 'string' }, tags: { type: 'array', items: { type: 'string' } } },
          required: ['login'],
        };
        break;
      default:
        properties[name] = {
          anyOf: [{ type: 'number' }, { type: 'object', properties: { n: { const: index } } }],
        };
    }
  }
  return { type: 'object', properties, required: [`${salt}p0`], additionalProperties: false };
}

/** Results of each kind that match and do not, for `wideSchema`. */
const wideResults: unknown[] = [
  { p0: 'abc' },
  { p0: 'abc', p1: 5, p2: { login: 'x', tags: ['a'] }, p3: 3 },
  { p0: 'ABC' },
  {},
  { p0: 'abc', p1: -1, p5: 1.5 },
  { p0: 'abc', p2: { tags: [1] }, p6: { login: 2 } },
  { p0: 'abc', p3: 'x', p7: { n: 1 } },
  { p0: 'abc', unknown: true },
  [1, 2],
  null,
];

/** Rows of a union (a discriminated `anyOf`): Ajv's check of each row tries its variants. */
const rowsSchema: JSONSchema = {
  type: 'object',
  properties: {
    rows: {
      type: 'array',
      items: {
        anyOf: [
          {
            type: 'object',
            properties: { kind: { const: 'a' }, n: { type: 'integer' }, s: { type: 'string' } },
            required: ['kind', 'n'],
          },
          {
            type: 'object',
            properties: { kind: { const: 'b' }, tags: { type: 'array', items: { type: 'string' } } },
            required: ['kind'],
          },
        ],
      },
    },
  },
  required: ['rows'],
};

/** About four megabytes of rows (three of wrong ones, each failing both variants). */
function rows(good: boolean): { rows: unknown[] } {
  return {
    rows: Array.from({ length: 120_000 }, (_, index) =>
      good
        ? index % 2
          ? { kind: 'a', n: index, s: 'hello' }
          : { kind: 'b', tags: ['x', 'y'] }
        : { kind: 'a', n: `x${index}` },
    ),
  };
}

/** What `mcpToolResultOf` answers for a successful result `data` (and the mismatches it reported). */
async function answerFor(
  validator: NonNullable<Awaited<ReturnType<typeof mcpOutputSchemaOf>>>,
  data: unknown,
) {
  const problems: string[] = [];
  const answer = await mcpToolResultOf(
    { successful: true, data, error: null, logId: 'log_1' },
    'the result',
    validator.validator,
    'ACME_TOOL',
    (problem) => problems.push(problem),
  );
  return { answer, problems };
}

describe('MCP output schemas and results off the event loop', () => {
  it('compile a large output schema at its first listing without holding the event loop', async () => {
    let attempt = 0;
    // each attempt lists a schema not seen before: its listing is the one that compiles it
    const measured = await longestTurn(
      () => mcpOutputSchemaOf(specOf('ACME_WIDE', wideSchema(2_000, `s${attempt++}`)), () => {}),
      BOUND_MS,
    );
    expect(measured.value?.outputSchema).toBeDefined();
    // compiled on the main thread: one turn of 0.3 s
    expect(measured.turnMs, turnReport(measured)).toBeLessThanOrEqual(BOUND_MS);
  }, 60_000);

  it('check a result of megabytes without holding the event loop, matching or not', async () => {
    const output = (await mcpOutputSchemaOf(specOf('ACME_ROWS', rowsSchema), () => {}))!;
    for (const good of [true, false]) {
      const data = rows(good);
      const measured = await longestTurn(() => answerFor(output, data), BOUND_MS);
      const { answer, problems } = measured.value;
      if (good) expect(answer.structuredContent).toBe(data);
      else {
        expect(answer.isError).toBe(true);
        expect(problems[0]).toMatch(/^rows\.0\.n: must be integer; .*; \d+ more$/);
      }
      // checked in one turn: 90 ms (matching), 150 ms (not)
      expect(
        measured.turnMs,
        `${good ? 'matching' : 'not matching'}: ${turnReport(measured)}`,
      ).toBeLessThanOrEqual(BOUND_MS);
    }
  }, 60_000);

  it('answer as the one-turn check does, for a large schema (validation thread) and a small one', async () => {
    for (const schema of [wideSchema(600), wideSchema(6)]) {
      const output = (await mcpOutputSchemaOf(specOf('ACME_TOOL', schema), () => {}))!;
      const local = compileDocument(schema, 'ACME_TOOL', 'output');
      for (const data of wideResults) {
        const { answer, problems } = await answerFor(output, data);
        const expected =
          typeof data === 'object' && data !== null && !Array.isArray(data)
            ? local.check(structuredClone(data))
            : undefined;
        if (expected?.success) {
          expect(answer.structuredContent).toBe(data);
          expect(problems).toEqual([]);
        } else {
          expect(answer.isError).toBe(true);
          expect(answer.structuredContent).toBeUndefined();
          if (expected && !expected.success) {
            const shown = expected.issues.slice(0, 5).map(({ path, message }) => `${path}: ${message}`);
            if (expected.issues.length > 5) shown.push(`${expected.issues.length - 5} more`);
            expect(problems).toEqual([shown.join('; ')]);
          } else expect(problems[0]).toMatch(/^it is (an array|null), not an object$/);
        }
      }
    }
  });

  it('list a large output schema that cannot be compiled without it, saying why once, naming the tool', async () => {
    const reasons: string[] = [];
    const broken: JSONSchema = { ...wideSchema(100), minProperties: 'three' as never };
    for (let listing = 0; listing < 2; listing++) {
      // a new object of the same schema each time (a remote client's declared tool, resumed)
      const output = await mcpOutputSchemaOf(specOf('ACME_BROKEN', structuredClone(broken)), (reason) =>
        reasons.push(reason),
      );
      expect(output).toBeUndefined();
    }
    expect(reasons).toEqual([
      expect.stringContaining('Tool ACME_BROKEN: its output schema is not valid JSON Schema'),
    ]);
  });
});
