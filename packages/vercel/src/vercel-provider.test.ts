import { defineTool, defineToolkit, SessionPreset, ToolMux, type ToolResult } from '@toolmux/core';
import {
  AWKWARD_KEY_ARGUMENTS,
  argumentsAsShown,
  awkwardKeysTool,
  HOSTILE_THROWS,
  hostileThrowsToolkit,
  portableKeyViolations,
  stockLookupTool,
  untilTestTimeout,
} from '@toolmux/core/test';
import { type SampleSessionOptions, sampleModes, TOOLMUX_MODES } from '@toolmux/server/test';
import * as ai from 'ai';
import { generateText, stepCountIs, type ToolSet } from 'ai';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { VercelProvider } from './index.js';
import { type CallOptions, type GenerateResult, mockModel, strictFieldSent } from './test-model.js';

/** A tool call the scripted model makes; `rawInput` sends text that is not JSON-encoded `input`. */
type ToolCall = { toolName: string; input?: unknown; rawInput?: string; toolCallId?: string };

const usage: GenerateResult['usage'] = {
  inputTokens: { total: 10, noCache: 10, cacheRead: undefined, cacheWrite: undefined },
  outputTokens: { total: 5, text: 5, reasoning: undefined },
};

/**
 * A model that plays a script: each step sees the prompt (and the tools) the AI SDK sent and answers
 * with tool calls; after the script it answers "done". Every call's options are kept in `calls`.
 */
function scriptedModel(steps: Array<(options: CallOptions) => ToolCall[]>) {
  const calls: CallOptions[] = [];
  const model = mockModel(async (options) => {
    calls.push(options);
    const step = steps[calls.length - 1];
    if (!step) {
      return {
        content: [{ type: 'text', text: 'done' }],
        finishReason: { unified: 'stop', raw: 'stop' },
        usage,
        warnings: [],
      };
    }
    const content = step(options).map((call, index) => ({
      type: 'tool-call' as const,
      toolCallId: call.toolCallId ?? `call_${calls.length}_${index}`,
      toolName: call.toolName,
      input: call.rawInput ?? JSON.stringify(call.input),
    }));
    return { content, finishReason: { unified: 'tool-calls', raw: 'tool_calls' }, usage, warnings: [] };
  });
  return { model, calls };
}

/** The text the model received for each tool result in the last message of a prompt. */
function toolResultTexts(options: CallOptions | undefined): string[] {
  const last = options?.prompt.at(-1);
  if (last?.role !== 'tool') return [];
  return last.content.flatMap((part) =>
    part.type === 'tool-result' && (part.output.type === 'text' || part.output.type === 'error-text')
      ? [part.output.value]
      : [],
  );
}

function lastToolOutputs(options: CallOptions | undefined) {
  const last = options?.prompt.at(-1);
  return last?.role === 'tool'
    ? last.content.flatMap((part) => (part.type === 'tool-result' ? [part.output] : []))
    : [];
}

const silent = { debug() {}, warn() {}, error() {} };

/**
 * The agent-loop tests run twice: on an embedded ToolMux, and on a remote-mode ToolMux talking to a
 * live toolmux server in this process, so the handlers of its sample toolkits still record their
 * calls in `calls`.
 */
const samples = sampleModes({ toolkits: ['tasks', 'notes'] }, { beforeAll, afterEach, afterAll });
const modes = TOOLMUX_MODES;

/** A session over the sample toolkits (tasks and notes enabled) and its tools as a ToolSet. */
const setUp = ({ strict = false, ...options }: SampleSessionOptions & { strict?: boolean } = {}) =>
  samples.session(new VercelProvider({ strict }), options);

const presets = [SessionPreset.META_TOOLS, SessionPreset.DIRECT_TOOLS] as const;
/** Whether the installed `ai` has per-tool time limits (`timeout: { toolMs, tools }`, ai 7). */
const HAS_TOOL_TIMEOUT = 'getToolTimeoutMs' in ai;
/** Tools called directly in the preset-independent tests (preloaded under META_TOOLS). */
const directTools = ['TASKS_CREATE_TASK', 'TASKS_SYNC_CALENDAR', 'TASKS_WAIT_FOR_APPROVAL'];

