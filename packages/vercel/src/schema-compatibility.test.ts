import { createRequire } from 'node:module';
import {
  defineTool,
  defineToolkit,
  SessionPreset,
  strictSchemaOf,
  type Toolkit,
  ToolMux,
  type ToolSpec,
} from '@toolmux/core';
import { findSchemaViolations, toolkitFromOpenApi } from '@toolmux/core/test';
import { generateText, stepCountIs, type ToolSet } from 'ai';
import { MockLanguageModelV4 } from 'ai/test';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { VercelProvider } from './index.js';

type CallOptions = Parameters<MockLanguageModelV4['doGenerate']>[0];

const muxes: ToolMux<VercelProvider>[] = [];
afterEach(async () => {
  await Promise.all(muxes.splice(0).map((mux) => mux.close()));
});

/** Every tool of `toolkits` as the provider wraps it, with the specs it was given and its warnings. */
async function wrapAll(toolkits: Toolkit[], strict: boolean) {
  const warnings: string[] = [];
  const provider = new VercelProvider({ strict, logger: { warn: (message) => warnings.push(message) } });
  const wrap = vi.spyOn(provider, 'wrapTools');
  const mux = new ToolMux({ provider, toolkits, store: ':memory:' });
  muxes.push(mux);
  const session = await mux.create('user_1', { sessionPreset: SessionPreset.DIRECT_TOOLS });
  const tools = await session.tools();
  return { session, tools, specs: wrap.mock.calls[0]![0], warnings };
}

/** The JSON schema the AI SDK hands the model for a tool of the set. */
function jsonSchemaOf(tools: ToolSet, slug: string): Record<string, unknown> {
  return (tools[slug]!.inputSchema as unknown as { jsonSchema: Record<string, unknown> }).jsonSchema;
}

/**
 * What `generateText` sends the model for these tools (its own `prepareTools` conversion): a real
 * call with a mock model that records its options, then optionally plays one step of tool calls.
 */
async function modelRequest(tools: ToolSet, toolCalls: Array<{ toolName: string; input: unknown }> = []) {
  const calls: CallOptions[] = [];
  const model = new MockLanguageModelV4({
    doGenerate: async (options) => {
      calls.push(options);
      const step = calls.length === 1 ? toolCalls : [];
      return {
        content:
          step.length > 0
            ? step.map((call, index) => ({
                type: 'tool-call' as const,
                toolCallId: `call_${index}`,
                toolName: call.toolName,
                input: JSON.stringify(call.input),
              }))
            : [{ type: 'text' as const, text: 'done' }],
        finishReason: { unified: step.length > 0 ? 'tool-calls' : 'stop', raw: undefined },
        usage: {
          inputTokens: { total: 1, noCache: 1, cacheRead: undefined, cacheWrite: undefined },
          outputTokens: { total: 1, text: 1, reasoning: undefined },
        },
        warnings: [],
      };
    },
  });
  await generateText({ model, tools, stopWhen: stepCountIs(3), prompt: 'hi' });
  return calls;
}

/** What each wrapped tool must be, given the spec it was made from and the tool's original schema. */
function expectHandedOut(tools: ToolSet, spec: ToolSpec, strict: boolean, original: Record<string, unknown>) {
  const tool = tools[spec.slug]!;
  const schema = jsonSchemaOf(tools, spec.slug);
  expect(findSchemaViolations(original, schema, { strict: tool.strict === true })).toEqual([]);
  expect(tool.description).toBe(spec.description);
  const shaped = strictSchemaOf(spec);
  if (strict) {
    expect(tool.strict).toBe(shaped.strict);
    expect(schema).toEqual(shaped.schema);
  } else {
    expect(tool).not.toHaveProperty('strict');
    expect(schema).toEqual(spec.inputSchema);
  }
  expect(schema).not.toBe(spec.inputSchema);
  expect(Object.getOwnPropertyNames(schema)).not.toContain('~standard');
}

/** What the model must receive for a tool: the set's schema, and strict as the tool says. */
function expectSentToModel(sent: CallOptions['tools'], tools: ToolSet) {
  expect(sent).toHaveLength(Object.keys(tools).length);
  for (const tool of sent ?? []) {
    expect(tool.type).toBe('function');
    if (tool.type !== 'function') continue;
    expect(tool.inputSchema).toEqual(jsonSchemaOf(tools, tool.name));
    expect(tool.strict).toBe(tools[tool.name]!.strict);
  }
}

