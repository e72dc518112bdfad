import { Settings } from '@llamaindex/core/global';
import type { ChatMessage, ChatResponseChunk, LLMChatParamsStreaming } from '@llamaindex/core/llms';
import { MockLLM } from '@llamaindex/core/llms/mock';
import { agent } from '@llamaindex/workflow';
import { defineTool, defineToolkit, SessionPreset, ToolMux } from '@toolmux/core';
import { createSampleToolkits, stockLookupTool, untilTestTimeout } from '@toolmux/core/test';
import { type SampleSessionOptions, sampleModes, TOOLMUX_MODES } from '@toolmux/server/test';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { answerUnknownToolCalls, LlamaIndexProvider, type LlamaIndexTool } from './index.js';
import { settled } from './test-settled.js';

/** A tool call the scripted model makes; `rawInput` sends text instead of JSON-encoded `input`. */
type ToolCall = { name: string; input?: unknown; rawInput?: string; id?: string };
type ToolResultMessage = { id: string; result: string; isError: boolean };

/**
 * LlamaIndex's own `MockLLM`, made to play a script: each step sees the messages (and the tools) the
 * agent sent and answers with tool calls; after the script it answers "done". Every call is kept.
 */
class ScriptedLLM extends MockLLM {
  readonly calls: Array<{ messages: ChatMessage[]; tools: string[] }> = [];
  readonly #steps: Array<(messages: ChatMessage[]) => ToolCall[]>;

  constructor(steps: Array<(messages: ChatMessage[]) => ToolCall[]>) {
    super({ timeBetweenToken: 0 });
    this.#steps = steps;
  }

  override async chat(params: LLMChatParamsStreaming): Promise<AsyncIterable<ChatResponseChunk>>;
  override async chat(params: never): Promise<never>;
  override async chat(params: LLMChatParamsStreaming): Promise<AsyncIterable<ChatResponseChunk>> {
    const messages = structuredClone(params.messages);
    this.calls.push({ messages, tools: (params.tools ?? []).map((tool) => tool.metadata.name) });
    const step = this.#steps[this.calls.length - 1];
    const calls = step?.(messages) ?? [];
    const index = this.calls.length;
    return (async function* () {
      if (calls.length === 0) {
        yield { delta: 'done', raw: {} };
        return;
      }
      yield {
        delta: '',
        raw: {},
        options: {
          toolCall: calls.map((call, position) => ({
            name: call.name,
            id: call.id ?? `call_${index}_${position}`,
            input: call.rawInput ?? JSON.stringify(call.input),
          })),
        },
      };
    })();
  }
}

/** The tool results at the end of the messages a model call received. */
function lastToolResults(messages: ChatMessage[] | undefined): ToolResultMessage[] {
  const results: ToolResultMessage[] = [];
  for (const message of [...(messages ?? [])].reverse()) {
    const toolResult = (message.options as { toolResult?: ToolResultMessage } | undefined)?.toolResult;
    if (!toolResult) break;
    results.unshift(toolResult);
  }
  return results;
}

async function runAgent(llm: ScriptedLLM, tools: LlamaIndexTool[], prompt: string) {
  const event = await agent({ llm, tools, verbose: false }).run(prompt);
  return event.data.result as string;
}

/** `runAgent` with the LLM wrapped in `answerUnknownToolCalls()`, failing if the run never settles. */
async function runAnsweringUnknownTools(llm: ScriptedLLM, tools: LlamaIndexTool[], prompt: string) {
  const event = await settled(agent({ llm: answerUnknownToolCalls(llm), tools, verbose: false }).run(prompt));
  return event.data.result as string;
}

/** The tool calls of the assistant message just before the tool results a model call received. */
function lastToolCalls(messages: ChatMessage[] | undefined): unknown {
  const assistant = (messages ?? []).findLast((message) => message.role === 'assistant');
  return (assistant?.options as { toolCall?: unknown } | undefined)?.toolCall;
}

const silent = { debug() {}, warn() {}, error() {} };

/**
 * The agent-loop tests run twice: on an embedded ToolMux, and on a remote-mode ToolMux talking to a
 * live toolmux server in this process, so the handlers of its sample toolkits still record their
 * calls in `calls`.
 */
