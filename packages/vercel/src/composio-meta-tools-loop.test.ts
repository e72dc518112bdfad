import { defineTool, ToolMux } from '@toolmux/core';
import { createSampleToolkits } from '@toolmux/core/test';
import { startTestServer, type TestServer } from '@toolmux/server/test';
import { generateText, stepCountIs } from 'ai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { VercelProvider } from './index.js';
import { type CallOptions, type GenerateResult, mockModel } from './test-model.js';

const usage: GenerateResult['usage'] = {
  inputTokens: { total: 10, noCache: 10, cacheRead: undefined, cacheWrite: undefined },
  outputTokens: { total: 5, text: 5, reasoning: undefined },
};
const silent = { debug() {}, warn() {}, error() {} };

/** The JSON the model read as the result of its last tool call. */
function lastToolResult(options: CallOptions): any {
  const last = options.prompt.at(-1);
  if (last?.role !== 'tool') throw new Error('no tool result in the prompt');
  const part = last.content.find((item) => item.type === 'tool-result');
  if (part?.type !== 'tool-result' || part.output.type !== 'text') throw new Error('no text tool result');
  return JSON.parse(part.output.value);
}

const toolCall = (id: string, toolName: string, input: unknown): GenerateResult => ({
  content: [{ type: 'tool-call' as const, toolCallId: id, toolName, input: JSON.stringify(input) }],
  finishReason: { unified: 'tool-calls', raw: 'tool_calls' },
  usage,
  warnings: [],
});

/**
 * A model prompted the way Composio's Tool Router is: it searches with COMPOSIO_SEARCH_TOOLS
 * (Composio's `queries` / `session` / `model` fields), picks the tool and its argument names from the
 * search result (`primary_tool_slugs`, `tool_schemas`), runs it with COMPOSIO_MULTI_EXECUTE_TOOL
 * (`tools`, `thought`, `sync_response_to_workbench`, `current_step`), then answers from the result.
 */
function composioPromptedModel() {
  const prompts: CallOptions[] = [];
  const model = mockModel(async (options) => {
    prompts.push(options);
    if (prompts.length === 1) {
      return toolCall('call_search', 'COMPOSIO_SEARCH_TOOLS', {
        queries: [{ use_case: 'create a to-do item', known_fields: 'title: buy milk' }],
        session: { generate_id: true },
        model: 'mock-model',
      });
    }
    if (prompts.length === 2) {
      const found = lastToolResult(options);
      const slug: string = found.results[0].primary_tool_slugs[0];
      const field = Object.keys(found.tool_schemas[slug].input_schema.properties)[0]!;
      return toolCall('call_run', 'COMPOSIO_MULTI_EXECUTE_TOOL', {
        tools: [{ tool_slug: slug, arguments: { [field]: 'buy milk' } }],
        thought: 'Create the to-do item the user asked for.',
        sync_response_to_workbench: false,
        current_step: 'CREATING_TASK',
        session_id: found.session.id,
      });
    }
    const ran = lastToolResult(options);
    return {
      content: [{ type: 'text', text: `created ${ran.results[0].response.data.title}` }],
      finishReason: { unified: 'stop', raw: 'stop' },
      usage,
      warnings: [],
    };
  });
  return { model, prompts };
}

const served = createSampleToolkits();
let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ toolkits: served.toolkits });
});
afterAll(async () => {
  await server?.close();
});

