import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { BaseTool, ChatMessage, ChatResponseChunk, LLMChatParamsStreaming } from '@llamaindex/core/llms';
import { MockLLM } from '@llamaindex/core/llms/mock';
import { agent } from '@llamaindex/workflow';
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
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { LlamaIndexProvider, type LlamaIndexTool } from './index.js';

const muxes: ToolMux<LlamaIndexProvider>[] = [];
afterEach(async () => {
  await Promise.all(muxes.splice(0).map((mux) => mux.close()));
});

/** Every tool of `toolkits` as the provider wraps it, with the specs it was given and its warnings. */
async function wrapAll(toolkits: Toolkit[], strict: boolean) {
  const warnings: string[] = [];
  const provider = new LlamaIndexProvider({ strict, logger: { warn: (message) => warnings.push(message) } });
  const wrap = vi.spyOn(provider, 'wrapTools');
  const mux = new ToolMux({ provider, toolkits, store: ':memory:' });
  muxes.push(mux);
  const session = await mux.create('user_1', { sessionPreset: SessionPreset.DIRECT_TOOLS });
  const tools = await session.tools();
  return { tools, specs: wrap.mock.calls[0]![0], warnings };
}

/**
 * LlamaIndex's `MockLLM`, answering one step of tool calls (then "done"), that records the tools and
 * messages the `agent()` loop sends it.
 */
class RecordingLLM extends MockLLM {
  readonly requests: Array<{ tools: BaseTool[]; messages: ChatMessage[] }> = [];
  readonly #toolCalls: Array<{ name: string; input: unknown }>;

  constructor(toolCalls: Array<{ name: string; input: unknown }> = []) {
    super({ timeBetweenToken: 0 });
    this.#toolCalls = toolCalls;
  }

  override async chat(params: LLMChatParamsStreaming): Promise<AsyncIterable<ChatResponseChunk>>;
  override async chat(params: never): Promise<never>;
  override async chat(params: LLMChatParamsStreaming): Promise<AsyncIterable<ChatResponseChunk>> {
    this.requests.push({ tools: params.tools ?? [], messages: [...params.messages] });
    const calls = this.requests.length === 1 ? this.#toolCalls : [];
    return (async function* () {
      if (calls.length === 0) {
        yield { delta: 'done', raw: {} };
        return;
      }
      const toolCall = calls.map((call, index) => ({
        name: call.name,
        id: `call_${index}`,
        input: JSON.stringify(call.input),
      }));
      yield { delta: '', raw: {}, options: { toolCall } };
    })();
  }
}

/** What the `agent()` loop hands the LLM for these tools, and what it sends back after one step of calls. */
async function agentRun(tools: LlamaIndexTool[], toolCalls: Array<{ name: string; input: unknown }> = []) {
  const llm = new RecordingLLM(toolCalls);
  await agent({ llm, tools, verbose: false }).run('hi');
  return llm.requests;
}

function expectHandedOut(
  tool: LlamaIndexTool,
  spec: ToolSpec,
  strict: boolean,
  original: Record<string, unknown>,
) {
  const schema = tool.metadata.parameters as Record<string, unknown>;
  const shaped = strictSchemaOf(spec);
  const isStrict = strict && shaped.strict;
  // keys a major model API refuses are handed out renamed (propertyKeys: 'portable', the default)
  expect(
    findSchemaViolations(withPortableKeys(spec, original, 'portable'), schema, { strict: isStrict }),
  ).toEqual([]);
  expect(portableKeyViolations(schema)).toEqual([]);
  expect(tool.metadata.name).toBe(spec.slug);
  expect(tool.metadata.description).toBe(spec.description);
  expect(schema).toEqual(withPortableKeys(spec, isStrict ? shaped.schema : spec.inputSchema, 'portable'));
  expect(schema).not.toBe(spec.inputSchema);
  expect(Object.getOwnPropertyNames(schema)).not.toContain('~standard');
}