describe.each(modes)('VercelProvider in the AI SDK agent loop (%s)', (mode) => {
  it('META_TOOLS: the model searches, then runs the tool it found through TOOLMUX_MULTI_EXECUTE_TOOL', async () => {
    const { tools, session, calls } = await setUp({ mode });
    expect(Object.keys(tools).sort()).toEqual([
      'TOOLMUX_GET_TOOL_SCHEMAS',
      'TOOLMUX_MANAGE_CONNECTIONS',
      'TOOLMUX_MULTI_EXECUTE_TOOL',
      'TOOLMUX_SEARCH_TOOLS',
      'TOOLMUX_WORKBENCH',
    ]);
    let foundSlug: string | undefined;
    const script = scriptedModel([
      () => [
        { toolName: 'TOOLMUX_SEARCH_TOOLS', input: { queries: [{ use_case: 'create a new to-do task' }] } },
      ],
      (options) => {
        const search = JSON.parse(toolResultTexts(options)[0]!) as {
          results: Array<{ tools: Array<{ tool_slug: string }> }>;
        };
        foundSlug = search.results[0]!.tools[0]!.tool_slug;
        return [
          {
            toolName: 'TOOLMUX_MULTI_EXECUTE_TOOL',
            toolCallId: 'call_multi',
            input: { tools: [{ tool_slug: foundSlug, arguments: { title: 'Buy milk', priority: 'high' } }] },
          },
        ];
      },
    ]);

    const result = await generateText({
      model: script.model,
      tools,
      stopWhen: stepCountIs(5),
      prompt: 'Remind me to buy milk',
    });

    expect(result.text).toBe('done');
    expect(foundSlug).toBe('TASKS_CREATE_TASK');
    expect(calls).toEqual([
      expect.objectContaining({ slug: 'TASKS_CREATE_TASK', input: { title: 'Buy milk', priority: 'high' } }),
    ]);
    expect(calls[0]!.context.callId).toBe('call_multi#0');
    // the handler's result is what the model reads next
    const multi = JSON.parse(toolResultTexts(script.calls[2])[0]!);
    expect(multi).toMatchObject({
      successful_count: 1,
      results: [
        { tool_slug: 'TASKS_CREATE_TASK', successful: true, data: { id: 'task_1', title: 'Buy milk' } },
      ],
    });
    // the application still gets the whole ToolResult (with its log id) from the steps
    expect(result.steps[1]!.toolResults[0]!.output).toMatchObject({
      successful: true,
      logId: expect.stringMatching(/^log_/),
    });
    const logs = new Map((await session.logs()).items.map((log) => [log.toolSlug, log]));
    expect([...logs.keys()].sort()).toEqual([
      'TASKS_CREATE_TASK',
      'TOOLMUX_MULTI_EXECUTE_TOOL',
      'TOOLMUX_SEARCH_TOOLS',
    ]);
    expect(logs.get('TASKS_CREATE_TASK')).toMatchObject({
      status: 'success',
      callId: 'call_multi#0',
      userId: 'user_1',
    });
    expect(logs.get('TOOLMUX_MULTI_EXECUTE_TOOL')).toMatchObject({ status: 'success', callId: 'call_multi' });
    // the log id the application got is the session log's entry (in remote mode: the server's)
    expect(logs.get('TOOLMUX_MULTI_EXECUTE_TOOL')!.id).toBe(
      (result.steps[1]!.toolResults[0]!.output as ToolResult).logId,
    );
  });

  it('META_TOOLS: a preloaded tool is exposed beside the meta-tools and called directly', async () => {
    const { tools, calls, session } = await setUp({ mode, preload: ['TASKS_CREATE_TASK'] });
    expect(Object.keys(tools)).toContain('TASKS_CREATE_TASK');
    expect(Object.keys(tools)).not.toContain('TASKS_LIST_TASKS');
    const script = scriptedModel([
      () => [{ toolName: 'TASKS_CREATE_TASK', toolCallId: 'call_direct', input: { title: 'Call mom' } }],
    ]);

    await generateText({
      model: script.model,
      tools,
      stopWhen: stepCountIs(3),
      prompt: 'Remind me to call mom',
    });

    expect(calls).toEqual([
      expect.objectContaining({ slug: 'TASKS_CREATE_TASK', input: { title: 'Call mom' } }),
    ]);
    expect(toolResultTexts(script.calls[1])).toEqual(['{"id":"task_1","title":"Call mom"}']);
    expect((await session.logs()).items).toEqual([
      expect.objectContaining({ toolSlug: 'TASKS_CREATE_TASK', callId: 'call_direct' }),
    ]);
  });

  it('DIRECT_TOOLS: every enabled tool is exposed, no meta-tool, and the model calls them directly', async () => {
    const { tools, calls, session } = await setUp({ mode, preset: SessionPreset.DIRECT_TOOLS });
    expect(Object.keys(tools).sort()).toEqual([
      'NOTES_CREATE_NOTE',
      'NOTES_SEARCH_NOTES',
      'TASKS_CREATE_TASK',
      'TASKS_DELETE_TASK',
      'TASKS_EXPORT_ARCHIVE',
      'TASKS_LIST_TASKS',
      'TASKS_SYNC_CALENDAR',
      'TASKS_WAIT_FOR_APPROVAL',
    ]);
    const script = scriptedModel([
      () => [{ toolName: 'TASKS_CREATE_TASK', input: { title: 'Water plants', labels: ['home'] } }],
      () => [{ toolName: 'TASKS_LIST_TASKS', input: { openOnly: true } }],
    ]);

    await generateText({
      model: script.model,
      tools,
      stopWhen: stepCountIs(5),
      prompt: 'Add a task, then list them',
    });

    expect(calls.map((call) => [call.slug, call.input])).toEqual([
      ['TASKS_CREATE_TASK', { title: 'Water plants', labels: ['home'] }],
      ['TASKS_LIST_TASKS', { openOnly: true }],
    ]);
    expect(JSON.parse(toolResultTexts(script.calls[2])[0]!)).toEqual({
      tasks: [{ id: 'task_1', title: 'Water plants', done: false }],
    });
    expect((await session.logs()).items.map((log) => log.toolSlug).sort()).toEqual([
      'TASKS_CREATE_TASK',
      'TASKS_LIST_TASKS',
    ]);
  });

  it("runs a call whose id (the model API's) the log cannot keep as it is, logged under a storable form of it", async () => {
    const { tools, calls, session } = await setUp({ mode, preset: SessionPreset.DIRECT_TOOLS });
    const long = `call_${'x'.repeat(300)}`;
    const script = scriptedModel([
      () => [
        { toolName: 'TASKS_CREATE_TASK', toolCallId: long, input: { title: 'A' } },
        { toolName: 'TASKS_CREATE_TASK', toolCallId: 'call\u001b[2', input: { title: 'B' } },
      ],
    ]);
    await generateText({ model: script.model, tools, stopWhen: stepCountIs(3), prompt: 'Add two tasks' });
    expect(lastToolOutputs(script.calls[1]).map((output) => output.type)).toEqual(['text', 'text']);
    expect(calls.map((call) => [call.input, call.context.callId])).toEqual([
      [{ title: 'A' }, long.slice(0, 256)],
      [{ title: 'B' }, 'call\ufffd[2'],
    ]);
    expect((await session.logs()).items.map((log) => log.callId).sort()).toEqual(
      [long.slice(0, 256), 'call\ufffd[2'].sort(),
    );
  });

  describe.each(presets)('%s', (preset) => {
    it('invalid arguments and a throwing tool reach the model as readable errors, and the loop goes on', async () => {
      const { tools, calls } = await setUp({ mode, preset, preload: directTools });
      const script = scriptedModel([
        () => [{ toolName: 'TASKS_CREATE_TASK', input: { title: '', priority: 'urgent' } }],
        () => [{ toolName: 'TASKS_SYNC_CALENDAR', input: { calendarId: 'work' } }],
        () => [{ toolName: 'TASKS_CREATE_TASK', input: { title: 'Fixed title' } }],
      ]);

      const result = await generateText({
        model: script.model,
        tools,
        stopWhen: stepCountIs(6),
        prompt: 'Add a task',
      });

      const [invalid] = lastToolOutputs(script.calls[1]);
      expect(invalid).toEqual({
        type: 'error-text',
        value: expect.stringContaining('Invalid arguments for TASKS_CREATE_TASK: title'),
      });
      expect(invalid?.type === 'error-text' && invalid.value).toMatch(
        /^Error \(TOOL_ARGUMENTS_INVALID\): .*priority/,
      );
      const [thrown] = lastToolOutputs(script.calls[2]);
      expect(thrown).toEqual({
        type: 'error-text',
        value: 'Error (TOOL_EXECUTION_FAILED): TASKS_SYNC_CALENDAR failed: calendar work is unreachable',
      });
      // the model read the errors, corrected itself, and the loop finished normally
      expect(script.calls).toHaveLength(4);
      expect(result.text).toBe('done');
      expect(calls.map((call) => call.slug)).toEqual(['TASKS_SYNC_CALENDAR', 'TASKS_CREATE_TASK']);
      expect(result.steps[0]!.toolResults[0]!.output).toMatchObject({
        successful: false,
        code: 'TOOL_ARGUMENTS_INVALID',
      });
    });

    it('an abort from the framework stops the running tool and the log says TOOL_ABORTED', async () => {
      const { tools, calls, session } = await setUp({ mode, preset, preload: directTools });
      const script = scriptedModel([
        () => [{ toolName: 'TASKS_WAIT_FOR_APPROVAL', toolCallId: 'call_wait', input: { taskId: 'task_9' } }],
      ]);
      const controller = new AbortController();
      const answered: ToolResult[] = [];
      // what each tool answered the framework (observed around `execute`, which every ai major calls)
      const observed: ToolSet = Object.fromEntries(
        Object.entries(tools).map(([name, tool]) => [
          name,
          {
            ...tool,
            execute: async (input: unknown, options: Parameters<NonNullable<typeof tool.execute>>[1]) => {
              const output = await tool.execute!(input, options);
              answered.push(output as ToolResult);
              return output;
            },
          },
        ]),
      );
      const running = generateText({
        model: script.model,
        tools: observed,
        stopWhen: stepCountIs(3),
        prompt: 'Wait for approval',
        abortSignal: controller.signal,
      });
      const outcome = running.then(
        () => 'finished',
        (error: unknown) => error,
      );
      await vi.waitFor(
        () => expect(calls.map((call) => call.slug)).toEqual(['TASKS_WAIT_FOR_APPROVAL']),
        untilTestTimeout(),
      );
      controller.abort();

      expect(await outcome).toMatchObject({ name: 'AbortError' });
      // the tool did not throw: it answered the framework with a TOOL_ABORTED result
      expect(answered).toEqual([
        expect.objectContaining({ successful: false, data: null, code: 'TOOL_ABORTED' }),
      ]);
      if (mode === 'embedded') {
        // the session logged the call before it answered
        const logs = (await session.logs()).items;
        expect(logs).toHaveLength(1);
        expect(answered[0]!.logId).toBe(logs[0]!.id);
      } else {
        // the client gave up on the request: it knows no log entry, and the server logs the call once it
        // has seen the client go away and aborted the handler
        expect(answered[0]!.logId).toBe('');
        await expect
          .poll(async () => (await session.logs()).items.map((entry) => entry.errorCode), untilTestTimeout())
          .toEqual(['TOOL_ABORTED']);
      }
      const log = await vi.waitFor(async () => {
        const [entry] = (await session.logs()).items;
        expect(entry).toBeDefined();
        return entry!;
      }, untilTestTimeout());
      expect(log).toMatchObject({
        toolSlug: 'TASKS_WAIT_FOR_APPROVAL',
        callId: 'call_wait',
        status: 'error',
        errorCode: 'TOOL_ABORTED',
      });
      expect(log.id).toMatch(/^log_/);
      expect(script.calls).toHaveLength(1);
    });

    // ai 7's per-tool time limit (`timeout: { toolMs }`); ai 5 and 6 (the version matrix) have none
    it.runIf(HAS_TOOL_TIMEOUT)(
      "a tool stopped by the AI SDK's tool time limit reads as that limit, not as an abort; the call beside it runs",
      async () => {
        const { tools, calls, session } = await setUp({ mode, preset, preload: directTools });
        const script = scriptedModel([
          () => [
            { toolName: 'TASKS_WAIT_FOR_APPROVAL', toolCallId: 'call_wait', input: { taskId: 'task_9' } },
            { toolName: 'TASKS_CREATE_TASK', toolCallId: 'call_create', input: { title: 'Buy milk' } },
          ],
        ]);

        const result = await generateText({
          model: script.model,
          tools,
          stopWhen: stepCountIs(3),
          prompt: 'Wait for approval and add a task',
          // the limit of the waiting tool only: the task is created whatever the machine's speed
          timeout: { tools: { TASKS_WAIT_FOR_APPROVALMs: 20 } },
        });

        // the loop went on: the model read both results in its next step
        expect(result.text).toBe('done');
        const limit =
          "TASKS_WAIT_FOR_APPROVAL was stopped by its caller's time limit (TimeoutError: The operation was aborted due to timeout); the caller stopped waiting for it, toolmux's own timeout for the tool had not passed.";
        expect(lastToolOutputs(script.calls[1])).toEqual([
          { type: 'error-text', value: `Error (TOOL_ABORTED): ${limit}` },
          { type: 'text', value: expect.stringContaining('Buy milk') },
        ]);
        expect(calls.map((call) => call.slug).sort()).toEqual([
          'TASKS_CREATE_TASK',
          'TASKS_WAIT_FOR_APPROVAL',
        ]);
        if (mode === 'embedded') {
          const entry = (await session.logs()).items.find((log) => log.callId === 'call_wait');
          expect(entry).toMatchObject({ status: 'error', errorCode: 'TOOL_ABORTED', errorMessage: limit });
        } else {
          // the server sees only the client go away, and logs an abort
          await expect
            .poll(
              async () => (await session.logs()).items.find((log) => log.callId === 'call_wait')?.errorCode,
              untilTestTimeout(),
            )
            .toBe('TOOL_ABORTED');
        }
      },
    );
  });
});