const samples = sampleModes({ toolkits: ['tasks', 'notes'] }, { beforeAll, afterEach, afterAll });
const modes = TOOLMUX_MODES;

/** A session over the sample toolkits (tasks and notes enabled) and its tools as FunctionTools. */
const setUp = ({ strict = false, ...options }: SampleSessionOptions & { strict?: boolean } = {}) =>
  samples.session(new LlamaIndexProvider({ strict }), options);

const names = (tools: LlamaIndexTool[]) => tools.map((tool) => tool.metadata.name).sort();
const presets = [SessionPreset.META_TOOLS, SessionPreset.DIRECT_TOOLS] as const;
const directTools = ['TASKS_CREATE_TASK', 'TASKS_SYNC_CALENDAR', 'TASKS_WAIT_FOR_APPROVAL'];

describe.each(modes)('LlamaIndexProvider in the LlamaIndex agent() loop (%s)', (mode) => {
  it('META_TOOLS: the model searches, then runs the tool it found through TOOLMUX_MULTI_EXECUTE_TOOL', async () => {
    const { tools, session, calls } = await setUp({ mode });
    expect(names(tools)).toEqual([
      'TOOLMUX_GET_TOOL_SCHEMAS',
      'TOOLMUX_MANAGE_CONNECTIONS',
      'TOOLMUX_MULTI_EXECUTE_TOOL',
      'TOOLMUX_SEARCH_TOOLS',
      'TOOLMUX_WORKBENCH',
    ]);
    let foundSlug: string | undefined;
    const llm = new ScriptedLLM([
      () => [
        {
          name: 'TOOLMUX_SEARCH_TOOLS',
          id: 'call_search',
          input: { queries: [{ use_case: 'create a new to-do task' }] },
        },
      ],
      (messages) => {
        foundSlug = JSON.parse(lastToolResults(messages)[0]!.result.replaceAll("'", '"')).results[0].tools[0]
          .tool_slug;
        return [
          {
            name: 'TOOLMUX_MULTI_EXECUTE_TOOL',
            id: 'call_multi',
            input: { tools: [{ tool_slug: foundSlug, arguments: { title: 'Buy milk', priority: 'high' } }] },
          },
        ];
      },
    ]);

    expect(await runAgent(llm, tools, 'Remind me to buy milk')).toBe('done');

    expect(foundSlug).toBe('TASKS_CREATE_TASK');
    expect(calls).toEqual([
      expect.objectContaining({ slug: 'TASKS_CREATE_TASK', input: { title: 'Buy milk', priority: 'high' } }),
    ]);
    expect(calls[0]!.context.callId).toBe('call_multi#0');
    const [multi] = lastToolResults(llm.calls[2]?.messages);
    expect(multi).toMatchObject({ id: 'call_multi', isError: false });
    expect(JSON.parse(multi!.result.replaceAll("'", '"'))).toMatchObject({
      successful_count: 1,
      results: [
        { tool_slug: 'TASKS_CREATE_TASK', successful: true, data: { id: 'task_1', title: 'Buy milk' } },
      ],
    });
    const logs = (await session.logs()).items.map((log) => `${log.toolSlug} ${log.status} ${log.callId}`);
    expect(logs.sort()).toEqual([
      'TASKS_CREATE_TASK success call_multi#0',
      'TOOLMUX_MULTI_EXECUTE_TOOL success call_multi',
      'TOOLMUX_SEARCH_TOOLS success call_search',
    ]);
  });

  it('DIRECT_TOOLS: every enabled tool is exposed, no meta-tool, and the model calls them directly', async () => {
    const { tools, calls, session } = await setUp({ mode, preset: SessionPreset.DIRECT_TOOLS });
    expect(names(tools)).toEqual([
      'NOTES_CREATE_NOTE',
      'NOTES_SEARCH_NOTES',
      'TASKS_CREATE_TASK',
      'TASKS_DELETE_TASK',
      'TASKS_EXPORT_ARCHIVE',
      'TASKS_LIST_TASKS',
      'TASKS_SYNC_CALENDAR',
      'TASKS_WAIT_FOR_APPROVAL',
    ]);
    const llm = new ScriptedLLM([
      () => [{ name: 'TASKS_CREATE_TASK', input: { title: 'Water plants', labels: ['home'] } }],
      () => [{ name: 'TASKS_LIST_TASKS', input: { openOnly: true } }],
    ]);

    expect(await runAgent(llm, tools, 'Add a task, then list them')).toBe('done');

    expect(llm.calls[0]!.tools.sort()).toEqual(names(tools));
    expect(calls.map((call) => [call.slug, call.input])).toEqual([
      ['TASKS_CREATE_TASK', { title: 'Water plants', labels: ['home'] }],
      ['TASKS_LIST_TASKS', { openOnly: true }],
    ]);
    expect(lastToolResults(llm.calls[1]?.messages)).toEqual([
      { id: 'call_1_0', result: "{'id':'task_1','title':'Water plants'}", isError: false },
    ]);
    expect((await session.logs()).items.map((log) => `${log.toolSlug} ${log.callId}`).sort()).toEqual([
      'TASKS_CREATE_TASK call_1_0',
      'TASKS_LIST_TASKS call_2_0',
    ]);
  });

  describe.each(presets)('%s', (preset) => {
    it('invalid arguments and a throwing tool reach the model as readable errors, and the loop goes on', async () => {
      const { tools, calls, session } = await setUp({ mode, preset, preload: directTools });
      const llm = new ScriptedLLM([
        () => [{ name: 'TASKS_CREATE_TASK', input: { title: '', priority: 'urgent' } }],
        () => [{ name: 'TASKS_SYNC_CALENDAR', input: { calendarId: 'work' } }],
        () => [{ name: 'TASKS_CREATE_TASK', input: { title: 'Fixed title' } }],
      ]);

      expect(await runAgent(llm, tools, 'Add a task')).toBe('done');

      const [invalid] = lastToolResults(llm.calls[1]?.messages);
      expect(invalid!.result).toMatch(
        /^Error \(TOOL_ARGUMENTS_INVALID\): Invalid arguments for TASKS_CREATE_TASK: title: is empty: send a string of at least 1 character; priority: unknown value 'urgent'; use one of low, normal, high$/,
      );
      expect(lastToolResults(llm.calls[2]?.messages)).toEqual([
        {
          id: 'call_2_0',
          result: 'Error (TOOL_EXECUTION_FAILED): TASKS_SYNC_CALENDAR failed: calendar work is unreachable',
          isError: false,
        },
      ]);
      expect(llm.calls).toHaveLength(4);
      expect(calls.map((call) => call.slug)).toEqual(['TASKS_SYNC_CALENDAR', 'TASKS_CREATE_TASK']);
      expect(
        (await session.logs()).items.map((log) => `${log.errorCode ?? 'ok'} ${log.callId}`).sort(),
      ).toEqual(['TOOL_ARGUMENTS_INVALID call_1_0', 'TOOL_EXECUTION_FAILED call_2_0', 'ok call_3_0']);
    });

    it('a signal bound to the tools (tool.bind({ signal })) stops the running tool; the model reads TOOL_ABORTED', async () => {
      const { tools, calls, session } = await setUp({ mode, preset, preload: directTools });
      const controller = new AbortController();
      const bound = tools.map((tool) => tool.bind({ signal: controller.signal }));
      const llm = new ScriptedLLM([
        () => [{ name: 'TASKS_WAIT_FOR_APPROVAL', id: 'call_wait', input: { taskId: 'task_9' } }],
      ]);
      const running = runAgent(llm, bound, 'Wait for approval');
      await vi.waitFor(
        () => expect(calls.map((call) => call.slug)).toEqual(['TASKS_WAIT_FOR_APPROVAL']),
        untilTestTimeout(),
      );
      controller.abort();

      // LlamaIndex's loop has no abort of its own: the tool answers, and the model reads why it stopped
      expect(await running).toBe('done');
      expect(lastToolResults(llm.calls[1]?.messages)).toEqual([
        {
          id: 'call_wait',
          result: expect.stringMatching(/^Error \(TOOL_ABORTED\): /),
          isError: false,
        },
      ]);
      await expect
        .poll(
          async () =>
            (await session.logs()).items.map((log) => `${log.toolSlug} ${log.errorCode} ${log.callId}`),
          untilTestTimeout(),
        )
        .toEqual(['TASKS_WAIT_FOR_APPROVAL TOOL_ABORTED call_wait']);
    });
  });
});

