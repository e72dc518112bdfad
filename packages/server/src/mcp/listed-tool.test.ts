import { ToolSchema } from '@modelcontextprotocol/sdk/types.js';
import { argumentPath, describeZodIssue } from '@toolmux/core/internal';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { mcpListedTool, mcpToolIssue } from './listed-tool.js';

/**
 * The check of a listed tool gives the SDK's `ToolSchema` verdict, and its first issue, on any tool:
 * random ones whose schemas hold property schemas and `required` lists of every kind (booleans,
 * null, numbers, arrays, strings), other keywords, and a name, title or annotations of the wrong type
 * now and then.
 */

const anyJson = fc.oneof(
  fc.constantFrom(true, false, null, 0, 'x', [], {}, { type: 'string' }, [1], { not: {} }),
  fc.string({ maxLength: 4 }),
);
/** Mostly object property schemas, now and then anything. */
const propertySchema = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom({}, { type: 'string' }, { type: 'object', properties: {} }) },
  { weight: 1, arbitrary: anyJson },
);
const KEYS = ['a', 'b', 'c', '__proto__', 'constructor', 'type', 'required', 'properties'];
const properties = fc
  .array(fc.tuple(fc.constantFrom(...KEYS), propertySchema), { maxLength: 5 })
  .map((entries) => Object.fromEntries(entries));
const required = fc.oneof(
  { weight: 3, arbitrary: fc.array(fc.constantFrom(...KEYS), { maxLength: 3 }) },
  { weight: 1, arbitrary: fc.array(anyJson, { maxLength: 3 }) },
  { weight: 1, arbitrary: anyJson },
);
const objectSchema = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record(
      {
        type: fc.oneof({ weight: 5, arbitrary: fc.constant('object') }, { weight: 1, arbitrary: anyJson }),
        properties: fc.oneof({ weight: 4, arbitrary: properties }, { weight: 1, arbitrary: anyJson }),
        required,
        description: anyJson,
        additionalProperties: anyJson,
      },
      { requiredKeys: ['type'] },
    ),
  },
  { weight: 1, arbitrary: anyJson },
);
const tool = fc.record(
  {
    name: fc.oneof({ weight: 5, arbitrary: fc.constant('A_TOOL') }, { weight: 1, arbitrary: anyJson }),
    description: fc.string({ maxLength: 4 }),
    title: anyJson,
    inputSchema: objectSchema,
    outputSchema: objectSchema,
    annotations: fc.oneof(
      fc.constant({ readOnlyHint: true }),
      fc.record({ title: anyJson, destructiveHint: anyJson }, { requiredKeys: [] }),
    ),
  },
  { requiredKeys: ['name', 'inputSchema'] },
);

/** `ToolSchema`'s first issue with the whole tool, as mcpToolIssue words it. */
function wholeIssue(value: unknown): string | undefined {
  const checked = ToolSchema.safeParse(value);
  if (checked.success) return undefined;
  const { path, message } = describeZodIssue(ToolSchema, value, checked.error.issues[0]!);
  return `${path.length === 0 ? 'the tool' : argumentPath(path)}: ${message.replace(/\.$/, '')}`;
}

/** What a boolean property schema is listed as: the object schema it equals. */
const asObject = (property: unknown) =>
  property === true ? {} : property === false ? { not: {} } : property;

/** `schema` with its boolean property schemas as objects, key for key (a `__proto__` key too). */
function rewritten(schema: unknown): unknown {
  if (typeof schema !== 'object' || schema === null || Array.isArray(schema)) return schema;
  const { properties } = schema as { properties?: unknown };
  if (typeof properties !== 'object' || properties === null || Array.isArray(properties)) return schema;
  return {
    ...schema,
    properties: Object.fromEntries(Object.entries(properties).map(([key, value]) => [key, asObject(value)])),
  };
}

/** A tool as it is listed when MCP's Tool shape takes it: its schemas rewritten. */
function rewrittenTool(value: Record<string, unknown>): Record<string, unknown> {
  return {
    ...value,
    inputSchema: rewritten(value.inputSchema),
    ...('outputSchema' in value ? { outputSchema: rewritten(value.outputSchema) } : {}),
  };
}

