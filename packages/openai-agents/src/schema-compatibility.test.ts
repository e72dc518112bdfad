import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Agent, type FunctionTool, OpenAIResponsesModel, run, setTracingDisabled } from '@openai/agents';
import { assistantMessage, functionCall, ScriptedModel } from '@openai/agents-core/testing';
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
  type OpenApiToolCall,
  portableKeyViolations,
  toolkitFromOpenApi,
} from '@toolmux/core/test';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { OpenAIAgentsProvider } from './openai-agents-provider.js';

setTracingDisabled(true);

const muxes: ToolMux<OpenAIAgentsProvider>[] = [];
afterEach(async () => {
  await Promise.all(muxes.splice(0).map((mux) => mux.close()));
});

/** Every tool of `toolkits`, wrapped by the provider, with the specs it was given and its warnings. */
async function wrapAll(toolkits: Toolkit[], strict: boolean) {
  const warnings: string[] = [];
  const provider = new OpenAIAgentsProvider({
    strict,
    logger: { warn: (message) => warnings.push(message) },
  });
  const wrap = vi.spyOn(provider, 'wrapTools');
  const mux = new ToolMux({ provider, toolkits, store: ':memory:' });
  muxes.push(mux);
  const session = await mux.create('user_1', { sessionPreset: SessionPreset.DIRECT_TOOLS });
  const tools = await session.tools();
  const specs = wrap.mock.calls[0]![0];
  return { session, tools, specs, warnings };
}

/**
 * The `tools` array the OpenAI Responses model would send for an agent with these tools: a real run of
 * `OpenAIResponsesModel` (the SDK's own serialization) over a client that records the request.
 */
async function responsesRequestTools(tools: FunctionTool[]): Promise<Array<Record<string, unknown>>> {
  const requests: Array<{ tools: Array<Record<string, unknown>> }> = [];
  const client = {
    responses: {
      create: async (body: { tools: Array<Record<string, unknown>> }) => {
        requests.push(body);
        return {
          id: 'resp_1',
          status: 'completed',
          output: [
            {
              type: 'message',
              id: 'msg_1',
              role: 'assistant',
              status: 'completed',
              content: [{ type: 'output_text', text: 'ok', annotations: [] }],
            },
          ],
          usage: {
            input_tokens: 1,
            output_tokens: 1,
            total_tokens: 2,
            input_tokens_details: { cached_tokens: 0 },
            output_tokens_details: { reasoning_tokens: 0 },
          },
        };
      },
    },
  };
  const model = new OpenAIResponsesModel(client as never, 'gpt-5.4');
  await run(new Agent({ name: 'Serializer', model, tools }), 'hi');
  return requests[0]!.tools;
}

/** What each wrapped tool must be, given the spec it was made from and the tool's original schema. */
function expectHandedOut(
  tool: FunctionTool,
  spec: ToolSpec,
  strict: boolean,
  original: Record<string, unknown>,
) {
  // keys a major model API refuses are handed out renamed (propertyKeys: 'portable', the default)
  expect(
    findSchemaViolations(withPortableKeys(spec, original, 'portable'), tool.parameters, {
      strict: tool.strict,
    }),
  ).toEqual([]);
  expect(portableKeyViolations(tool.parameters)).toEqual([]);
  expect(tool.name).toBe(spec.slug);
  expect(tool.description).toBe(spec.description);
  const strictSchema = strictSchemaOf(spec);
  if (strict && tool.strict) {
    expect(strictSchema.strict).toBe(true);
    expect(tool.parameters).toEqual(withPortableKeys(spec, strictSchema.schema, 'portable'));
  } else {
    expect(tool.strict).toBe(false);
    expect(tool.parameters).toEqual(withPortableKeys(spec, spec.inputSchema, 'portable'));
    expect('~standard' in tool.parameters).toBe(false);
  }
}