describe.each(modes)('answerUnknownToolCalls(): a tool name the agent has no tool of (%s)', (mode) => {
  const hints = {
    [SessionPreset.META_TOOLS]: 'Use TOOLMUX_SEARCH_TOOLS to find the right slug.',
    [SessionPreset.DIRECT_TOOLS]: 'Call only the tools this session gave you.',
  };
  it.each(presets)(
    "%s: the model reads toolmux's answer under the name it called, and the run goes on",
    async (preset) => {
      const { tools, calls, session } = await setUp({ mode, preset });
      const input = '{"title":"Buy milk"}';
      const llm = new ScriptedLLM([() => [{ name: 'TASKS_CREATE_TASKS', id: 'call_typo', rawInput: input }]]);

      expect(await runAnsweringUnknownTools(llm, tools, 'Remind me to buy milk')).toBe('done');

      expect(lastToolResults(llm.calls[1]?.messages)).toEqual([
        {
          id: 'call_typo',
          result: `Error (TOOL_NOT_FOUND): There is no tool 'TASKS_CREATE_TASKS'. Did you mean 'TASKS_CREATE_TASK' or 'TASKS_LIST_TASKS' or 'TASKS_DELETE_TASK'? ${hints[preset]}`,
          isError: false,
        },
      ]);
      // the model sees its own call again, as it made it
      expect(lastToolCalls(llm.calls[1]?.messages)).toEqual([
        { name: 'TASKS_CREATE_TASKS', id: 'call_typo', input },
      ]);
      expect(calls).toEqual([]);
      expect(
        (await session.logs()).items.map((log) => `${log.toolSlug} ${log.errorCode} ${log.callId}`),
      ).toEqual(['TASKS_CREATE_TASKS TOOL_NOT_FOUND call_typo']);
    },
  );

  it('META_TOOLS: a slug found with TOOLMUX_SEARCH_TOOLS and called directly runs through the session, beside a call of a tool the agent has', async () => {
    const { tools, calls, session } = await setUp({ mode });
    const llm = new ScriptedLLM([
      () => [
        { name: 'TASKS_CREATE_TASK', id: 'call_direct', input: { title: 'Buy milk' } },
        {
          name: 'TOOLMUX_SEARCH_TOOLS',
          id: 'call_search',
          input: { queries: [{ use_case: 'list my tasks' }] },
        },
      ],
      () => [{ name: 'NOTES_CREATE_NOTES', id: 'call_note', input: { text: 'milk' } }],
    ]);

    expect(await runAnsweringUnknownTools(llm, tools, 'Remind me to buy milk')).toBe('done');

    expect(calls.map((call) => [call.slug, call.input, call.context.callId])).toEqual([
      ['TASKS_CREATE_TASK', { title: 'Buy milk' }, 'call_direct'],
    ]);
    const [direct, search] = lastToolResults(llm.calls[1]?.messages);
    expect(direct).toEqual({
      id: 'call_direct',
      result: "{'id':'task_1','title':'Buy milk'}",
      isError: false,
    });
    expect(search).toMatchObject({
      id: 'call_search',
      result: expect.stringContaining("'tool_slug':'TASKS_LIST_TASKS'"),
    });
    // the call the model made as it made it (JSON text), beside the agent's own (parsed)
    expect(lastToolCalls(llm.calls[1]?.messages)).toEqual([
      { name: 'TASKS_CREATE_TASK', id: 'call_direct', input: '{"title":"Buy milk"}' },
      {
        name: 'TOOLMUX_SEARCH_TOOLS',
        id: 'call_search',
        input: { queries: [{ use_case: 'list my tasks' }] },
      },
    ]);
    expect(lastToolResults(llm.calls[2]?.messages)[0]!.result).toBe(
      "Error (TOOL_NOT_FOUND): There is no tool 'NOTES_CREATE_NOTES'. Did you mean 'NOTES_CREATE_NOTE' or 'NOTES_SEARCH_NOTES'? Use TOOLMUX_SEARCH_TOOLS to find the right slug.",
    );
    // the earlier call too, in the history of the next step
    expect(
      llm.calls[2]?.messages.flatMap(
        (message) => (message.options as { toolCall?: [] } | undefined)?.toolCall ?? [],
      ),
    ).toContainEqual({ name: 'TASKS_CREATE_TASK', id: 'call_direct', input: '{"title":"Buy milk"}' });
    expect(
      (await session.logs()).items
        .map((log) => `${log.toolSlug} ${log.errorCode ?? 'ok'} ${log.callId}`)
        .sort(),
    ).toEqual([
      'NOTES_CREATE_NOTES TOOL_NOT_FOUND call_note',
      'TASKS_CREATE_TASK ok call_direct',
      'TOOLMUX_SEARCH_TOOLS ok call_search',
    ]);
  });
});