describe.each(['embedded', 'remote'] as const)(
  "metaToolNames: 'composio' in the AI SDK agent loop (%s)",
  (mode) => {
    it('a model prompted for Composio searches and runs a tool with Composio-shaped calls', async () => {
      const sample = mode === 'embedded' ? createSampleToolkits() : served;
      served.calls.length = 0;
      const mux =
        mode === 'embedded'
          ? new ToolMux({
              provider: new VercelProvider(),
              toolkits: sample.toolkits,
              store: ':memory:',
              logger: silent,
            })
          : server.remote(new VercelProvider());
      try {
        const session = await mux.create('user_1', {
          toolkits: ['tasks', 'notes'],
          metaToolNames: 'composio',
        });
        expect(session.config.metaToolNames).toBe('composio');
        const tools = await session.tools();
        expect(Object.keys(tools)).toEqual([
          'COMPOSIO_SEARCH_TOOLS',
          'COMPOSIO_GET_TOOL_SCHEMAS',
          'COMPOSIO_MANAGE_CONNECTIONS',
          'COMPOSIO_MULTI_EXECUTE_TOOL',
          'COMPOSIO_REMOTE_WORKBENCH',
        ]);
        const script = composioPromptedModel();
        const result = await generateText({
          model: script.model,
          tools,
          stopWhen: stepCountIs(4),
          prompt: 'Add "buy milk" to my to-do list',
        });
        expect(result.text).toBe('created buy milk');
        // what the model was shown: Composio's tool names and fields
        const offered = script.prompts[0]!.tools!.map((tool) => tool.name);
        expect(offered).toContain('COMPOSIO_MULTI_EXECUTE_TOOL');
        const search = lastToolResult(script.prompts[1]!);
        expect(search.results[0].primary_tool_slugs[0]).toBe('TASKS_CREATE_TASK');
        expect(search.session.id).toBe(session.sessionId);
        const ran = lastToolResult(script.prompts[2]!);
        expect(ran).toMatchObject({ total_count: 1, success_count: 1, error_count: 0 });
        expect(sample.calls.map((call) => [call.slug, call.input])).toEqual([
          ['TASKS_CREATE_TASK', { title: 'buy milk' }],
        ]);
        const logs = (await session.logs()).items.map((log) => [log.toolSlug, log.callId]);
        expect(logs).toContainEqual(['COMPOSIO_SEARCH_TOOLS', 'call_search']);
        expect(logs).toContainEqual(['COMPOSIO_MULTI_EXECUTE_TOOL', 'call_run']);
        expect(logs).toContainEqual(['TASKS_CREATE_TASK', 'call_run#0']);
      } finally {
        await mux.close();
      }
    });
  },
);

describe("metaToolNames: 'composio' with a custom tool in remote mode", () => {
  it("COMPOSIO_MULTI_EXECUTE_TOOL runs the custom tool here and the others on the server, in Composio's shape", async () => {
    const ran: unknown[] = [];
    const lookup = defineTool({
      slug: 'CRM_LOOKUP',
      description: 'Look up a customer by email',
      inputSchema: z.object({ email: z.string() }),
      execute: async (input) => {
        ran.push(input);
        return { name: 'Ada' };
      },
    });
    const mux = server.remote(new VercelProvider());
    served.calls.length = 0;
    try {
      const session = await mux.create('user_1', {
        // the custom tool joins the toolkit `custom`: the filter lets it through, as embedded
        toolkits: ['tasks', 'custom'],
        metaToolNames: 'composio',
        experimental: { customTools: [lookup] },
      });
      const tools = await session.tools();
      const prompts: CallOptions[] = [];
      const model = mockModel(async (options) => {
        prompts.push(options);
        if (prompts.length === 1) {
          return toolCall('call_both', 'COMPOSIO_MULTI_EXECUTE_TOOL', {
            tools: [
              { tool_slug: 'CRM_LOOKUP', arguments: { email: 'ada@example.com' } },
              { tool_slug: 'TASKS_CREATE_TASK', arguments: { title: 'call Ada' } },
            ],
            sync_response_to_workbench: false,
          });
        }
        return {
          content: [{ type: 'text', text: 'ok' }],
          finishReason: { unified: 'stop', raw: 'stop' },
          usage,
          warnings: [],
        };
      });
      await generateText({ model, tools, stopWhen: stepCountIs(3), prompt: 'Look up Ada and make a task' });
      expect(lastToolResult(prompts[1]!)).toMatchObject({
        results: [
          { index: 1, tool_slug: 'CRM_LOOKUP', response: { successful: true, data: { name: 'Ada' } } },
          { index: 2, tool_slug: 'TASKS_CREATE_TASK', response: { successful: true } },
        ],
        total_count: 2,
        success_count: 2,
        error_count: 0,
      });
      expect(ran).toEqual([{ email: 'ada@example.com' }]);
      expect(served.calls.map((call) => call.slug)).toEqual(['TASKS_CREATE_TASK']);
    } finally {
      await mux.close();
    }
  });
});
