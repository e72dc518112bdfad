import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { AIMessage, HumanMessage, ToolMessage } from '@langchain/core/messages';
import { fakeModel } from '@langchain/core/testing';
import { type StructuredTool, tool } from '@langchain/core/tools';
import { convertToOpenAITool } from '@langchain/core/utils/function_calling';
import { FakeStreamingChatModel } from '@langchain/core/utils/testing';
import {
  defineTool,
  defineToolkit,
  type JSONSchema,
  type Provider,
  SessionPreset,
  strictSchemaOf,
  type Toolkit,
  ToolMux,
  type ToolSpec,
} from '@toolmux/core';
import { findSchemaViolations, toolkitFromOpenApi } from '@toolmux/core/test';
import { createAgent } from 'langchain';
import { afterAll, describe, expect, test } from 'vitest';
import { z } from 'zod';
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
  const expected = strict ? strictSchemaOf(spec).schema : spec.inputSchema;
  const problems = findSchemaViolations(original, parameters, { strict: metadata.strict });
  if (JSON.stringify(parameters) !== JSON.stringify(expected))
    problems.push('$: differs from the schema core handed out');
  if (metadata.strict !== (strict && strictSchemaOf(spec).strict))
    problems.push('$: wrong strict flag in metadata');
  return problems;
}

interface TreeNode {
  name: string;
  children?: TreeNode[];
}
const treeNode: z.ZodType<TreeNode> = z.object({
  name: z.string().describe('Node name'),
  get children() {
    return z.array(treeNode).optional();
  },
});

/** Schemas that have broken tool wrappers before, each with valid arguments and what the handler gets. */
const hardTools = [
  {
    tool: defineTool({
      slug: 'HARD_OPTIONAL_NESTED',
      description: 'Optional fields, nested objects.',
      inputSchema: z.object({
        query: z.string(),
        filter: z
          .object({
            tag: z.string().optional(),
            range: z.object({ from: z.string(), to: z.string().optional() }).optional(),
          })
          .optional(),
      }),
      execute: async (input) => input,
    }),
    strictArgs: { query: 'q', filter: { tag: null, range: { from: '2024-01-01', to: null } } },
    looseArgs: { query: 'q', filter: { range: { from: '2024-01-01' } } },
    received: { query: 'q', filter: { range: { from: '2024-01-01' } } },
  },
  {
    tool: defineTool({
      slug: 'HARD_ARRAY_OF_OBJECTS',
      description: 'An array of objects with optional fields.',
      inputSchema: z.object({
        items: z.array(
          z.object({ sku: z.string(), quantity: z.number().int().min(1), note: z.string().optional() }),
        ),
      }),
      execute: async (input) => input,
    }),
    strictArgs: { items: [{ sku: 'A', quantity: 2, note: null }] },
    looseArgs: { items: [{ sku: 'A', quantity: 2 }] },
    received: { items: [{ sku: 'A', quantity: 2 }] },
  },
  {
    tool: defineTool({
      slug: 'HARD_ENUMS_AND_UNIONS',
      description: 'Enums, a discriminated union and a union of scalars.',
      inputSchema: z.object({
        state: z.enum(['open', 'closed', 'all']).optional(),
        target: z.discriminatedUnion('kind', [
          z.object({ kind: z.literal('user'), login: z.string() }),
          z.object({
            kind: z.literal('team'),
            slug: z.string(),
            role: z.enum(['member', 'maintainer']).optional(),
          }),
        ]),
        value: z.union([z.string(), z.number()]),
      }),
      execute: async (input) => input,
    }),
    strictArgs: { state: null, target: { kind: 'team', slug: 'core', role: null }, value: 3 },
    looseArgs: { target: { kind: 'team', slug: 'core' }, value: 3 },
    received: { target: { kind: 'team', slug: 'core' }, value: 3 },
  },
  {
    tool: defineTool({
      slug: 'HARD_RECURSIVE_TREE',
      description: 'A recursive schema ($defs and $ref).',
      inputSchema: z.object({ root: treeNode }),
      execute: async (input) => input,
    }),
    strictArgs: { root: { name: 'a', children: [{ name: 'b', children: null }] } },
    looseArgs: { root: { name: 'a', children: [{ name: 'b' }] } },
    received: { root: { name: 'a', children: [{ name: 'b' }] } },
  },
  {
    tool: defineTool({
      slug: 'HARD_RECORD',
      description: 'A record (free-form keys): cannot be strict.',
      inputSchema: z.object({ title: z.string(), labels: z.record(z.string(), z.string()) }),
      execute: async (input) => input,
    }),
    strictArgs: { title: 't', labels: { team: 'core' } },
    looseArgs: { title: 't', labels: { team: 'core' } },
    received: { title: 't', labels: { team: 'core' } },
  },
  {
    tool: defineTool({
      slug: 'HARD_DEFAULTS',
      description: 'Defaults the handler receives when the model leaves the field out.',
      inputSchema: z.object({
        limit: z.number().int().default(10),
        sort: z.enum(['asc', 'desc']).default('asc'),
        query: z.string().optional(),
      }),
      execute: async (input) => input,
    }),
    strictArgs: { limit: null, sort: null, query: 'x' },
    looseArgs: { query: 'x' },
    received: { limit: 10, sort: 'asc', query: 'x' },
  },
];
const hard = defineToolkit({
  slug: 'hard',
  name: 'Hard',
  description: 'Hard schemas.',
  tools: hardTools.map((each) => each.tool),
});

