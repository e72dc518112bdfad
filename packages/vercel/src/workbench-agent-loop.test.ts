import { MetaToolSlug, ToolMux } from '@toolmux/core';
import {
  createSampleToolkits,
  expectCellOutputs,
  stockLookupTool,
  workbenchCellCalls,
} from '@toolmux/core/test';
import { startTestServer, type TestServer } from '@toolmux/server/test';
import { generateText, stepCountIs } from 'ai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VercelProvider } from './index.js';
import { type CallOptions, type GenerateResult, mockModel } from './test-model.js';

const usage: GenerateResult['usage'] = {
  inputTokens: { total: 10, noCache: 10, cacheRead: undefined, cacheWrite: undefined },
  outputTokens: { total: 5, text: 5, reasoning: undefined },
};
const silent = { debug() {}, warn() {}, error() {} };

/** A model that writes workbench code: one cell per step, then answers with the last result. */
function codingModel(cells: string[]) {
  const prompts: CallOptions[] = [];
  const model = mockModel(async (options) => {
    prompts.push(options);
    const code = cells[prompts.length - 1];
    if (code === undefined) {
      return {
        content: [{ type: 'text', text: 'done' }],
        finishReason: { unified: 'stop', raw: 'stop' },
        usage,
        warnings: [],
      };
    }
    return {
      content: [
        {
          type: 'tool-call' as const,
          toolCallId: `cell_${prompts.length}`,
          toolName: MetaToolSlug.WORKBENCH,
          input: JSON.stringify({ code, thought: 'work through the tasks with code' }),
        },
      ],
      finishReason: { unified: 'tool-calls', raw: 'tool_calls' },
      usage,
      warnings: [],
    };
  });
  return { model, prompts };
}

/** The JSON the model read for the tool result of a step. */
function toolResult(options: CallOptions | undefined): {
  result: unknown;
  logs: string[];
  error?: { code: string };
} {
  const last = options?.prompt.at(-1);
  if (last?.role !== 'tool') throw new Error('no tool result in the prompt');
  const part = last.content.find((item) => item.type === 'tool-result');
  if (part?.type !== 'tool-result' || part.output.type !== 'text') throw new Error('no text tool result');
  return JSON.parse(part.output.value);
}

const served = createSampleToolkits();
let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ toolkits: served.toolkits });
});
afterAll(async () => {
  await server?.close();
});

describe.each(['embedded', 'remote'] as const)('TOOLMUX_WORKBENCH in the AI SDK agent loop (%s)', (mode) => {
  it('the model writes code that runs two tools and aggregates; its next turn reads the state it left', async () => {
    const sample = mode === 'embedded' ? createSampleToolkits() : served;
    served.calls.length = 0;
    served.tasks.clear();
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
      const session = await mux.create('user_1', { toolkits: ['tasks', 'notes'], workbench: {} });
      const tools = await session.tools();
      expect(Object.keys(tools)).toContain(MetaToolSlug.WORKBENCH);
      expect(tools[MetaToolSlug.WORKBENCH]!.description).toContain('await toolmux.execute(slug, args)');
      const script = codingModel([
        `const titles = ['write report', 'review report', 'ship it'];
         const made = await Promise.all(titles.map((title) => toolmux.execute('TASKS_CREATE_TASK', { title, priority: title.includes('report') ? 'high' : 'low' })));
         const listed = await toolmux.execute('TASKS_LIST_TASKS', {});
         globalThis.reportTasks = listed.data.tasks.filter((task) => task.title.includes('report')).map((task) => task.id);
         console.log('created', made.filter((r) => r.successful).length);
         return { total: listed.data.tasks.length, report: globalThis.reportTasks.length };`,
        'return { remembered: globalThis.reportTasks };',
      ]);
      const result = await generateText({
        model: script.model,
        tools,
        stopWhen: stepCountIs(4),
        prompt: 'Create my three tasks and tell me how many are about the report',
      });
      expect(result.text).toBe('done');
      expect(toolResult(script.prompts[1])).toEqual({ result: { total: 3, report: 2 }, logs: ['created 3'] });
      expect(toolResult(script.prompts[2])).toEqual({
        result: { remembered: ['task_1', 'task_2'] },
        logs: [],
      });
      expect(sample.calls.map((call) => call.slug).sort()).toEqual([
        'TASKS_CREATE_TASK',
        'TASKS_CREATE_TASK',
        'TASKS_CREATE_TASK',
        'TASKS_LIST_TASKS',
      ]);
      const logs = (await session.logs()).items;
      const cell = logs.find((log) => log.toolSlug === MetaToolSlug.WORKBENCH && log.callId === 'cell_1');
      expect(cell).toBeDefined();
      expect(logs.filter((log) => log.callId?.startsWith(`${cell!.id}/`))).toHaveLength(4);
    } finally {
      await mux.close();
    }
  });
});