describe('VercelProvider in the AI SDK agent loop, remote mode with a custom tool', () => {
  it('the server searches the custom tool; one TOOLMUX_MULTI_EXECUTE_TOOL runs it here and a sample tool on the server', async () => {
    // the custom tool's code is here, in the client: only its declaration goes to the server
    const { tool: lookup, ran } = stockLookupTool();
    const { tools, session, calls } = await setUp({
      mode: 'remote',
      toolkits: ['tasks', 'shop'],
      customTools: [lookup],
    });
    expect(session.config.customTools).toEqual(['SHOP_LOOKUP_STOCK']);
    expect(Object.keys(tools).sort()).toEqual([
      'TOOLMUX_GET_TOOL_SCHEMAS',
      'TOOLMUX_MANAGE_CONNECTIONS',
      'TOOLMUX_MULTI_EXECUTE_TOOL',
      'TOOLMUX_SEARCH_TOOLS',
      'TOOLMUX_WORKBENCH',
    ]);
    let found: Array<{ tool_slug: string; input_schema?: unknown }> = [];
    const script = scriptedModel([
      () => [
        {
          toolName: 'TOOLMUX_SEARCH_TOOLS',
          toolCallId: 'call_search',
          input: {
            queries: [
              { use_case: 'how many items of a product are in stock' },
              { use_case: 'create a new to-do task' },
            ],
          },
        },
      ],
      (options) => {
        const search = JSON.parse(toolResultTexts(options)[0]!) as {
          results: Array<{ tools: Array<{ tool_slug: string; input_schema?: unknown }> }>;
        };
        found = search.results.map((result) => result.tools[0]!);
        return [
          {
            toolName: 'TOOLMUX_MULTI_EXECUTE_TOOL',
            toolCallId: 'call_multi',
            input: {
              tools: [
                { tool_slug: found[0]!.tool_slug, arguments: { sku: 'B-200' } },
                { tool_slug: found[1]!.tool_slug, arguments: { title: 'Restock B-200' } },
              ],
            },
          },
        ];
      },
    ]);

    const result = await generateText({
      model: script.model,
      tools,
      stopWhen: stepCountIs(5),
      prompt: 'How many B-200 are left? Add a task to restock them.',
    });

    expect(result.text).toBe('done');
    // the server found the custom tool by its declaration, schema included
    expect(found.map((tool) => tool.tool_slug)).toEqual(['SHOP_LOOKUP_STOCK', 'TASKS_CREATE_TASK']);
    expect(found[0]!.input_schema).toMatchObject({
      type: 'object',
      required: ['sku'],
      properties: { sku: { type: 'string' } },
    });
    // the custom handler ran here, the sample tool on the server (its handler records into `calls`)
    expect(ran).toEqual([{ sku: 'B-200', sessionId: session.sessionId, callId: 'call_multi#0' }]);
    expect(calls).toEqual([
      expect.objectContaining({
        slug: 'TASKS_CREATE_TASK',
        input: { title: 'Restock B-200' },
        context: expect.objectContaining({ sessionId: session.sessionId, callId: 'call_multi#1' }),
      }),
    ]);
    // the model reads both results, in the order it asked for them
    expect(JSON.parse(toolResultTexts(script.calls[2])[0]!)).toMatchObject({
      successful_count: 2,
      failed_count: 0,
      results: [
        { tool_slug: 'SHOP_LOOKUP_STOCK', successful: true, data: { sku: 'B-200', inStock: 7 } },
        { tool_slug: 'TASKS_CREATE_TASK', successful: true, data: { id: 'task_1', title: 'Restock B-200' } },
      ],
    });
    const multi = result.steps[1]!.toolResults[0]!.output as ToolResult;
    expect(multi).toMatchObject({ successful: true, logId: expect.stringMatching(/^log_/) });
    // the session's log on the server lists every call: those that ran here and those that ran there
    const logs = (await session.logs()).items;
    expect(logs.map((log) => `${log.toolSlug} ${log.status} ${log.callId}`).sort()).toEqual([
      'SHOP_LOOKUP_STOCK success call_multi#0',
      'TASKS_CREATE_TASK success call_multi#1',
      'TOOLMUX_MULTI_EXECUTE_TOOL success call_multi',
      'TOOLMUX_SEARCH_TOOLS success call_search',
    ]);
    expect(logs.find((log) => log.toolSlug === 'TOOLMUX_MULTI_EXECUTE_TOOL')!.id).toBe(multi.logId);
    expect(logs.find((log) => log.toolSlug === 'SHOP_LOOKUP_STOCK')).toMatchObject({
      sessionId: session.sessionId,
      userId: 'user_1',
      toolkit: 'shop',
    });
  });
});

