import { describe, expect, it } from 'vitest';
import type { JSONSchema } from '../catalog/types.js';
import type { ToolSpec } from '../provider.js';
import { compileDocument } from '../schema/validate.js';
import { longestTurn, turnReport } from '../test/longest-turn.js';
import { unionRows, unionRowsSchema, wideSchema, wideSchemaValues } from '../test/wide-schemas.js';
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
    const output = (await mcpOutputSchemaOf(specOf('ACME_ROWS', unionRowsSchema), () => {}))!;
    for (const good of [true, false]) {
      const data = unionRows(120_000, good);
      const measured = await longestTurn(() => answerFor(output, data), BOUND_MS);
      const { answer, problems } = measured.value;
      if (good) expect(answer.structuredContent).toBe(data);
      else {
        expect(answer.isError).toBe(true);
        expect(problems[0]).toMatch(
          /^rows\[0\]\.n: is a string where the output schema asks for an integer; .*; \d+ more$/,
        );
      }
      // checked in one turn: 90 ms (matching), 150 ms (not)
      expect(
        measured.turnMs,
        `${good ? 'matching' : 'not matching'}: ${turnReport(measured)}`,
      ).toBeLessThanOrEqual(BOUND_MS);
    }
  }, 60_000);

  // the check copied the result first, and the copy listed the keys of each array in one call (to
  // find holes): 0.1–0.4 s for an array of a million items. An output schema without defaults
  // writes nothing into the result, which is now checked as it is.
  it('check a result with an array of a million items without listing its keys at once', async () => {
    const schema: JSONSchema = {
      type: 'object',
      properties: { values: { type: 'array', items: { type: 'integer' } } },
    };
    const output = (await mcpOutputSchemaOf(specOf('ACME_VALUES', schema), () => {}))!;
    const data = { values: new Array<number>(1_000_000).fill(7) };
    const measured = await longestTurn(() => answerFor(output, data), BOUND_MS);
    expect(measured.value.answer.structuredContent).toBe(data);
    expect(measured.turnMs, turnReport(measured)).toBeLessThanOrEqual(BOUND_MS);
  }, 60_000);

  it('leave a result as it is under an output schema with defaults (Ajv fills them in a copy)', async () => {
    const schema: JSONSchema = {
      type: 'object',
      properties: { state: { type: 'string', default: 'open' }, items: { type: 'array' } },
    };
    const output = (await mcpOutputSchemaOf(specOf('ACME_DEFAULTS', schema), () => {}))!;
    const data = { items: [1, 2] };
    const { answer, problems } = await answerFor(output, data);
    expect(problems).toEqual([]);
    expect(answer.structuredContent).toBe(data);
    expect(data).toEqual({ items: [1, 2] });
  });

  it('answer as the one-turn check does, for a large schema (validation thread) and a small one', async () => {
    for (const schema of [wideSchema(600), wideSchema(10)]) {
      const output = (await mcpOutputSchemaOf(specOf('ACME_TOOL', schema), () => {}))!;
      const local = compileDocument(schema, 'ACME_TOOL', 'output');
      for (const data of [...wideSchemaValues(), [1, 2], null]) {
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
          } else
            expect(problems[0]).toMatch(
              /^\(root\): is (an array|null) where the output schema asks for an object$/,
            );
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

  it('list an output schema that is not an object schema without it, saying why once (it went without a word)', async () => {
    const reasons: string[] = [];
    for (const [slug, schema] of [
      ['ACME_ROWS', { type: 'array', items: { type: 'number' } }],
      ['ACME_TEXT', { type: 'string' }],
    ] as const) {
      for (let listing = 0; listing < 2; listing++) {
        const output = await mcpOutputSchemaOf(
          specOf(slug, structuredClone(schema) as JSONSchema),
          (reason) => reasons.push(`${slug}: ${reason}`),
        );
        expect(output).toBeUndefined();
      }
    }
    expect(reasons).toEqual([
      'ACME_ROWS: MCP takes an output schema of type "object" only, and this one is of type "array": its results are sent as text',
      'ACME_TEXT: MCP takes an output schema of type "object" only, and this one is of type "string": its results are sent as text',
    ]);
    // a tool without one says nothing
    expect(
      await mcpOutputSchemaOf(specOf('ACME_NONE', undefined as never), () => reasons.push('x')),
    ).toBeUndefined();
    expect(reasons).toHaveLength(2);
  });
});