describe('LlamaIndexProvider in the LlamaIndex agent() loop, remote mode with a custom tool', () => {
  it('one TOOLMUX_MULTI_EXECUTE_TOOL runs the custom tool here and a sample tool on the server', async () => {
    const { tool: lookup, ran } = stockLookupTool();
    const { tools, session, calls } = await setUp({
      mode: 'remote',
      toolkits: ['tasks', 'shop'],
      customTools: [lookup],
    });
    const llm = new ScriptedLLM([
      () => [
        {
          name: 'TOOLMUX_MULTI_EXECUTE_TOOL',
          id: 'call_multi',
          input: {
            tools: [
              { tool_slug: 'SHOP_LOOKUP_STOCK', arguments: { sku: 'B-200' } },
              { tool_slug: 'TASKS_CREATE_TASK', arguments: { title: 'Restock B-200' } },
            ],
          },
        },
      ],
    ]);

    expect(await runAgent(llm, tools, 'How many B-200 are left?')).toBe('done');

    expect(ran).toEqual([{ sku: 'B-200', sessionId: session.sessionId, callId: 'call_multi#0' }]);
    expect(calls).toEqual([
      expect.objectContaining({
        slug: 'TASKS_CREATE_TASK',
        context: expect.objectContaining({ callId: 'call_multi#1' }),
      }),
    ]);
    const [multi] = lastToolResults(llm.calls[1]?.messages);
    expect(JSON.parse(multi!.result.replaceAll("'", '"'))).toMatchObject({
      successful_count: 2,
      results: [
        { tool_slug: 'SHOP_LOOKUP_STOCK', successful: true, data: { sku: 'B-200', inStock: 7 } },
        { tool_slug: 'TASKS_CREATE_TASK', successful: true },
      ],
    });
    expect((await session.logs()).items.map((log) => `${log.toolSlug} ${log.callId}`).sort()).toEqual([
      'SHOP_LOOKUP_STOCK call_multi#0',
      'TASKS_CREATE_TASK call_multi#1',
      'TOOLMUX_MULTI_EXECUTE_TOOL call_multi',
    ]);
  });
});