describe('VercelProvider edge cases', () => {
  it.each(modes)(
    'arguments that are not JSON are answered by the AI SDK itself, and the loop goes on (%s)',
    async (mode) => {
      const { tools, calls, session } = await setUp({ mode, preset: SessionPreset.DIRECT_TOOLS });
      const script = scriptedModel([() => [{ toolName: 'TASKS_CREATE_TASK', rawInput: '{"title": "Buy' }]]);

      const result = await generateText({
        model: script.model,
        tools,
        stopWhen: stepCountIs(3),
        prompt: 'Add a task',
      });

      const [output] = lastToolOutputs(script.calls[1]);
      expect(output).toMatchObject({
        type: 'error-text',
        value: expect.stringContaining('TASKS_CREATE_TASK'),
      });
      expect(result.text).toBe('done');
      expect(calls).toEqual([]);
      expect((await session.logs()).items).toEqual([]);
    },
  );

  it('toModelOutput reads both the ai 5 call, toModelOutput(output), and the ai 6+ call, toModelOutput({ output })', async () => {
    const { tools } = await setUp({ preset: SessionPreset.DIRECT_TOOLS });
    const toModelOutput = tools.TASKS_CREATE_TASK!.toModelOutput! as (options: unknown) => unknown;
    const failed = {
      successful: false,
      data: null,
      error: 'no such task',
      code: 'TOOL_EXECUTION_FAILED',
      logId: 'log_1',
    };
    const succeeded = { successful: true, data: { id: 'task_1' }, error: null, logId: 'log_2' };
    const expectedFailure = { type: 'error-text', value: 'Error (TOOL_EXECUTION_FAILED): no such task' };
    expect(toModelOutput(failed)).toEqual(expectedFailure);
    expect(toModelOutput({ toolCallId: 'call_1', input: {}, output: failed })).toEqual(expectedFailure);
    expect(toModelOutput(succeeded)).toEqual({ type: 'text', value: '{"id":"task_1"}' });
    expect(toModelOutput({ toolCallId: 'call_2', input: {}, output: succeeded })).toEqual({
      type: 'text',
      value: '{"id":"task_1"}',
    });
  });
});