describe.each([false, true])('hard zod schemas (hardSchemaCases), strict: %s', (strict) => {
  it('hands out each schema as core shaped it, strict where possible, and serializes through the SDK', async () => {
    const { toolkit, cases } = hardSchemaToolkit();
    const { tools, specs, warnings } = await wrapAll([toolkit], strict);
    expect(tools).toHaveLength(cases.length);
    const originals = hardSchemaToolkit().toolkit.tools;
    for (const entry of cases) {
      const tool = tools.find((candidate) => candidate.name === entry.slug)!;
      const spec = specs.find((candidate) => candidate.slug === entry.slug)!;
      const original = originals.find((candidate) => candidate.slug === entry.slug)!.inputSchema;
      expectHandedOut(tool, spec, strict, original);
      expect(tool.strict).toBe(strict && entry.strict);
    }
    if (strict) {
      expect(warnings).toHaveLength(1);
      for (const entry of cases.filter((each) => !each.strict)) {
        expect(warnings[0]).toMatch(new RegExp(`\n  ${entry.slug}: ${notStrictReasonPattern(entry)}`));
      }
    } else {
      expect(warnings).toEqual([]);
    }
    const sent = await responsesRequestTools(tools);
    expect(sent).toEqual(
      tools.map((tool) => ({
        type: 'function',
        name: tool.name,
        description: tool.description,
        parameters: tool.parameters,
        strict: tool.strict,
      })),
    );
  });

  it('runs every tool in the agent loop with what a model in this mode sends', async () => {
    const { toolkit, cases, received } = hardSchemaToolkit();
    const { tools } = await wrapAll([toolkit], strict);
    // a model fills in every field of a strict tool; a tool that fell back gets what it asks for
    const strictTool = (slug: string) => tools.find((tool) => tool.name === slug)!.strict;
    const model = new ScriptedModel([
      cases.map((entry, index) =>
        functionCall(entry.slug, hardSchemaCall(entry, strictTool(entry.slug)).args, {
          callId: `call_${index}`,
        }),
      ),
      [assistantMessage('ok')],
    ]);
    const result = await run(new Agent({ name: 'Hard', model, tools }), 'go');
    expect(result.finalOutput).toBe('ok');
    expect(Object.fromEntries(received)).toEqual(
      Object.fromEntries(
        cases.map((entry) => [entry.slug, [hardSchemaCall(entry, strictTool(entry.slug)).received]]),
      ),
    );
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
    'wraps the whole set with strict: %s, every tool without a schema violation',
    async (strict) => {
      const { tools, specs, warnings } = await wrapAll([github], strict);
      expect(tools.length).toBe(github.tools.length);
      expect(tools.length).toBeGreaterThanOrEqual(1_000);
      const originals = new Map(github.tools.map((tool) => [tool.slug, tool.inputSchema]));
      const violations: Record<string, string[]> = {};
      const coreFallbacks: string[] = [];
      const sdkRejected: string[] = [];
      tools.forEach((tool, index) => {
        const spec = specs[index]!;
        const found = findSchemaViolations(
          withPortableKeys(spec, originals.get(tool.name)!, 'portable'),
          tool.parameters,
          { strict: tool.strict },
        );
        if (found.length > 0) violations[tool.name] = found;
        const strictSchema = strictSchemaOf(spec);
        if (strict && !strictSchema.strict) coreFallbacks.push(tool.name);
        if (strict && strictSchema.strict && !tool.strict) sdkRejected.push(tool.name);
        expectHandedOut(tool, spec, strict, originals.get(tool.name)!);
      });
      expect(violations).toEqual({});
      const strictCount = tools.filter((tool) => tool.strict).length;
      if (strict) {
        console.log(
          `GitHub corpus through OpenAIAgentsProvider({ strict: true }): ${strictCount} strict, ${tools.length - strictCount} fall back alone (${coreFallbacks.length} that toolmux cannot make strict, ${sdkRejected.length} rejected by the SDK's own strict checks)`,
        );
        // The SDK's tool() re-checks every strict schema (prepareOpenAIStrictToolSchema) and accepts all of toolmux's.
        expect(sdkRejected).toEqual([]);
        expect(strictCount).toBeGreaterThan(tools.length * 0.9);
        expect(warnings).toHaveLength(1);
        for (const slug of coreFallbacks) expect(warnings[0]).toContain(`\n  ${slug}: `);
      } else {
        expect(strictCount).toBe(0);
        expect(warnings).toEqual([]);
      }
      const tooLong = tools.filter((tool) => tool.name.length > 64).length;
      if (tooLong > 0)
        console.log(`GitHub corpus: ${tooLong} tool names are longer than the 64 characters OpenAI accepts`);

      const sent = await responsesRequestTools(tools);
      expect(sent).toHaveLength(tools.length);
      sent.forEach((entry, index) => {
        expect(entry).toEqual({
          type: 'function',
          name: tools[index]!.name,
          description: tools[index]!.description,
          parameters: tools[index]!.parameters,
          strict: tools[index]!.strict,
        });
      });
    },
  );

  it('runs a GitHub tool in strict mode with nulls for every optional field', async () => {
    const { tools } = await wrapAll([github], true);
    const createIssue = tools.find((tool) => tool.name === 'GITHUB_ISSUES_CREATE')!;
    expect(createIssue.strict).toBe(true);
    const given: Record<string, unknown> = { owner: 'octocat', repo: 'hello-world', title: 'Found a bug' };
    const strictArgs = Object.fromEntries(
      Object.keys(createIssue.parameters.properties).map((key) => [key, given[key] ?? null]),
    );
    expect(Object.values(strictArgs).filter((value) => value === null).length).toBeGreaterThan(3);
    const model = new ScriptedModel([
      [functionCall('GITHUB_ISSUES_CREATE', strictArgs, { callId: 'call_issue' })],
      [assistantMessage('ok')],
    ]);
    await run(new Agent({ name: 'GitHub', model, tools: [createIssue] }), 'file a bug');
    const input = model.lastCall!.request.input as Array<{ type: string; callId?: string; output?: unknown }>;
    const output = input.find(
      (item) => item.type === 'function_call_result' && item.callId === 'call_issue',
    )!.output;
    const text = typeof output === 'string' ? output : (output as { text: string }).text;
    expect(JSON.parse(text) as OpenApiToolCall).toEqual({
      method: 'POST',
      path: '/repos/{owner}/{repo}/issues',
      // `assignee`, `milestone` and `type` accept null in GitHub's own schema (`nullable: true`): their
      // null stays a value; the nulls of the other optional fields mean "absent" and are gone.
      arguments: { ...given, assignee: null, milestone: null, type: null },
    });
  });
});
