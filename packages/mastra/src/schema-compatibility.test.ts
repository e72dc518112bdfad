import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Agent } from '@mastra/core/agent';
import {
  type JSONSchema,
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
import { MockLanguageModelV4 } from 'ai/test';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { MastraProvider, type MastraToolSet } from './index.js';

type CallOptions = Parameters<MockLanguageModelV4['doGenerate']>[0];
/**
 * Mastra's types name the `@ai-sdk/provider` release it bundles; `ai/test`'s mock implements the same
 * LanguageModelV4 specification from a later release, which TypeScript sees as a different type.
 */
type AgentModel = ConstructorParameters<typeof Agent>[0]['model'];

const muxes: ToolMux<MastraProvider>[] = [];
afterEach(async () => {
  await Promise.all(muxes.splice(0).map((mux) => mux.close()));
});

/** Every tool of `toolkits` as the provider wraps it, with the specs it was given and its warnings. */
async function wrapAll(toolkits: Toolkit[], strict: boolean) {
  const warnings: string[] = [];
  const provider = new MastraProvider({ strict, logger: { warn: (message) => warnings.push(message) } });
  const wrap = vi.spyOn(provider, 'wrapTools');
  const mux = new ToolMux({ provider, toolkits, store: ':memory:' });
  muxes.push(mux);
  const session = await mux.create('user_1', { sessionPreset: SessionPreset.DIRECT_TOOLS });
  const tools = await session.tools();
  return { tools, specs: wrap.mock.calls[0]![0], warnings };
}

/** A tool of the set by key, or by slug (a slug longer than 63 characters is keyed by a shorter name). */
function toolOf(tools: MastraToolSet, keyOrSlug: string) {
  const tool = tools[keyOrSlug] ?? Object.values(tools).find((candidate) => candidate.id === keyOrSlug);
  expect(tool).toBeDefined();
  return tool!;
}

/** The JSON schema Mastra reads from a tool of the set, by slug or by key. */
function jsonSchemaOf(tools: MastraToolSet, slug: string): Record<string, unknown> {
  return toolOf(tools, slug).inputSchema!['~standard'].jsonSchema.input({ target: 'draft-07' }) as Record<
    string,
    unknown
  >;
}

/**
 * What a Mastra `Agent` sends the model for these tools (Mastra's own tool conversion, then the AI
 * SDK's): a real `agent.generate()` with a mock model that records its options, then optionally plays
 * one step of tool calls.
 */
async function modelRequest(
  tools: MastraToolSet,
  toolCalls: Array<{ toolName: string; input: unknown }> = [],
  as: { provider: string; modelId: string } = { provider: 'mock-provider', modelId: 'mock-model-id' },
): Promise<CallOptions[]> {
  const calls: CallOptions[] = [];
  const model = new MockLanguageModelV4({
    ...as,
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
  const agent = new Agent({
    id: 'schemas',
    name: 'Schemas',
    instructions: 'Use the tools.',
    model: model as AgentModel,
    tools,
  });
  await agent.generate('hi', { maxSteps: 3 });
  return calls;
}

/** What each wrapped tool must be, given the spec it was made from and the tool's original schema. */
function expectHandedOut(
  tools: MastraToolSet,
  spec: ToolSpec,
  strict: boolean,
  original: Record<string, unknown>,
) {
  const tool = toolOf(tools, spec.slug);
  const schema = jsonSchemaOf(tools, spec.slug);
  expect(
    findSchemaViolations(withPortableKeys(spec, original, 'portable'), schema, {
      strict: tool.strict === true,
    }),
  ).toEqual([]);
  expect(portableKeyViolations(schema)).toEqual([]);
  expect(tool.id).toBe(spec.slug);
  expect(tool.description).toBe(spec.description);
  const shaped = strictSchemaOf(spec);
  if (strict) {
    expect(tool.strict).toBe(shaped.strict);
    expect(schema).toEqual(withPortableKeys(spec, shaped.schema, 'portable'));
  } else {
    expect(tool.strict).toBe(false);
    expect(schema).toEqual(withPortableKeys(spec, spec.inputSchema, 'portable'));
  }
  expect(schema).not.toBe(spec.inputSchema);
  expect(Object.getOwnPropertyNames(schema)).not.toContain('~standard');
}

/** What the model must receive: every tool, with the set's schema and strict flag, unchanged by Mastra. */
function expectSentToModel(sent: CallOptions['tools'], tools: MastraToolSet) {
  expect(sent).toHaveLength(Object.keys(tools).length);
  for (const tool of sent ?? []) {
    expect(tool.type).toBe('function');
    if (tool.type !== 'function') continue;
    expect(tool.inputSchema).toEqual(jsonSchemaOf(tools, tool.name));
    expect(tool.strict).toBe(tools[tool.name]!.strict);
  }
}

describe.each([false, true])('hard zod schemas (hardSchemaCases), strict: %s', (strict) => {
  it('hands out each schema as core shaped it, strict where possible, and Mastra sends it as is', async () => {
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
    const outputs = results.role === 'tool' ? results.content : [];
    expect(outputs).toHaveLength(cases.length);
    for (const part of outputs) {
      expect(part).toMatchObject({ type: 'tool-result', output: { type: 'text' } });
    }
    for (const entry of cases) {
      expect(received.get(entry.slug)).toEqual([hardSchemaCall(entry, strict && entry.strict).received]);
    }
  });
});

describe.each([false, true])(
  'an OpenAI model (Mastra applies its per-model schema layers), strict: %s',
  (strict) => {
    it('the model gets every hard schema without a violation; non-strict, exactly as toolmux shaped it', async () => {
      const originals = new Map(
        hardSchemaToolkit().toolkit.tools.map((tool) => [tool.slug, tool.inputSchema]),
      );
      const { toolkit } = hardSchemaToolkit();
      const { tools } = await wrapAll([toolkit], strict);
      const [request] = await modelRequest(tools, [], { provider: 'openai.responses', modelId: 'gpt-5.4' });
      const sent = request!.tools ?? [];
      expect(sent).toHaveLength(Object.keys(tools).length);
      for (const tool of sent) {
        if (tool.type !== 'function') throw new Error(`${tool.name} is not a function tool`);
        expect(
          findSchemaViolations(originals.get(tool.name)!, tool.inputSchema as JSONSchema, {
            strict: tool.strict === true,
          }),
        ).toEqual([]);
        // strict tools get Mastra's OpenAI layer on top (limits become descriptions); the others opt out
        if (tool.strict !== true) expect(tool.inputSchema).toEqual(jsonSchemaOf(tools, tool.name));
      }
    });
  },
);

describe('the GitHub REST API as ~1,200 tools (@octokit/openapi)', {
  timeout: CORPUS_TEST_TIMEOUT_MS,
}, () => {
  let github: Toolkit;
  beforeAll(() => {
    const file = createRequire(import.meta.url).resolve('@octokit/openapi/generated/api.github.com.json');
    github = toolkitFromOpenApi(JSON.parse(readFileSync(file, 'utf8')) as object, { slug: 'github' }).toolkit;
  });

  it.each([false, true])(
    'strict: %s — every tool wraps with no schema violation and the Mastra agent sends them all',
    async (strict) => {
      const { tools, specs, warnings } = await wrapAll([github], strict);
      expect(specs).toHaveLength(github.tools.length);
      expect(specs.length).toBeGreaterThanOrEqual(1_200);
      expect(Object.keys(tools)).toHaveLength(specs.length);
      const originals = new Map(github.tools.map((tool) => [tool.slug, tool.inputSchema]));
      const specOf = new Map(specs.map((spec) => [spec.slug, spec]));
      /** The tool's original schema with the keys the provider hands out renamed (the default). */
      const shownOriginal = (slug: string) =>
        withPortableKeys(specOf.get(slug)!, originals.get(slug)!, 'portable');

      const violations = specs.flatMap((spec) =>
        findSchemaViolations(shownOriginal(spec.slug), jsonSchemaOf(tools, spec.slug), {
          strict: toolOf(tools, spec.slug).strict === true,
        }).map((violation) => `${spec.slug} ${violation}`),
      );
      expect(violations).toEqual([]);
      for (const spec of specs) expectHandedOut(tools, spec, strict, originals.get(spec.slug)!);

      // Mastra keeps tool names of at most 63 characters (it renames longer ones and throws when two
      // collide): the record's keys are such names, each tool's id its slug
      const keys = Object.keys(tools);
      expect(keys.filter((key) => key.length > 63)).toEqual([]);
      const renamed = keys.filter((key) => tools[key]!.id !== key);
      expect(renamed.length).toBeGreaterThan(0);
      for (const key of renamed) expect(tools[key]!.id.startsWith(key.slice(0, 55))).toBe(true);
      expect(new Set(Object.values(tools).map((tool) => tool.id)).size).toBe(specs.length);

      const strictCount = Object.values(tools).filter((tool) => tool.strict === true).length;
      if (strict) {
        const fallbackCount = specs.length - strictCount;
        expect(strictCount).toBeGreaterThan(specs.length * 0.9);
        expect(warnings).toHaveLength(fallbackCount > 0 ? 1 : 0);
        if (fallbackCount > 0)
          expect(warnings[0]).toMatch(new RegExp(`^toolmux: ${fallbackCount} tools cannot`));
      } else {
        expect([strictCount, warnings]).toEqual([0, []]);
      }
      console.info(
        `GitHub corpus through MastraProvider({ strict: ${strict} }): ${specs.length} tools, 0 schema violations, ${renamed.length} named by their first 63 characters` +
          (strict ? `, ${strictCount} strict, ${specs.length - strictCount} fell back to non-strict` : ''),
      );

      expectSentToModel((await modelRequest(tools))[0]!.tools, tools);

      // an OpenAI model: Mastra's per-model layer applies to strict tools, and still breaks none
      const [openai] = await modelRequest(tools, [], { provider: 'openai.responses', modelId: 'gpt-5.4' });
      const sentViolations = (openai!.tools ?? []).flatMap((tool) =>
        tool.type === 'function'
          ? findSchemaViolations(shownOriginal(toolOf(tools, tool.name).id), tool.inputSchema as JSONSchema, {
              strict: tool.strict === true,
            }).map((violation) => `${tool.name} ${violation}`)
          : [`${tool.name} is not a function tool`],
      );
      expect(openai!.tools).toHaveLength(specs.length);
      expect(sentViolations).toEqual([]);
    },
    120_000,
  );
});