describe('VercelProvider({ strict: true })', () => {
  describe.each(modes)('in the agent loop (%s)', (mode) => {
    it('hands the model strict-shaped schemas with strict: true, and accepts null for an optional field', async () => {
      const { tools, calls } = await setUp({
        mode,
        strict: true,
        preload: ['TASKS_CREATE_TASK', 'NOTES_SEARCH_NOTES'],
      });
      const script = scriptedModel([
        () => [
          { toolName: 'TASKS_CREATE_TASK', input: { title: 'Strict task', priority: null, labels: null } },
        ],
        () => [
          {
            toolName: 'TOOLMUX_MULTI_EXECUTE_TOOL',
            input: {
              tools: [
                { tool_slug: 'NOTES_SEARCH_NOTES', arguments: '{"query":"milk","filter":null,"limit":null}' },
              ],
            },
          },
        ],
      ]);

      await generateText({ model: script.model, tools, stopWhen: stepCountIs(4), prompt: 'Add a task' });

      const sent = new Map(script.calls[0]!.tools!.map((tool) => [tool.name, tool]));
      expect(sent.size).toBe(7);
      for (const tool of sent.values()) {
        expect(tool).toMatchObject({
          type: 'function',
          ...strictFieldSent(true),
          inputSchema: { type: 'object', additionalProperties: false },
        });
      }
      const createTask = sent.get('TASKS_CREATE_TASK');
      expect(createTask?.type === 'function' && createTask.inputSchema).toMatchObject({
        required: ['title', 'priority', 'labels'],
        properties: {
          title: { type: 'string' },
          priority: { enum: expect.arrayContaining(['low', 'normal', 'high', null]) },
          labels: { anyOf: [{ type: 'array' }, { type: 'null' }] },
        },
      });
      const searchNotes = sent.get('NOTES_SEARCH_NOTES');
      expect(searchNotes?.type === 'function' && searchNotes.inputSchema).toMatchObject({
        required: ['query', 'filter', 'limit'],
        properties: {
          filter: {
            anyOf: [
              { type: 'object', additionalProperties: false, required: ['tag', 'createdAfter'] },
              { type: 'null' },
            ],
          },
        },
      });

      // null meant "absent": the handler got no priority or labels, and the default limit applied
      expect(calls.map((call) => [call.slug, call.input])).toEqual([
        ['TASKS_CREATE_TASK', { title: 'Strict task' }],
        ['NOTES_SEARCH_NOTES', { query: 'milk', limit: 10 }],
      ]);
      expect(toolResultTexts(script.calls[1])).toEqual(['{"id":"task_1","title":"Strict task"}']);
    });

    it('a tool that cannot be strict is handed out non-strict with one warning', async () => {
      const lookup = defineTool({
        slug: 'META_TAG_LOOKUP',
        description: 'Look up values by free-form tags.',
        inputSchema: z.object({ tags: z.record(z.string(), z.string()).describe('Any tags') }),
        execute: async (input) => ({ count: Object.keys(input.tags).length }),
      });
      const warn = vi.fn();
      const provider = new VercelProvider({ strict: true, logger: { warn } });
      const meta = defineToolkit({ slug: 'meta', name: 'Meta', description: 'Tags', tools: [lookup] });
      // embedded, the toolkit joins the catalog; remote, it is a custom toolkit of each session (the
      // server lists its declaration, and its handler runs here)
      const mux =
        mode === 'embedded'
          ? new ToolMux({ provider, toolkits: [meta], store: ':memory:', logger: silent })
          : samples.remote(provider);
      samples.track(mux);
      const custom = mode === 'remote' ? { experimental: { customToolkits: [meta] } } : {};
      const first = await mux.create('user_1', {
        toolkits: ['meta'],
        preload: { tools: ['META_TAG_LOOKUP'] },
        ...custom,
      });
      const second = await mux.create('user_2', {
        toolkits: ['meta'],
        sessionPreset: SessionPreset.DIRECT_TOOLS,
        ...custom,
      });
      const tools = await first.tools();
      await second.tools();

      expect(warn).toHaveBeenCalledTimes(1);
      expect(warn.mock.calls[0]![0]).toMatch(
        /^toolmux: 1 tool cannot be handed out in strict mode and stay non-strict: META_TAG_LOOKUP \(.+\)$/,
      );
      const script = scriptedModel([
        () => [{ toolName: 'META_TAG_LOOKUP', input: { tags: { a: 'x', b: 'y' } } }],
      ]);
      await generateText({ model: script.model, tools, stopWhen: stepCountIs(3), prompt: 'Count tags' });
      const sent = script.calls[0]!.tools!.find((tool) => tool.name === 'META_TAG_LOOKUP');
      expect(sent).toMatchObject({
        ...strictFieldSent(false),
        inputSchema: { properties: { tags: { additionalProperties: { type: 'string' } } } },
      });
      expect(script.calls[0]!.tools!.find((tool) => tool.name === 'TOOLMUX_SEARCH_TOOLS')).toMatchObject({
        ...strictFieldSent(true),
      });
      expect(toolResultTexts(script.calls[1])).toEqual(['{"count":2}']);
    });
  });

  it('leaves strict unset and the schema as shaped when strict mode is off', async () => {
    const { tools } = await setUp({ preset: SessionPreset.DIRECT_TOOLS });
    const script = scriptedModel([]);
    await generateText({ model: script.model, tools, prompt: 'hi' });
    const createTask = script.calls[0]!.tools!.find((tool) => tool.name === 'TASKS_CREATE_TASK');
    expect(createTask).not.toHaveProperty('strict');
    expect(createTask?.type === 'function' && createTask.inputSchema).toMatchObject({
      type: 'object',
      required: ['title'],
      properties: { priority: { type: 'string', enum: ['low', 'normal', 'high'] } },
    });
  });

  it('hands the framework a copy of each schema, so changing it cannot reach the session', async () => {
    const { session } = await setUp({ preset: SessionPreset.DIRECT_TOOLS });
    const tools = await session.tools();
    const schema = (
      tools.TASKS_CREATE_TASK!.inputSchema as { jsonSchema: { properties: Record<string, unknown> } }
    ).jsonSchema;
    schema.properties.title = { type: 'number' };
    expect(Object.getOwnPropertyNames(schema)).not.toContain('~standard');
    const found = await session.search({ query: 'create a task' });
    expect(
      found.results[0]!.tools.find((tool) => tool.tool_slug === 'TASKS_CREATE_TASK')?.input_schema,
    ).toMatchObject({
      properties: { title: { type: 'string' } },
    });
  });
});