describe.each([false, true])('hard zod schemas (hardSchemaCases), strict: %s', (strict) => {
  it('hands out each schema as core shaped it, strict where possible, and the agent passes it on as is', async () => {
    const originals = new Map(hardSchemaToolkit().toolkit.tools.map((tool) => [tool.slug, tool.inputSchema]));
    const { toolkit, cases } = hardSchemaToolkit();
    const { tools, specs, warnings } = await wrapAll([toolkit], strict);
    expect(tools.map((tool) => tool.metadata.name).sort()).toEqual(cases.map((entry) => entry.slug).sort());
    for (const entry of cases) {
      const spec = specs.find((candidate) => candidate.slug === entry.slug)!;
      expectHandedOut(
        tools.find((tool) => tool.metadata.name === entry.slug)!,
        spec,
        strict,
        originals.get(entry.slug)!,
      );
    }
    const [request] = await agentRun(tools);
    expect(request!.tools.map((tool) => [tool.metadata.name, tool.metadata.parameters])).toEqual(
      tools.map((tool) => [tool.metadata.name, tool.metadata.parameters]),
    );
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
    const toolCalls = cases.map((entry) => ({
      name: entry.slug,
      input: hardSchemaCall(entry, strict && entry.strict).args,
    }));
    const requests = await agentRun(tools, toolCalls);
    const results = requests[1]!.messages.flatMap((message) => {
      const toolResult = (message.options as { toolResult?: { result: string } } | undefined)?.toolResult;
      return toolResult ? [toolResult.result] : [];
    });
    expect(results).toHaveLength(cases.length);
    for (const result of results) expect(result).not.toMatch(/^Error/);
    for (const entry of cases) {
      expect(received.get(entry.slug)).toEqual([hardSchemaCall(entry, strict && entry.strict).received]);
    }
  });
});

describe('the GitHub REST API as ~1,200 tools (@octokit/openapi)', {
  timeout: CORPUS_TEST_TIMEOUT_MS,
}, () => {
  let github: Toolkit;
  beforeAll(() => {
    const file = createRequire(import.meta.url).resolve('@octokit/openapi/generated/api.github.com.json');
    github = toolkitFromOpenApi(JSON.parse(readFileSync(file, 'utf8')) as object, { slug: 'github' }).toolkit;
  });

  it.each([false, true])(
    'strict: %s — every tool wraps with no schema violation and the agent passes them all on',
    async (strict) => {
      const { tools, specs, warnings } = await wrapAll([github], strict);
      expect(specs).toHaveLength(github.tools.length);
      expect(specs.length).toBeGreaterThanOrEqual(1_200);
      expect(tools).toHaveLength(specs.length);
      const originals = new Map(github.tools.map((tool) => [tool.slug, tool.inputSchema]));
      const violations = tools.flatMap((tool, index) => {
        const spec = specs[index]!;
        const isStrict = strict && strictSchemaOf(spec).strict;
        return findSchemaViolations(
          withPortableKeys(spec, originals.get(spec.slug)!, 'portable'),
          tool.metadata.parameters as Record<string, unknown>,
          {
            strict: isStrict,
          },
        ).map((violation) => `${spec.slug} ${violation}`);
      });
      expect(violations).toEqual([]);
      tools.forEach((tool, index) => {
        expectHandedOut(tool, specs[index]!, strict, originals.get(specs[index]!.slug)!);
      });
      const strictCount = specs.filter((spec) => strict && strictSchemaOf(spec).strict).length;
      expect(warnings).toHaveLength(strict && strictCount < specs.length ? 1 : 0);
      console.info(
        `GitHub corpus through LlamaIndexProvider({ strict: ${strict} }): ${specs.length} tools, 0 schema violations` +
          (strict ? `, ${strictCount} strict, ${specs.length - strictCount} fell back to non-strict` : ''),
      );

      const [request] = await agentRun(tools);
      expect(request!.tools).toHaveLength(tools.length);
      expect(new Set(request!.tools.map((tool) => tool.metadata.name)).size).toBe(tools.length);
    },
    120_000,
  );
});