const Category: z.ZodType = z.object({
  name: z.string(),
  get subcategories() {
    return z.array(Category).optional();
  },
});

/**
 * Hard zod schemas: each with the arguments a model sends without strict mode, those a strict model
 * sends (every field, `null` for an absent optional), what the handler must receive, and whether the
 * tool can be strict.
 */
const hardCases = [
  {
    slug: 'HARD_OPTIONAL_DEFAULTS',
    inputSchema: z.object({
      query: z.string().min(1),
      page: z.number().int().min(1).default(1),
      order: z.enum(['newest', 'oldest']).optional(),
    }),
    args: { query: 'invoices' },
    strictArgs: { query: 'invoices', page: null, order: null },
    received: { query: 'invoices', page: 1 },
    strict: true,
  },
  {
    slug: 'HARD_NESTED_ARRAYS_OF_OBJECTS',
    inputSchema: z.object({
      invoice: z.object({
        lines: z
          .array(z.object({ product: z.string(), amount: z.number(), memo: z.string().optional() }))
          .min(1),
        customer: z
          .object({ email: z.string(), address: z.object({ city: z.string(), zip: z.string().optional() }) })
          .optional(),
      }),
    }),
    args: {
      invoice: {
        lines: [{ product: 'p1', amount: 9.5 }],
        customer: { email: 'a@b.c', address: { city: 'Oslo' } },
      },
    },
    strictArgs: {
      invoice: {
        lines: [{ product: 'p1', amount: 9.5, memo: null }],
        customer: { email: 'a@b.c', address: { city: 'Oslo', zip: null } },
      },
    },
    received: {
      invoice: {
        lines: [{ product: 'p1', amount: 9.5 }],
        customer: { email: 'a@b.c', address: { city: 'Oslo' } },
      },
    },
    strict: true,
  },
  {
    slug: 'HARD_ENUMS_AND_UNIONS',
    inputSchema: z.object({
      recipient: z.discriminatedUnion('type', [
        z.object({ type: z.literal('email'), address: z.string() }),
        z.object({ type: z.literal('phone'), number: z.string(), country: z.string().optional() }),
      ]),
      amount: z.union([z.number(), z.string()]),
      currency: z.enum(['EUR', 'USD', 'NOK']),
      reference: z.string().nullable().optional(),
    }),
    args: { recipient: { type: 'phone', number: '123' }, amount: 10, currency: 'NOK' },
    strictArgs: {
      recipient: { type: 'phone', number: '123', country: null },
      amount: 10,
      currency: 'NOK',
      reference: null,
    },
    received: { recipient: { type: 'phone', number: '123' }, amount: 10, currency: 'NOK' },
    // `reference` accepts null itself: a strict null for it stays null
    strictReceived: {
      recipient: { type: 'phone', number: '123' },
      amount: 10,
      currency: 'NOK',
      reference: null,
    },
    strict: true,
  },
  {
    slug: 'HARD_RECURSIVE_DEFS',
    inputSchema: z.object({ root: Category }),
    args: { root: { name: 'all', subcategories: [{ name: 'books' }] } },
    received: { root: { name: 'all', subcategories: [{ name: 'books' }] } },
    strict: false,
  },
  {
    slug: 'HARD_RECORDS',
    inputSchema: z.object({ id: z.string(), counters: z.record(z.string(), z.number()) }),
    args: { id: 'x', counters: { views: 3 } },
    received: { id: 'x', counters: { views: 3 } },
    strict: false,
  },
  {
    slug: 'HARD_JSON_SCHEMA_FROM_ZOD',
    // z.toJSONSchema() output carries zod's hidden `~standard` marker (API.md, "Known traps")
    inputSchema: z.toJSONSchema(z.object({ name: z.string(), tags: z.array(z.string()).optional() })),
    args: { name: 'n' },
    strictArgs: { name: 'n', tags: null },
    received: { name: 'n' },
    strict: true,
  },
] as const;

function hardToolkit(calls: Array<{ slug: string; input: unknown }> = []): Toolkit {
  return defineToolkit({
    slug: 'hard',
    name: 'Hard',
    description: 'Hard schemas.',
    tools: hardCases.map((entry) =>
      defineTool({
        slug: entry.slug,
        description: `Tool with schema ${entry.slug}.`,
        inputSchema: entry.inputSchema,
        execute: (input: unknown) => {
          calls.push({ slug: entry.slug, input });
          return { ok: true };
        },
      }),
    ),
  });
}