describe.each(modes)('VercelProvider with tool modifiers in the AI SDK agent loop (%s)', (mode) => {
  it('the model sees the modified schema in search results, and the hooks run around the tool it calls through TOOLMUX_MULTI_EXECUTE_TOOL', async () => {
    const { mux, calls } = samples.muxOf(mode, new VercelProvider());
    const session = await mux.create('user_modifiers', { toolkits: ['tasks', 'notes'] });
    const hooks: string[] = [];
    const tools: ToolSet = await session.tools({
      modifySchema: ({ slug, schema }) => {
        if (slug !== 'TASKS_CREATE_TASK') return schema;
        const { priority: _priority, ...properties } = schema.properties as Record<string, unknown>;
        return { ...schema, properties };
      },
      beforeExecute: ({ slug, toolkit, args }) => {
        hooks.push(`before ${toolkit}/${slug}`);
        return slug === 'TASKS_CREATE_TASK' ? { ...args, priority: 'high' } : args;
      },
      afterExecute: ({ slug, toolkit, result }) => {
        hooks.push(`after ${toolkit}/${slug}`);
        return slug === 'TASKS_CREATE_TASK' && result.successful
          ? { ...result, data: { ...(result.data as object), note: 'filed as urgent' } }
          : result;
      },
    });
    const script = scriptedModel([
      () => [
        { toolName: 'TOOLMUX_SEARCH_TOOLS', input: { queries: [{ use_case: 'create a new to-do task' }] } },
      ],
      () => [
        {
          toolName: 'TOOLMUX_MULTI_EXECUTE_TOOL',
          input: { tools: [{ tool_slug: 'TASKS_CREATE_TASK', arguments: { title: 'Pay rent' } }] },
        },
      ],
    ]);

    const result = await generateText({
      model: script.model,
      tools,
      stopWhen: stepCountIs(5),
      prompt: 'Pay rent',
    });

    expect(result.text).toBe('done');
    const search = JSON.parse(toolResultTexts(script.calls[1])[0]!) as {
      results: Array<{ tools: Array<{ tool_slug: string; input_schema: { properties: object } }> }>;
    };
    const found = search.results[0]!.tools.find((tool) => tool.tool_slug === 'TASKS_CREATE_TASK')!;
    expect(Object.keys(found.input_schema.properties)).toEqual(['title', 'labels']);
    expect(calls).toEqual([
      expect.objectContaining({ slug: 'TASKS_CREATE_TASK', input: { title: 'Pay rent', priority: 'high' } }),
    ]);
    expect(JSON.parse(toolResultTexts(script.calls[2])[0]!)).toMatchObject({
      results: [
        {
          tool_slug: 'TASKS_CREATE_TASK',
          successful: true,
          data: { id: 'task_1', title: 'Pay rent', note: 'filed as urgent' },
        },
      ],
    });
    expect(hooks).toEqual([
      'before toolmux/TOOLMUX_SEARCH_TOOLS',
      'after toolmux/TOOLMUX_SEARCH_TOOLS',
      'before tasks/TASKS_CREATE_TASK',
      'after tasks/TASKS_CREATE_TASK',
    ]);
  });
});

