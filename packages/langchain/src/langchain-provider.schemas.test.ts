import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { AIMessage, HumanMessage, ToolMessage } from '@langchain/core/messages';
import { fakeModel } from '@langchain/core/testing';
import { type StructuredTool, tool } from '@langchain/core/tools';
import { convertToOpenAITool } from '@langchain/core/utils/function_calling';
import { FakeStreamingChatModel } from '@langchain/core/utils/testing';
import {
  type JSONSchema,
  type Provider,
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
import { createAgent } from 'langchain';
import { afterAll, describe, expect, test } from 'vitest';
import { LangChainProvider, type LangChainToolMetadata } from './index.js';

const open: ToolMux<Provider<unknown>>[] = [];
afterAll(async () => {
  await Promise.all(open.map((mux) => mux.close()));
});

/** The tool specs core hands a provider, captured as they are. */
class SpecCapture implements Provider<ToolSpec[]> {
  readonly name = 'capture';
  wrapTools(tools: readonly ToolSpec[]): ToolSpec[] {
    return [...tools];
  }
}

const metadataOf = (tool: StructuredTool) => tool.metadata!.toolmux as LangChainToolMetadata;

/** Every tool of `toolkit` wrapped by LangChainProvider, with the spec core made of it. */
async function wrapAll(toolkit: Toolkit, strict: boolean) {
  const warnings: string[] = [];
  const provider = new LangChainProvider({ strict, logger: { warn: (message) => warnings.push(message) } });
  const config = { toolkits: [toolkit.slug], sessionPreset: SessionPreset.DIRECT_TOOLS };
  const mux = new ToolMux({ provider, toolkits: [toolkit], store: ':memory:' });
  const capture = new ToolMux({ provider: new SpecCapture(), toolkits: [toolkit], store: ':memory:' });
  open.push(mux, capture);
  const session = await mux.create('user_1', config);
  const started = performance.now();
  const tools = await session.tools();
  const wrapMs = performance.now() - started;
  const specs = new Map(
    (await (await capture.create('user_1', config)).tools()).map((spec) => [spec.slug, spec]),
  );
  return { session, tools, specs, warnings, wrapMs };
}

/**
 * What a model would be shown for `tool` (OpenAI conversion, as `bindTools` does it), checked against
 * the tool's original schema and against the spec core handed out.
 */
function checkHandedOut(
  tool: StructuredTool,
  original: JSONSchema,
  spec: ToolSpec,
  strict: boolean,
): string[] {
  const metadata = metadataOf(tool);
  const parameters = convertToOpenAITool(tool).function.parameters as JSONSchema;
  // keys a major model API refuses are handed out renamed (propertyKeys: 'portable', the default)
  const expected = withPortableKeys(
    spec,
    strict ? strictSchemaOf(spec).schema : spec.inputSchema,
    'portable',
  );
  const problems = findSchemaViolations(withPortableKeys(spec, original, 'portable'), parameters, {
    strict: metadata.strict,
  });
  problems.push(
    ...portableKeyViolations(parameters).map((path) => `${path}: a key a major model API refuses`),
  );
  if (JSON.stringify(parameters) !== JSON.stringify(expected))
    problems.push('$: differs from the schema core handed out');
  if (metadata.strict !== (strict && strictSchemaOf(spec).strict))
    problems.push('$: wrong strict flag in metadata');
  return problems;
}

describe.each([false, true])('hard zod schemas (hardSchemaCases, strict: %s)', (strict) => {
  test('what the model is shown keeps every field, optionality and enum value', async () => {
    const { toolkit, cases } = hardSchemaToolkit();
    const { tools, specs, warnings } = await wrapAll(toolkit, strict);
    const violations = Object.fromEntries(
      tools.map((tool) => {
        const original = toolkit.tools.find((each) => each.slug === tool.name)!.inputSchema;
        return [tool.name, checkHandedOut(tool, original, specs.get(tool.name)!, strict)];
      }),
    );
    expect(violations).toEqual(Object.fromEntries(cases.map(({ slug }) => [slug, []])));
    // a record and a recursive schema cannot be strict: each falls back alone, with a warning that says why
    const strictNames = tools.filter((tool) => metadataOf(tool).strict);
    expect(strictNames.map((tool) => tool.name)).toEqual(
      strict ? cases.filter((entry) => entry.strict).map(({ slug }) => slug) : [],
    );
    expect(warnings).toEqual(
      strict
        ? cases
            .filter((entry) => !entry.strict)
            .map((entry) =>
              // the reason is core's: where in the schema, and what strict mode cannot express
              expect.stringMatching(
                new RegExp(
                  `^toolmux: ${entry.slug} cannot use strict mode \\(${notStrictReasonPattern(entry)}\\); it keeps its non-strict schema\\.$`,
                ),
              ),
            )
        : [],
    );
  });

  test('each tool runs in the agent loop with the arguments the model would send', async () => {
    const { toolkit, cases, received } = hardSchemaToolkit();
    const { tools, session } = await wrapAll(toolkit, strict);
    // in strict mode the model sends strict arguments to every tool, also to those that fell back
    const model = fakeModel()
      .respond(
        new AIMessage({
          content: '',
          tool_calls: cases.map((entry) => ({
            name: entry.slug,
            args: hardSchemaCall(entry, strict).args,
            id: `call_${entry.slug}`,
            type: 'tool_call' as const,
          })),
        }),
      )
      .respond(new AIMessage('Done.'));

    await createAgent({ model, tools }).invoke({ messages: [new HumanMessage('Run them all')] });

    const results = model.calls[1]!.messages.filter((message) => ToolMessage.isInstance(message));
    const expected = cases.map((entry) => [entry.slug, hardSchemaCall(entry, strict).received] as const);
    expect(Object.fromEntries(results.map((message) => [message.name, JSON.parse(message.text)]))).toEqual(
      Object.fromEntries(expected),
    );
    expect(Object.fromEntries(received)).toEqual(
      Object.fromEntries(expected.map(([slug, input]) => [slug, [input]])),
    );
    expect((await session.logs()).items.every((log) => log.status === 'success')).toBe(true);
  });
});

describe('the GitHub REST description (@octokit/openapi) as one tool per operation', {
  timeout: CORPUS_TEST_TIMEOUT_MS,
}, () => {
  const file = createRequire(import.meta.url).resolve('@octokit/openapi/generated/api.github.com.json');
  const { toolkit } = toolkitFromOpenApi(JSON.parse(readFileSync(file, 'utf8')), { slug: 'github' });
  const originals = new Map(toolkit.tools.map((tool) => [tool.slug, tool.inputSchema]));

  test.each([false, true])(
    'every tool wraps, and what the model is shown has no violation (strict: %s)',
    async (strict) => {
      const { tools, specs, warnings, wrapMs } = await wrapAll(toolkit, strict);
      expect(tools.length).toBeGreaterThanOrEqual(1_000);
      expect(tools).toHaveLength(toolkit.tools.length);

      const violations: Record<string, string[]> = {};
      for (const tool of tools) {
        const problems = checkHandedOut(tool, originals.get(tool.name)!, specs.get(tool.name)!, strict);
        if (problems.length > 0) violations[tool.name] = problems;
      }
      expect(violations).toEqual({});
      // an OpenAI-style bindTools converts the whole set
      const bound = new FakeStreamingChatModel({}).bindTools(tools) as unknown as {
        config: { tools: unknown[] };
      };
      expect(bound.config.tools).toHaveLength(tools.length);

      const strictCount = tools.filter((tool) => metadataOf(tool).strict).length;
      expect(warnings).toHaveLength(strict ? tools.length - strictCount : 0);
      console.log(
        `GitHub corpus, strict: ${strict}: ${tools.length} tools wrapped in ${wrapMs.toFixed(0)} ms; ` +
          `${strictCount} strict, ${tools.length - strictCount} non-strict${strict ? ' (fallbacks, one warning each)' : ''}`,
      );
    },
  );

  test.each([false, true])('a GitHub tool runs through the agent loop (strict: %s)', async (strict) => {
    const { tools, session } = await wrapAll(toolkit, strict);
    const args = { owner: 'octocat', repo: 'hello-world', title: 'Found a bug', labels: ['bug'] };
    const strictNulls = { body: null, assignee: null, milestone: null, assignees: null, type: null };
    const model = fakeModel()
      .respond(
        new AIMessage({
          content: '',
          tool_calls: [
            {
              name: 'GITHUB_ISSUES_CREATE',
              args: strict ? { ...args, ...strictNulls } : args,
              id: 'call_issue',
              type: 'tool_call',
            },
          ],
        }),
      )
      .respond(new AIMessage('Opened the issue.'));

    await createAgent({ model, tools }).invoke({ messages: [new HumanMessage('File a bug')] });

    const message = model.calls[1]!.messages.find((each) => ToolMessage.isInstance(each))!;
    const received = JSON.parse(message.text);
    expect(received).toMatchObject({ method: 'POST', path: '/repos/{owner}/{repo}/issues', arguments: args });
    // the handler got exactly what core's own path gives it for the same arguments (strict mode's null
    // means "absent" for an optional field like body, and stays null where GitHub's schema allows null)
    const direct = await session.execute('GITHUB_ISSUES_CREATE', strict ? { ...args, ...strictNulls } : args);
    expect(received).toEqual(direct.data);
    expect(received.arguments).not.toHaveProperty('body');
    expect((await session.logs()).items[1]).toMatchObject({ callId: 'call_issue', status: 'success' });
  });

  test("a value LangChain's format check refuses still reaches toolmux's validation, which does not check formats", async () => {
    const { tools } = await wrapAll(toolkit, false);
    const list = tools.find((each) => each.name === 'GITHUB_ISSUES_LIST_FOR_REPO')!;
    const args = { owner: 'octocat', repo: 'hello-world', since: '2024-05-01' }; // a date, not a date-time
    const plain = tool(async () => 'ran', {
      name: list.name,
      description: list.description,
      schema: list.schema,
    });
    await expect(plain.invoke(args)).rejects.toThrow('Received tool input did not match expected schema');

    const output = await list.invoke({ type: 'tool_call', id: 'call_list', name: list.name, args });

    expect(output).toBeInstanceOf(ToolMessage);
    expect((output as ToolMessage).status).toBe('success');
    expect(JSON.parse((output as ToolMessage).text)).toMatchObject({ method: 'GET', arguments: args });
  });
});