describe("a listed tool is checked with the SDK's ToolSchema", () => {
  it('gives its verdict and first issue on any tool as listed, though it does not walk the schemas whole', () => {
    fc.assert(
      fc.property(tool, (value) => {
        const issue = mcpToolIssue(value as never);
        expect(issue).toBe(wholeIssue(rewrittenTool(value)));
        // in a refused argument's words and paths, not zod's ("Invalid input: expected array",
        // `required.0`)
        if (issue === undefined) return;
        const [where, ...words] = issue.split(': ');
        expect(where).not.toMatch(/\.\d/);
        expect(words.join(': ')).not.toMatch(/Invalid input|expected .*received/);
      }),
      { numRuns: 2_000 },
    );
  });

  it('lists a tool with boolean property schemas as the object schemas they equal, which ToolSchema takes', () => {
    fc.assert(
      fc.property(properties, (props) => {
        const inputSchema = { type: 'object' as const, properties: props };
        const problems: string[] = [];
        const listed = mcpListedTool({ name: 'A_TOOL', inputSchema: inputSchema as never }, (problem) =>
          problems.push(problem),
        );
        const taken = wholeIssue(rewrittenTool({ name: 'A_TOOL', inputSchema })) === undefined;
        expect(listed !== undefined).toBe(taken);
        expect(problems).toHaveLength(taken ? 0 : 1);
        if (!listed) return;
        expect(listed.tool.inputSchema).toEqual(rewritten(inputSchema));
        const shown = listed.tool.inputSchema as typeof inputSchema;
        // the same object without booleans
        const booleans = Object.values(props).some((property) => typeof property === 'boolean');
        expect(shown === inputSchema).toBe(!booleans);
        expect(Object.keys(shown.properties)).toEqual(Object.keys(props));
        for (const [key, property] of Object.entries(props)) {
          expect(Object.getOwnPropertyDescriptor(shown.properties, key)?.value).toEqual(asObject(property));
        }
        expect(ToolSchema.safeParse(listed.tool).success).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  it('lists a tool without an output schema MCP does not take, and leaves out one whose input schema it does not take', () => {
    const problems: string[] = [];
    const inputSchema = { type: 'object' as const, properties: { a: { type: 'string' } } };
    const withoutOutput = mcpListedTool(
      { name: 'A_TOOL', inputSchema, outputSchema: { type: 'object', required: 'a' } as never },
      (problem) => problems.push(problem),
    );
    expect(withoutOutput).toEqual({ tool: { name: 'A_TOOL', inputSchema }, withOutputSchema: false });
    expect(problems).toEqual([
      "toolmux server: A_TOOL is listed over MCP without its output schema, which MCP's Tool shape does not take (outputSchema.required: is a string: send an array).",
    ]);
    const left = mcpListedTool(
      { name: 'B_TOOL', inputSchema: { type: 'object', properties: { a: null } } as never },
      (problem) => problems.push(problem),
    );
    expect(left).toBeUndefined();
    expect(problems[1]).toContain('B_TOOL is left out of the MCP tools/list');
    expect(problems[1]).toContain('(inputSchema.properties.a: ');
    // a property of a long name is named in part
    const long = 'p'.repeat(100_000);
    mcpListedTool(
      { name: 'C_TOOL', inputSchema: { type: 'object', properties: { [long]: 1 } } as never },
      (problem) => problems.push(problem),
    );
    expect(problems[2]).toContain('(inputSchema.properties.ppp');
    expect(problems[2]!.length).toBeLessThan(600);
    // an index in brackets, as a tool's refused arguments name one
    mcpListedTool(
      { name: 'D_TOOL', inputSchema, outputSchema: { type: 'object', required: ['a', 1] } as never },
      (problem) => problems.push(problem),
    );
    expect(problems[3]).toContain('(outputSchema.required[1]: is a number: send a string).');
  });
});