describe.each(modes)(
  'VercelProvider: arguments a modifier makes sparse, in the AI SDK agent loop (%s)',
  (mode) => {
    it('the model reads TOOL_ARGUMENTS_INVALID naming the array and the fix; nothing runs, nothing is written as 100 million nulls', async () => {
      const { mux, calls } = samples.muxOf(mode, new VercelProvider());
      const session = await mux.create('user_sparse', {
        toolkits: ['tasks'],
        sessionPreset: SessionPreset.DIRECT_TOOLS,
      });
      // an application's labels kept by id: one label at index 99,999,999
      const labelled = (args: Record<string, unknown>) => {
        const labels: string[] = [];
        labels[99_999_999] = 'urgent';
        return { ...args, labels };
      };
      const tools: ToolSet = await session.tools({ beforeExecute: ({ args }) => labelled(args) });
      const script = scriptedModel([() => [{ toolName: 'TASKS_CREATE_TASK', input: { title: 'Pay rent' } }]]);

      const { text } = await generateText({
        model: script.model,
        tools,
        stopWhen: stepCountIs(2),
        prompt: 'Rent',
      });

      expect(text).toBe('done');
      const [read] = toolResultTexts(script.calls[1]);
      expect(read).toContain('TOOL_ARGUMENTS_INVALID');
      expect(read).toContain(
        'The arguments of TASKS_CREATE_TASK are not JSON data: arguments.labels is a sparse array of length 100000000: 1025 of its first 1025 items are holes',
      );
      expect(read).toContain('Object.fromEntries(Object.entries(array))');
      expect(calls).toEqual([]);
    });
  },
);