describe.each([false, true])('hard zod schemas, strict: %s', (strict) => {
  it('hands out each schema as core shaped it, strict where possible, and the AI SDK sends it as is', async () => {
    const originals = new Map(hardToolkit().tools.map((tool) => [tool.slug, tool.inputSchema]));
    const { tools, specs, warnings } = await wrapAll([hardToolkit()], strict);
    expect(Object.keys(tools).sort()).toEqual(hardCases.map((entry) => entry.slug).sort());
    for (const entry of hardCases) {
      const spec = specs.find((candidate) => candidate.slug === entry.slug)!;
      expectHandedOut(tools, spec, strict, originals.get(entry.slug)!);
      if (strict) expect(tools[entry.slug]!.strict).toBe(entry.strict);
    }
    expectSentToModel((await modelRequest(tools))[0]!.tools, tools);
    const fallbacks = hardCases.filter((entry) => !entry.strict).map((entry) => entry.slug);
    expect(warnings).toEqual(
      strict ? [expect.stringMatching(new RegExp(`^toolmux: 2 tools .*${fallbacks.join('.*')}`))] : [],
    );
  });

  it('the arguments the model sends reach each handler as the tool defined them', async () => {
    const calls: Array<{ slug: string; input: unknown }> = [];
    const { tools } = await wrapAll([hardToolkit(calls)], strict);
    const toolCalls = hardCases.map((entry) => ({
      toolName: entry.slug,
      input: strict && entry.strict && 'strictArgs' in entry ? entry.strictArgs : entry.args,
    }));
    const requests = await modelRequest(tools, toolCalls);
    const results = requests[1]!.prompt.at(-1)!;
    expect(results.role).toBe('tool');
    for (const part of results.role === 'tool' ? results.content : []) {
      expect(part).toMatchObject({ type: 'tool-result', output: { type: 'text' } });
    }
    for (const entry of hardCases) {
      const expected =
        strict && entry.strict && 'strictReceived' in entry ? entry.strictReceived : entry.received;
      expect(calls.find((call) => call.slug === entry.slug)?.input).toEqual(expected);
    }
  });
});

describe('the GitHub REST API as ~1,000 tools', () => {
  const require = createRequire(import.meta.url);
  const document = require('@octokit/openapi/generated/api.github.com.json');
  const { toolkit } = toolkitFromOpenApi(document, { slug: 'github', limit: 1000 });
  const originals = new Map(toolkit.tools.map((tool) => [tool.slug, tool.inputSchema]));

  it.each([false, true])(
    'strict: %s — every tool wraps with no schema violation and the AI SDK sends them all',
    async (strict) => {
      const { tools, specs, warnings } = await wrapAll([toolkit], strict);
      expect(specs).toHaveLength(1000);
      expect(Object.keys(tools)).toHaveLength(1000);

      const violations = specs.flatMap((spec) => {
        const schema = jsonSchemaOf(tools, spec.slug);
        return findSchemaViolations(originals.get(spec.slug)!, schema, {
          strict: tools[spec.slug]!.strict === true,
        }).map((violation) => `${spec.slug} ${violation}`);
      });
      expect(violations).toEqual([]);
      for (const spec of specs.slice(0, 50)) expectHandedOut(tools, spec, strict, originals.get(spec.slug)!);

      const strictCount = Object.values(tools).filter((tool) => tool.strict === true).length;
      const fallbackCount = Object.values(tools).filter((tool) => tool.strict === false).length;
      if (strict) {
        expect(strictCount + fallbackCount).toBe(1000);
        expect(warnings).toHaveLength(fallbackCount > 0 ? 1 : 0);
        if (fallbackCount > 0)
          expect(warnings[0]).toMatch(new RegExp(`^toolmux: ${fallbackCount} tools cannot`));
      } else {
        expect([strictCount, fallbackCount, warnings]).toEqual([0, 0, []]);
      }
      console.info(
        `GitHub corpus, strict: ${strict}: ${specs.length} tools wrapped, 0 schema violations` +
          (strict ? `, ${strictCount} strict, ${fallbackCount} fell back to non-strict` : ''),
      );

      expectSentToModel((await modelRequest(tools))[0]!.tools, tools);
    },
  );
});
