import { createRequire } from 'node:module';
import {
  SessionPreset,
  strictSchemaOf,
  type Toolkit,
  ToolMux,
  type ToolSpec,
  withPortableKeys,
} from '@toolmux/core';
import {
  CORPUS_TEST_TIMEOUT_MS,
  findSchemaViolations,
  hardSchemaCall,
  hardSchemaToolkit,
  notStrictReasonPattern,
  portableKeyViolations,
  toolkitFromOpenApi,
} from '@toolmux/core/test';
import { generateText, stepCountIs, type ToolSet } from 'ai';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { VercelProvider } from './index.js';
import { type CallOptions, mockModel, sentStrict } from './test-model.js';

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
  const model = mockModel(async (options) => {
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
  });
  await generateText({ model, tools, stopWhen: stepCountIs(3), prompt: 'hi' });
  return calls;
}

/** What each wrapped tool must be, given the spec it was made from and the tool's original schema. */
function expectHandedOut(tools: ToolSet, spec: ToolSpec, strict: boolean, original: Record<string, unknown>) {
  const tool = tools[spec.slug]!;
  const schema = jsonSchemaOf(tools, spec.slug);
  // keys a major model API refuses are handed out renamed (propertyKeys: 'portable', the default)
  expect(
    findSchemaViolations(withPortableKeys(spec, original, 'portable'), schema, {
      strict: tool.strict === true,
    }),
  ).toEqual([]);
  expect(portableKeyViolations(schema)).toEqual([]);
  expect(tool.description).toBe(spec.description);
  const shaped = strictSchemaOf(spec);
  if (strict) {
    expect(tool.strict).toBe(shaped.strict);
    expect(schema).toEqual(withPortableKeys(spec, shaped.schema, 'portable'));
  } else {
    expect(tool).not.toHaveProperty('strict');
    expect(schema).toEqual(withPortableKeys(spec, spec.inputSchema, 'portable'));
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
    expect(tool.strict).toBe(sentStrict(tools[tool.name]!.strict));
  }
}

describe.each([false, true])('hard zod schemas (hardSchemaCases), strict: %s', (strict) => {
  it('hands out each schema as core shaped it, strict where possible, and the AI SDK sends it as is', async () => {
    const originals = new Map(hardSchemaToolkit().toolkit.tools.map((tool) => [tool.slug, tool.inputSchema]));
    const { toolkit, cases } = hardSchemaToolkit();
    const { tools, specs, warnings } = await wrapAll([toolkit], strict);
    expect(Object.keys(tools).sort()).toEqual(cases.map((entry) => entry.slug).sort());
    for (const entry of cases) {
      const spec = specs.find((candidate) => candidate.slug === entry.slug)!;
      expectHandedOut(tools, spec, strict, originals.get(entry.slug)!);
      if (strict) expect(tools[entry.slug]!.strict).toBe(entry.strict);
    }
    expectSentToModel((await modelRequest(tools))[0]!.tools, tools);
    const fallbacks = cases
      .filter((entry) => !entry.strict)
      .map((entry) => `${entry.slug} \\(${notStrictReasonPattern(entry)}`);
    expect(warnings).toEqual(
      strict
        ? [expect.stringMatching(new RegExp(`^toolmux: ${fallbacks.length} tools .*${fallbacks.join('.*')}`))]
        : [],
    );
  });

  it('the arguments the model sends reach each handler as the tool defined them', async () => {
    const { toolkit, cases, received } = hardSchemaToolkit();
    const { tools } = await wrapAll([toolkit], strict);
    // a strict model fills in every field of a strict tool; a tool that fell back gets what it asks for
    const toolCalls = cases.map((entry) => ({
      toolName: entry.slug,
      input: hardSchemaCall(entry, strict && entry.strict).args,
    }));
    const requests = await modelRequest(tools, toolCalls);
    const results = requests[1]!.prompt.at(-1)!;
    expect(results.role).toBe('tool');
    for (const part of results.role === 'tool' ? results.content : []) {
      expect(part).toMatchObject({ type: 'tool-result', output: { type: 'text' } });
    }
    for (const entry of cases) {
      expect(received.get(entry.slug)).toEqual([hardSchemaCall(entry, strict && entry.strict).received]);
    }
  });
});

describe('the GitHub REST API as ~1,000 tools', { timeout: CORPUS_TEST_TIMEOUT_MS }, () => {
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
        return findSchemaViolations(withPortableKeys(spec, originals.get(spec.slug)!, 'portable'), schema, {
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