describe('a tool that throws what is not a plain Error', () => {
  it('the model reads the failure in generateText: the loop goes on, each call logged', async () => {
    const mux = new ToolMux({
      provider: new VercelProvider(),
      toolkits: [hostileThrowsToolkit()],
      store: ':memory:',
      logger: silent,
    });
    const session = await mux.create('user_1', {
      toolkits: ['hostile'],
      sessionPreset: SessionPreset.DIRECT_TOOLS,
    });
    const kinds = HOSTILE_THROWS.filter((entry) => entry.code === undefined);
    const script = scriptedModel([
      () => kinds.map(({ kind }) => ({ toolName: 'HOSTILE_THROW', input: { kind } })),
    ]);
    const result = await generateText({
      model: script.model,
      tools: (await session.tools()) as ToolSet,
      stopWhen: stepCountIs(3),
      prompt: 'Throw',
    });
    expect(result.text).toBe('done');
    const texts = toolResultTexts(script.calls[1]);
    expect(texts).toHaveLength(kinds.length);
    kinds.forEach(({ words }, index) => {
      expect(texts[index]).toMatch(/^Error \(TOOL_EXECUTION_FAILED\): HOSTILE_THROW failed: /);
      for (const word of words) expect(texts[index]).toContain(word);
    });
    const { items } = await session.logs({ limit: 100 });
    expect(items.filter((entry) => entry.errorCode === 'TOOL_EXECUTION_FAILED')).toHaveLength(kinds.length);
    await mux.close();
  });
});

describe('VercelProvider property keys', () => {
  it.each([false, true])(
    'strict: %s — keys a major model API refuses are sent renamed, and a call with those keys runs the tool with its own',
    async (strict) => {
      const received: unknown[] = [];
      const { session } = await samples.session(new VercelProvider({ strict }), {
        preset: SessionPreset.DIRECT_TOOLS,
        customTools: [awkwardKeysTool(received)],
      });
      let schema: unknown;
      const script = scriptedModel([
        (options) => {
          const sent = options.tools?.find((tool) => tool.name === 'TASKS_FILTER');
          schema = sent?.type === 'function' ? sent.inputSchema : undefined;
          return [{ toolName: 'TASKS_FILTER', input: argumentsAsShown(schema, AWKWARD_KEY_ARGUMENTS) }];
        },
      ]);
      const tools = await session.tools();
      await generateText({ model: script.model, tools, stopWhen: stepCountIs(3), prompt: 'Filter' });

      // what the Messages API (and Gemini) take: before, `filter[id]` failed every request
      expect(portableKeyViolations(schema)).toEqual([]);
      expect(Object.keys((schema as { properties: object }).properties)).toHaveLength(5);
      expect(received).toEqual([AWKWARD_KEY_ARGUMENTS]);
      expect(toolResultTexts(script.calls[1])).toEqual(['{"ok":true}']);
    },
  );

  it("propertyKeys: 'unchanged' hands the keys out as the tool has them", async () => {
    const received: unknown[] = [];
    const { session } = await samples.session(new VercelProvider({ propertyKeys: 'unchanged' }), {
      preset: SessionPreset.DIRECT_TOOLS,
      customTools: [awkwardKeysTool(received)],
    });
    const tools = await session.tools();
    const schema = await (tools.TASKS_FILTER!.inputSchema as { jsonSchema: unknown }).jsonSchema;
    expect(Object.keys((schema as { properties: object }).properties)).toEqual(
      Object.keys(AWKWARD_KEY_ARGUMENTS),
    );
    expect(() => new VercelProvider({ propertyKeys: 'keep' as never })).toThrow(/propertyKeys must be/);
  });
});