describe.each(['embedded', 'remote'] as const)(
  'a TOOLMUX_WORKBENCH cell that failed, in the AI SDK agent loop (%s)',
  (mode) => {
    it('is an error-text output holding its answer; one that succeeded is text; a failing tool error-text as before', async () => {
      const mux =
        mode === 'embedded'
          ? new ToolMux({
              provider: new VercelProvider(),
              toolkits: createSampleToolkits().toolkits,
              store: ':memory:',
              logger: silent,
            })
          : server.remote(new VercelProvider());
      try {
        const session = await mux.create('user_1', {
          toolkits: ['tasks'],
          preload: { tools: ['TASKS_SYNC_CALENDAR'] },
        });
        const prompts: CallOptions[] = [];
        const model = mockModel(async (options) => {
          prompts.push(options);
          const calls = prompts.length === 1 ? workbenchCellCalls('input', 'call_failed') : [];
          return {
            content: calls.length
              ? calls.map(({ id, name, input }) => ({
                  type: 'tool-call' as const,
                  toolCallId: id,
                  toolName: name,
                  input: JSON.stringify(input),
                }))
              : [{ type: 'text' as const, text: 'done' }],
            finishReason: calls.length
              ? { unified: 'tool-calls', raw: 'tool_calls' }
              : { unified: 'stop', raw: 'stop' },
            usage,
            warnings: [],
          };
        });
        await generateText({
          model,
          tools: await session.tools(),
          stopWhen: stepCountIs(3),
          prompt: 'Work it out',
        });
        const last = prompts[1]?.prompt.at(-1);
        const outputs = Object.fromEntries(
          last?.role === 'tool'
            ? last.content.flatMap((part) =>
                part.type === 'tool-result' ? [[part.toolCallId, part.output]] : [],
              )
            : [],
        );
        expectCellOutputs(outputs, 'call_failed');
      } finally {
        await mux.close();
      }
    });
  },
);

describe('TOOLMUX_WORKBENCH in remote mode with a custom tool of the client', () => {
  it('refuses the custom tool from code with WORKBENCH_CLIENT_TOOL and a message saying how to call it', async () => {
    const { tool: lookup, ran } = stockLookupTool();
    const mux = server.remote(new VercelProvider());
    try {
      const session = await mux.create('user_1', {
        toolkits: ['tasks', 'shop'],
        workbench: {},
        experimental: { customTools: [lookup] },
      });
      const result = await session.execute(MetaToolSlug.WORKBENCH, {
        code: "try { await toolmux.execute('SHOP_LOOKUP_STOCK', { sku: 'B-200' }) } catch (e) { return { code: e.code, message: e.message } }",
      });
      const cell = result.data as { result: { code: string; message: string } };
      expect(cell.result.code).toBe('WORKBENCH_CLIENT_TOOL');
      expect(cell.result.message).toContain('TOOLMUX_MULTI_EXECUTE_TOOL');
      expect(ran).toHaveLength(0);
    } finally {
      await mux.close();
    }
  });
});