describe.each([false, true])('hard zod schemas (strict: %s)', (strict) => {
  test('what the model is shown keeps every field, optionality and enum value', async () => {
    const { tools, specs, warnings } = await wrapAll(hard, strict);
    const violations = Object.fromEntries(
      tools.map((tool) => {
        const original = hard.tools.find((each) => each.slug === tool.name)!.inputSchema;
        return [tool.name, checkHandedOut(tool, original, specs.get(tool.name)!, strict)];
      }),
    );
    expect(violations).toEqual(Object.fromEntries(hardTools.map(({ tool }) => [tool.slug, []])));
    // a record and a recursive schema cannot be strict: each falls back alone, with a warning that says why
    const fallbacks = ['HARD_RECURSIVE_TREE', 'HARD_RECORD'];
    const strictNames = tools.filter((tool) => metadataOf(tool).strict);
    expect(strictNames.map((tool) => tool.name)).toEqual(
      strict ? hardTools.map(({ tool }) => tool.slug).filter((slug) => !fallbacks.includes(slug)) : [],
    );
    expect(warnings).toEqual(
      strict
        ? [
            // the reason is core's: where in the schema, and what strict mode cannot express
            expect.stringMatching(
              /^toolmux: HARD_RECURSIVE_TREE cannot use strict mode \(\$\.root\.children.+\); it keeps its non-strict schema\.$/,
            ),
            expect.stringMatching(
              /^toolmux: HARD_RECORD cannot use strict mode \(\$\.labels: .+\); it keeps its non-strict schema\.$/,
            ),
          ]
        : [],
    );
  });

  test('each tool runs in the agent loop with the arguments the model would send', async () => {
    const { tools, session } = await wrapAll(hard, strict);
    const model = fakeModel()
      .respond(
        new AIMessage({
          content: '',
          tool_calls: hardTools.map(({ tool, strictArgs, looseArgs }) => ({
            name: tool.slug,
            args: strict ? strictArgs : looseArgs,
            id: `call_${tool.slug}`,
            type: 'tool_call' as const,
          })),
        }),
      )
      .respond(new AIMessage('Done.'));

    await createAgent({ model, tools }).invoke({ messages: [new HumanMessage('Run them all')] });

    const results = model.calls[1]!.messages.filter((message) => ToolMessage.isInstance(message));
    expect(Object.fromEntries(results.map((message) => [message.name, JSON.parse(message.text)]))).toEqual(
      Object.fromEntries(hardTools.map(({ tool, received }) => [tool.slug, received])),
    );
    expect((await session.logs()).items.every((log) => log.status === 'success')).toBe(true);
  });
});

describe('the GitHub REST description (@octokit/openapi) as one tool per operation', () => {
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