describe('LlamaIndexProvider edge cases', () => {
  it('arguments that are not JSON reach the session as LlamaIndex parsed them, and the model reads what is wrong', async () => {
    const { tools, calls, session } = await setUp({ preset: SessionPreset.DIRECT_TOOLS });
    const llm = new ScriptedLLM([() => [{ name: 'TASKS_CREATE_TASK', rawInput: '{"title": "Buy' }]]);

    expect(await runAgent(llm, tools, 'Add a task')).toBe('done');

    expect(calls).toEqual([]);
    // LlamaIndex passes text it cannot parse on as { rawInput }: toolmux names the missing field
    expect(lastToolResults(llm.calls[1]?.messages)[0]!.result).toMatch(
      /^Error \(TOOL_ARGUMENTS_INVALID\): Invalid arguments for TASKS_CREATE_TASK: .*title/,
    );
    expect((await session.logs()).items).toEqual([
      expect.objectContaining({ errorCode: 'TOOL_ARGUMENTS_INVALID', callId: 'call_1_0' }),
    ]);
  });

  it('under a run-scoped callback manager, the call id reaches the session when the tools were made in its scope', async () => {
    const { CallbackManager } = await import('@llamaindex/core/global');
    const llm = new ScriptedLLM([
      () => [{ name: 'TASKS_CREATE_TASK', id: 'call_scoped_1', input: { title: 'A' } }],
      () => [{ name: 'TASKS_CREATE_TASK', id: 'call_scoped_2', input: { title: 'B' } }],
    ]);
    const session = await Settings.withCallbackManager(new CallbackManager(), async () => {
      const { session, tools } = await setUp({ preset: SessionPreset.DIRECT_TOOLS });
      await runAgent(llm, tools, 'Add two tasks');
      return session;
    });
    expect((await session.logs()).items.map((log) => log.callId).sort()).toEqual([
      'call_scoped_1',
      'call_scoped_2',
    ]);
  });

  it('hands LlamaIndex a copy of each schema, so changing it cannot reach the session', async () => {
    const { tools, session } = await setUp({ preset: SessionPreset.DIRECT_TOOLS });
    const createTask = tools.find((tool) => tool.metadata.name === 'TASKS_CREATE_TASK')!;
    expect(createTask.metadata.parameters).toEqual({
      type: 'object',
      properties: {
        title: { type: 'string', minLength: 1, description: 'What needs to be done' },
        priority: { description: 'How urgent the task is', type: 'string', enum: ['low', 'normal', 'high'] },
        labels: { description: 'Labels to attach', type: 'array', items: { type: 'string' } },
      },
      required: ['title'],
    });
    (createTask.metadata.parameters as { properties: Record<string, unknown> }).properties.title = {
      type: 'number',
    };
    const found = await session.search({ query: 'create a task' });
    expect(
      found.results[0]!.tools.find((tool) => tool.tool_slug === 'TASKS_CREATE_TASK')?.input_schema,
    ).toMatchObject({ properties: { title: { type: 'string' } } });
  });

  it('strict: true hands out strict-shaped schemas, null means absent, and a tool that cannot be strict warns once', async () => {
    const lookup = defineTool({
      slug: 'META_TAG_LOOKUP',
      description: 'Look up values by free-form tags.',
      inputSchema: z.object({ tags: z.record(z.string(), z.string()).describe('Any tags') }),
      execute: async (input) => ({ count: Object.keys(input.tags).length }),
    });
    const warn = vi.fn();
    const sample = createSampleToolkits();
    const meta = defineToolkit({ slug: 'meta', name: 'Meta', description: 'Tags', tools: [lookup] });
    const mux = new ToolMux({
      provider: new LlamaIndexProvider({ strict: true, logger: { warn } }),
      toolkits: [...sample.toolkits, meta],
      store: ':memory:',
      logger: silent,
    });
    samples.track(mux);
    const session = await mux.create('user_1', {
      toolkits: ['tasks', 'meta'],
      preload: { tools: ['TASKS_CREATE_TASK', 'META_TAG_LOOKUP'] },
    });
    const tools = await session.tools();
    await (
      await mux.create('user_2', { toolkits: ['meta'], sessionPreset: SessionPreset.DIRECT_TOOLS })
    ).tools();
    expect(warn).toHaveBeenCalledTimes(1);
    expect(warn.mock.calls[0]![0]).toMatch(
      /^toolmux: 1 tool cannot be handed out in strict mode .*META_TAG_LOOKUP/,
    );
    const schemaOf = (name: string) => tools.find((tool) => tool.metadata.name === name)!.metadata.parameters;
    expect(schemaOf('TASKS_CREATE_TASK')).toMatchObject({
      additionalProperties: false,
      required: ['title', 'priority', 'labels'],
    });
    expect(schemaOf('META_TAG_LOOKUP')).toMatchObject({
      properties: { tags: { additionalProperties: { type: 'string' } } },
    });
    const llm = new ScriptedLLM([
      () => [
        { name: 'TASKS_CREATE_TASK', input: { title: 'Strict task', priority: null, labels: null } },
        { name: 'META_TAG_LOOKUP', input: { tags: { a: 'x' } } },
      ],
    ]);
    expect(await runAgent(llm, tools, 'Add a task')).toBe('done');
    expect(sample.calls.map((call) => call.input)).toEqual([{ title: 'Strict task' }]);
    expect(lastToolResults(llm.calls[1]?.messages).map((result) => result.result)).toEqual([
      "{'id':'task_1','title':'Strict task'}",
      "{'count':1}",
    ]);
  });
});
