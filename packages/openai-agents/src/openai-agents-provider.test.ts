import {
  Agent,
  type AgentInputItem,
  type FunctionTool,
  type Model,
  RunContext,
  Runner,
  run,
  setTracingDisabled,
  tool,
} from '@openai/agents';
import {
  assistantMessage,
  functionCall,
  modelResponder,
  type RecordedModelCall,
  ScriptedModel,
  type ScriptedModelInput,
} from '@openai/agents-core/testing';
import {
  defineTool,
  defineToolkit,
  type ExecutionLog,
  SessionPreset,
  type Tool,
  type ToolResult,
} from '@toolmux/core';
import {
  AWKWARD_KEY_ARGUMENTS,
  argumentsAsShown,
  awkwardKeysTool,
  portableKeyViolations,
  stockLookupTool,
  untilTestTimeout,
} from '@toolmux/core/test';
import { sampleModes } from '@toolmux/server/test';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import {
  answerUnparsedToolArguments,
  OpenAIAgentsProvider,
  type OpenAIAgentsProviderOptions,
} from './index.js';

setTracingDisabled(true);

/**
 * The agent-loop tests run twice: against an embedded ToolMux, and against a remote-mode ToolMux
 * (`new ToolMux({ baseUrl, apiKey, provider })`) talking to a live toolmux server in this process.
 */
const modes = ['embedded', 'remote'] as const;
type Mode = (typeof modes)[number];

/** The sample toolkits, embedded or on a test server in this process (its handlers' `calls` are seen here). */
const samples = sampleModes({}, { beforeAll, afterEach, afterAll });

/**
 * A ToolMux over the sample toolkits with one session, its tools wrapped by the provider under test:
 * embedded (its own store and sample toolkits), or remote on the file's server (whose sample toolkits
 * are reset here, so `sample.calls` holds this test's calls only).
 */
async function setup(
  options: {
    mode?: Mode;
    preset?: SessionPreset;
    strict?: boolean;
    timeoutMs?: OpenAIAgentsProviderOptions['timeoutMs'];
    preload?: string[];
    extraToolkits?: ReturnType<typeof defineToolkit>[];
    toolkits?: string[];
    customTools?: Tool[];
  } = {},
) {
  const warnings: string[] = [];
  const provider = new OpenAIAgentsProvider({
    strict: options.strict,
    logger: { warn: (message) => warnings.push(message) },
    timeoutMs: options.timeoutMs,
  });
  const { mux, session, tools, ...sample } = await samples.session(provider, options);
  return { sample, mux, session, tools, warnings };
}

/** Runs a real agent loop over `tools` with a scripted model (`wrap`ped, when given). */
async function runAgent(
  tools: FunctionTool[],
  steps: ScriptedModelInput[],
  options: {
    signal?: AbortSignal;
    toolNotFoundBehavior?: 'raise_error' | 'return_error_to_model';
    stream?: boolean;
    wrap?: (model: Model) => Model;
  } = {},
) {
  const { stream = false, wrap = (model: Model) => model, ...runOptions } = options;
  const model = new ScriptedModel(steps);
  const agent = new Agent({ name: 'Assistant', instructions: 'Use the tools.', model: wrap(model), tools });
  if (!stream) {
    const result = await run(agent, 'Please help with my tasks.', runOptions);
    return { model, result };
  }
  const result = await run(agent, 'Please help with my tasks.', { ...runOptions, stream: true });
  for await (const _event of result);
  await result.completed;
  return { model, result };
}

/** The text the model received as the output of tool call `callId`. */
function toolOutputSeen(call: RecordedModelCall | undefined, callId: string): string {
  const input = call?.request.input;
  const item = (Array.isArray(input) ? input : []).find(
    (entry: AgentInputItem) => entry.type === 'function_call_result' && entry.callId === callId,
  );
  if (item?.type !== 'function_call_result')
    throw new Error(`the model never received the output of ${callId}`);
  const output = item.output;
  if (typeof output === 'string') return output;
  if (!Array.isArray(output) && output.type === 'text') return output.text;
  throw new Error(`unexpected output for ${callId}: ${JSON.stringify(output)}`);
}

async function logOf(
  session: { logs(): Promise<{ items: ExecutionLog[] }> },
  slug: string,
): Promise<ExecutionLog> {
  const { items } = await session.logs();
  const entry = items.find((item) => item.toolSlug === slug);
  if (!entry) throw new Error(`no log entry for ${slug}`);
  return entry;
}

const done = [assistantMessage('ok')];

describe.each(modes)('OpenAIAgentsProvider in the agent loop — META_TOOLS (%s)', (mode) => {
  it('searches, then runs the found tool through TOOLMUX_MULTI_EXECUTE_TOOL', async () => {
    const { sample, session, tools } = await setup({ mode });
    expect(tools.map((tool) => tool.name).sort()).toEqual([
      'TOOLMUX_GET_TOOL_SCHEMAS',
      'TOOLMUX_MANAGE_CONNECTIONS',
      'TOOLMUX_MULTI_EXECUTE_TOOL',
      'TOOLMUX_SEARCH_TOOLS',
      'TOOLMUX_WORKBENCH',
    ]);
    let foundSlug = '';
    const { model, result } = await runAgent(tools, [
      [
        functionCall(
          'TOOLMUX_SEARCH_TOOLS',
          { queries: [{ use_case: 'create a new task' }] },
          { callId: 'call_search' },
        ),
      ],
      modelResponder((call) => {
        const search = JSON.parse(toolOutputSeen(call, 'call_search'));
        foundSlug = search.results[0].tools[0].tool_slug;
        return [
          functionCall(
            'TOOLMUX_MULTI_EXECUTE_TOOL',
            { tools: [{ tool_slug: foundSlug, arguments: { title: 'Buy milk', priority: 'high' } }] },
            { callId: 'call_exec' },
          ),
        ];
      }),
      done,
    ]);

    expect(result.finalOutput).toBe('ok');
    model.assertComplete();
    expect(foundSlug).toBe('TASKS_CREATE_TASK');
    expect(sample.calls).toEqual([
      {
        slug: 'TASKS_CREATE_TASK',
        input: { title: 'Buy milk', priority: 'high' },
        context: expect.objectContaining({ callId: 'call_exec#0', sessionId: session.sessionId }),
      },
    ]);
    const seen = JSON.parse(toolOutputSeen(model.lastCall, 'call_exec'));
    expect(seen).toMatchObject({
      successful_count: 1,
      results: [
        { tool_slug: 'TASKS_CREATE_TASK', successful: true, data: { id: 'task_1', title: 'Buy milk' } },
      ],
    });
    const entry = await logOf(session, 'TASKS_CREATE_TASK');
    expect(entry).toMatchObject({ status: 'success', callId: 'call_exec#0', id: seen.results[0].log_id });
    expect(await logOf(session, 'TOOLMUX_SEARCH_TOOLS')).toMatchObject({
      status: 'success',
      callId: 'call_search',
    });
  });

  it('exposes a preloaded tool beside the meta-tools and runs it directly with the call id', async () => {
    const { sample, session, tools } = await setup({ mode, preload: ['TASKS_CREATE_TASK'] });
    expect(tools.map((tool) => tool.name)).toContain('TASKS_CREATE_TASK');
    expect(tools).toHaveLength(6);
    const { model } = await runAgent(tools, [
      [functionCall('TASKS_CREATE_TASK', { title: 'Call mom' }, { callId: 'call_direct' })],
      done,
    ]);
    expect(sample.calls).toEqual([
      {
        slug: 'TASKS_CREATE_TASK',
        input: { title: 'Call mom' },
        context: expect.objectContaining({ callId: 'call_direct' }),
      },
    ]);
    expect(toolOutputSeen(model.lastCall, 'call_direct')).toBe('{"id":"task_1","title":"Call mom"}');
    expect(await logOf(session, 'TASKS_CREATE_TASK')).toMatchObject({
      status: 'success',
      callId: 'call_direct',
    });
  });

  it('returns the toolmux error of a failed call inside TOOLMUX_MULTI_EXECUTE_TOOL and goes on', async () => {
    const { sample, session, tools } = await setup({ mode });
    const { model, result } = await runAgent(tools, [
      [
        functionCall(
          'TOOLMUX_MULTI_EXECUTE_TOOL',
          {
            tools: [
              { tool_slug: 'TASKS_CREATE_TASK', arguments: { title: 42 } },
              { tool_slug: 'TASKS_SYNC_CALENDAR', arguments: { calendarId: 'cal_1' } },
            ],
          },
          { callId: 'call_exec' },
        ),
      ],
      done,
    ]);
    expect(result.finalOutput).toBe('ok');
    const seen = JSON.parse(toolOutputSeen(model.lastCall, 'call_exec'));
    const invalid = await logOf(session, 'TASKS_CREATE_TASK');
    const thrown = await logOf(session, 'TASKS_SYNC_CALENDAR');
    expect(invalid.errorCode).toBe('TOOL_ARGUMENTS_INVALID');
    expect(thrown.errorMessage).toContain('calendar cal_1 is unreachable');
    expect(seen).toMatchObject({
      failed_count: 2,
      results: [
        { tool_slug: 'TASKS_CREATE_TASK', successful: false, error: invalid.errorMessage },
        { tool_slug: 'TASKS_SYNC_CALENDAR', successful: false, error: thrown.errorMessage },
      ],
    });
    expect(sample.calls.map((call) => call.slug)).toEqual(['TASKS_SYNC_CALENDAR']);
  });
});

describe.each(modes)('OpenAIAgentsProvider in the agent loop — DIRECT_TOOLS (%s)', (mode) => {
  it('exposes every enabled tool and no meta-tool, and runs a tool directly', async () => {
    const { sample, session, tools } = await setup({ mode, preset: SessionPreset.DIRECT_TOOLS });
    const allSlugs = sample.toolkits.flatMap((toolkit) => toolkit.tools.map((tool) => tool.slug));
    expect(tools.map((tool) => tool.name).sort()).toEqual([...allSlugs].sort());
    expect(tools.some((tool) => tool.name.startsWith('TOOLMUX_'))).toBe(false);
    expect(tools.every((tool) => tool.type === 'function' && tool.strict === false)).toBe(true);

    const { model } = await runAgent(tools, [
      [
        functionCall(
          'NOTES_SEARCH_NOTES',
          { query: 'groceries', filter: { tag: 'home' } },
          { callId: 'call_notes' },
        ),
      ],
      done,
    ]);
    expect(sample.calls).toHaveLength(1);
    expect(sample.calls[0]).toMatchObject({
      slug: 'NOTES_SEARCH_NOTES',
      input: { query: 'groceries', filter: { tag: 'home' } },
      context: { callId: 'call_notes' },
    });
    expect(JSON.parse(toolOutputSeen(model.lastCall, 'call_notes'))).toMatchObject({
      notes: [{ text: 'about groceries' }],
    });
    expect(await logOf(session, 'NOTES_SEARCH_NOTES')).toMatchObject({
      status: 'success',
      callId: 'call_notes',
    });
  });
});

describe('OpenAIAgentsProvider in the agent loop — remote mode, a custom tool of the session', () => {
  it('finds the custom tool with the server’s search and runs it here, beside a server tool, in one multi-execute', async () => {
    // the custom tool's code is here, in the client: only its declaration goes to the server
    const { tool: lookup, ran } = stockLookupTool();
    const { sample, session, tools } = await setup({
      mode: 'remote',
      toolkits: ['tasks', 'shop'],
      customTools: [lookup],
    });
    expect(session.config.customTools).toEqual(['SHOP_LOOKUP_STOCK']);
    expect(tools.map((tool) => tool.name).sort()).toEqual([
      'TOOLMUX_GET_TOOL_SCHEMAS',
      'TOOLMUX_MANAGE_CONNECTIONS',
      'TOOLMUX_MULTI_EXECUTE_TOOL',
      'TOOLMUX_SEARCH_TOOLS',
      'TOOLMUX_WORKBENCH',
    ]);

    let foundSlug = '';
    const { model, result } = await runAgent(tools, [
      [
        functionCall(
          'TOOLMUX_SEARCH_TOOLS',
          { queries: [{ use_case: 'how many items of a product are in stock' }] },
          { callId: 'call_search' },
        ),
      ],
      modelResponder((call) => {
        const search = JSON.parse(toolOutputSeen(call, 'call_search'));
        foundSlug = search.results[0].tools[0].tool_slug;
        return [
          functionCall(
            'TOOLMUX_MULTI_EXECUTE_TOOL',
            {
              tools: [
                { tool_slug: foundSlug, arguments: { sku: 'B-200' } },
                { tool_slug: 'TASKS_CREATE_TASK', arguments: { title: 'Restock B-200' } },
              ],
            },
            { callId: 'call_exec' },
          ),
        ];
      }),
      done,
    ]);

    expect(result.finalOutput).toBe('ok');
    model.assertComplete();
    // the server searched the custom tool's declaration
    expect(foundSlug).toBe('SHOP_LOOKUP_STOCK');
    // the custom handler ran here, in the client; the sample tool on the server
    expect(ran).toEqual([{ sku: 'B-200', sessionId: session.sessionId, callId: 'call_exec#0' }]);
    expect(sample.calls).toEqual([
      {
        slug: 'TASKS_CREATE_TASK',
        input: { title: 'Restock B-200' },
        context: expect.objectContaining({ callId: 'call_exec#1', sessionId: session.sessionId }),
      },
    ]);
    const seen = JSON.parse(toolOutputSeen(model.lastCall, 'call_exec'));
    expect(seen).toMatchObject({
      successful_count: 2,
      failed_count: 0,
      results: [
        { tool_slug: 'SHOP_LOOKUP_STOCK', successful: true, data: { sku: 'B-200', inStock: 7 } },
        { tool_slug: 'TASKS_CREATE_TASK', successful: true, data: { id: 'task_1', title: 'Restock B-200' } },
      ],
    });

    // session.logs() lists both calls, each under the id the model was given
    const { items } = await session.logs();
    expect(items.map((log) => `${log.toolSlug} ${log.status} ${log.callId}`).sort()).toEqual([
      'SHOP_LOOKUP_STOCK success call_exec#0',
      'TASKS_CREATE_TASK success call_exec#1',
      'TOOLMUX_MULTI_EXECUTE_TOOL success call_exec',
      'TOOLMUX_SEARCH_TOOLS success call_search',
    ]);
    expect(await logOf(session, 'SHOP_LOOKUP_STOCK')).toMatchObject({
      id: seen.results[0].log_id,
      toolkit: 'shop',
      sessionId: session.sessionId,
      userId: 'user_1',
    });
    expect(await logOf(session, 'TASKS_CREATE_TASK')).toMatchObject({ id: seen.results[1].log_id });
    // the client's log entry was sent to the server: its own session reads it too
    const onServer = await samples.server.embedded.use(session.sessionId, { customTools: [lookup] });
    expect((await onServer.logs()).items.map((log) => log.id).sort()).toEqual(
      items.map((log) => log.id).sort(),
    );
  });
});

describe.each(
  modes.flatMap((mode) => [
    {
      mode,
      preset: SessionPreset.META_TOOLS,
      preload: ['TASKS_CREATE_TASK', 'TASKS_SYNC_CALENDAR', 'TASKS_WAIT_FOR_APPROVAL'],
    },
    { mode, preset: SessionPreset.DIRECT_TOOLS, preload: [] },
  ]),
)('errors and aborts reach the model — $preset ($mode)', ({ mode, preset, preload }) => {
  it('gives the model the toolmux validation message for invalid arguments and goes on', async () => {
    const { sample, session, tools } = await setup({ mode, preset, preload });
    const { model, result } = await runAgent(tools, [
      [functionCall('TASKS_CREATE_TASK', { title: 42, priority: 'urgent' }, { callId: 'call_bad' })],
      [functionCall('TASKS_CREATE_TASK', { title: 'Fixed' }, { callId: 'call_good' })],
      done,
    ]);
    expect(result.finalOutput).toBe('ok');
    const { items } = await session.logs();
    const rejected = items.find((item) => item.callId === 'call_bad')!;
    expect(rejected.errorCode).toBe('TOOL_ARGUMENTS_INVALID');
    expect(rejected.errorMessage).toMatch(/title/);
    expect(rejected.errorMessage).toMatch(/priority/);
    expect(toolOutputSeen(model.calls[1], 'call_bad')).toBe(
      `Error (TOOL_ARGUMENTS_INVALID): ${rejected.errorMessage}`,
    );
    expect(sample.calls.map((call) => call.input)).toEqual([{ title: 'Fixed' }]);
  });

  it('gives the model the error of a tool that throws, not the SDK generic message', async () => {
    const { session, tools } = await setup({ mode, preset, preload });
    const { model, result } = await runAgent(tools, [
      [functionCall('TASKS_SYNC_CALENDAR', { calendarId: 'cal_9' }, { callId: 'call_sync' })],
      done,
    ]);
    expect(result.finalOutput).toBe('ok');
    const entry = await logOf(session, 'TASKS_SYNC_CALENDAR');
    const seen = toolOutputSeen(model.lastCall, 'call_sync');
    expect(seen).toBe(`Error (${entry.errorCode}): ${entry.errorMessage}`);
    expect(seen).toContain('calendar cal_9 is unreachable');
    expect(seen).not.toContain('An error occurred');
  });

  it('stops a running tool when the run is aborted', async () => {
    const { sample, session, tools } = await setup({ mode, preset, preload });
    // what the session answers the SDK's tool call (the run rejects before the model reads it)
    const execute = vi.spyOn(session, 'execute');
    const controller = new AbortController();
    const running = runAgent(
      tools,
      [[functionCall('TASKS_WAIT_FOR_APPROVAL', { taskId: 'task_1' }, { callId: 'call_wait' })], done],
      { signal: controller.signal },
    );
    await vi.waitFor(
      () => expect(sample.calls.map((call) => call.slug)).toEqual(['TASKS_WAIT_FOR_APPROVAL']),
      untilTestTimeout(),
    );
    controller.abort();
    await expect(running).rejects.toMatchObject({ name: 'AbortError' });
    await vi.waitFor(
      () => expect(execute.mock.settledResults[0]?.type).toBe('fulfilled'),
      untilTestTimeout(),
    );
    expect(execute).toHaveBeenCalledTimes(1);
    expect(execute.mock.calls[0]![0]).toBe('TASKS_WAIT_FOR_APPROVAL');
    const answered: ToolResult = await execute.mock.results[0]!.value;
    expect(answered).toMatchObject({ successful: false, code: 'TOOL_ABORTED' });
    let entry: ExecutionLog;
    if (mode === 'embedded') {
      entry = await vi.waitFor(() => logOf(session, 'TASKS_WAIT_FOR_APPROVAL'), untilTestTimeout());
      expect(answered.logId).toBe(entry.id);
    } else {
      // the client answers the abort at once, without the server's log entry: no logId; the server
      // sees the client go away, aborts the handler and logs TOOL_ABORTED a moment later
      expect(answered.logId).toBe('');
      const loggedCode = async () =>
        (await session.logs()).items.find((log) => log.callId === 'call_wait')?.errorCode;
      await expect.poll(loggedCode, untilTestTimeout()).toBe('TOOL_ABORTED');
      entry = await logOf(session, 'TASKS_WAIT_FOR_APPROVAL');
    }
    expect(entry).toMatchObject({ status: 'error', errorCode: 'TOOL_ABORTED', callId: 'call_wait' });
  });
});

describe.each(modes)("the SDK's per-call time limit (timeoutMs) (%s)", (mode) => {
  it("stops a tool still running at its limit: the model reads toolmux's time-limit message, and the run and the call beside it go on", async () => {
    const { sample, session, tools } = await setup({
      mode,
      preset: SessionPreset.DIRECT_TOOLS,
      // the waiting tool's limit only: the task is created whatever the machine's speed
      timeoutMs: (tool) => (tool.slug === 'TASKS_WAIT_FOR_APPROVAL' ? 20 : undefined),
    });
    expect(tools.find((tool) => tool.name === 'TASKS_WAIT_FOR_APPROVAL')?.timeoutMs).toBe(20);
    expect(tools.find((tool) => tool.name === 'TASKS_CREATE_TASK')?.timeoutMs).toBeUndefined();
    const { model, result } = await runAgent(tools, [
      [
        functionCall('TASKS_WAIT_FOR_APPROVAL', { taskId: 'task_9' }, { callId: 'call_wait' }),
        functionCall('TASKS_CREATE_TASK', { title: 'Buy milk' }, { callId: 'call_create' }),
      ],
      done,
    ]);

    expect(result.finalOutput).toBe('ok');
    const limit =
      "TASKS_WAIT_FOR_APPROVAL was stopped by its caller's time limit (ToolTimeoutError: Tool 'TASKS_WAIT_FOR_APPROVAL' timed out after 20ms.); the caller stopped waiting for it, toolmux's own timeout for the tool had not passed.";
    // before, the model read the SDK's "Tool 'TASKS_WAIT_FOR_APPROVAL' timed out after 20ms." while the
    // log read an abort
    expect(toolOutputSeen(model.lastCall, 'call_wait')).toBe(`Error (TOOL_ABORTED): ${limit}`);
    expect(toolOutputSeen(model.lastCall, 'call_create')).toContain('Buy milk');
    expect(sample.calls.map((call) => call.slug).sort()).toEqual([
      'TASKS_CREATE_TASK',
      'TASKS_WAIT_FOR_APPROVAL',
    ]);
    if (mode === 'embedded') {
      expect(await logOf(session, 'TASKS_WAIT_FOR_APPROVAL')).toMatchObject({
        status: 'error',
        errorCode: 'TOOL_ABORTED',
        errorMessage: limit,
        callId: 'call_wait',
      });
    } else {
      // the server sees only the client go away, and logs an abort
      const loggedCode = async () =>
        (await session.logs()).items.find((log) => log.callId === 'call_wait')?.errorCode;
      await expect.poll(loggedCode, untilTestTimeout()).toBe('TOOL_ABORTED');
    }
  });

  it('a number is the limit of every tool, the meta-tools included; a limit the SDK cannot take is refused naming it', async () => {
    const { tools } = await setup({ mode, timeoutMs: 90_000 });
    expect(tools.length).toBeGreaterThan(1);
    expect(tools.map((tool) => [tool.name, tool.timeoutMs])).toEqual(
      tools.map((tool) => [tool.name, 90_000]),
    );
    for (const bad of [0, -5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 31, '30s']) {
      expect(() => new OpenAIAgentsProvider({ timeoutMs: bad as number })).toThrow(
        expect.objectContaining({
          code: 'CONFIG_INVALID',
          message: expect.stringMatching(
            /^OpenAIAgentsProvider: timeoutMs must be a number of milliseconds greater than 0 and at most 2147483647, or a function/,
          ),
        }),
      );
    }
    // when the session's tools are handed out (setup asks for them)
    const badTool = setup({
      mode,
      preset: SessionPreset.DIRECT_TOOLS,
      timeoutMs: (tool) => (tool.slug === 'TASKS_CREATE_TASK' ? 0 : undefined),
    });
    await expect(badTool).rejects.toMatchObject({
      code: 'CONFIG_INVALID',
      message:
        'OpenAIAgentsProvider: timeoutMs returned number 0 for TASKS_CREATE_TASK; it must return a number of milliseconds greater than 0 and at most 2147483647, or undefined for no time limit.',
    });
  });
});

describe.each(modes)('strict: true (%s)', (mode) => {
  it('hands out strict schemas: optional fields required and nullable, additionalProperties false', async () => {
    const { tools, warnings } = await setup({ mode, strict: true, preset: SessionPreset.DIRECT_TOOLS });
    expect(warnings).toEqual([]);
    for (const tool of tools) {
      expect(tool.strict).toBe(true);
      expect(tool.parameters).toMatchObject({ type: 'object', additionalProperties: false });
      expect([...tool.parameters.required].sort()).toEqual(Object.keys(tool.parameters.properties).sort());
    }
    const createTask = tools.find((tool) => tool.name === 'TASKS_CREATE_TASK')!;
    expect(createTask.parameters.properties).toEqual({
      title: { type: 'string', description: 'What needs to be done' },
      priority: {
        type: ['string', 'null'],
        enum: ['low', 'normal', 'high', null],
        description: 'How urgent the task is',
      },
      labels: {
        anyOf: [{ type: 'array', items: { type: 'string' } }, { type: 'null' }],
        description: 'Labels to attach',
      },
    });
  });

  it('accepts null for an optional field and the handler never sees it — direct and through multi-execute', async () => {
    const { sample, tools } = await setup({ mode, strict: true, preload: ['TASKS_CREATE_TASK'] });
    expect(tools.every((tool) => tool.strict)).toBe(true);
    const multiExecute = tools.find((tool) => tool.name === 'TOOLMUX_MULTI_EXECUTE_TOOL')!;
    expect(multiExecute.parameters).toMatchObject({ additionalProperties: false, required: ['tools'] });

    const { model, result } = await runAgent(tools, [
      [
        functionCall(
          'TASKS_CREATE_TASK',
          { title: 'Direct', priority: null, labels: null },
          { callId: 'call_direct' },
        ),
        functionCall(
          'TOOLMUX_MULTI_EXECUTE_TOOL',
          {
            tools: [
              {
                tool_slug: 'TASKS_CREATE_TASK',
                arguments: '{"title":"Nested","priority":null,"labels":["x"]}',
              },
            ],
          },
          { callId: 'call_multi' },
        ),
      ],
      done,
    ]);
    expect(result.finalOutput).toBe('ok');
    expect(sample.calls.map((call) => call.input)).toEqual(
      expect.arrayContaining([{ title: 'Direct' }, { title: 'Nested', labels: ['x'] }]),
    );
    expect(sample.calls).toHaveLength(2);
    expect(toolOutputSeen(model.lastCall, 'call_direct')).toMatch(/"title":"Direct"/);
    expect(JSON.parse(toolOutputSeen(model.lastCall, 'call_multi'))).toMatchObject({ successful_count: 1 });
  });
});

// the test server serves the sample toolkits only: a toolkit of its own needs an embedded ToolMux
describe('strict: true, a tool that cannot be strict', () => {
  it('falls back to strict: false for a tool that cannot be strict, alone, with a warning', async () => {
    const tagger = defineTool({
      slug: 'META_TAG_RECORD',
      description: 'Attach free-form metadata to a record.',
      inputSchema: z.object({ id: z.string(), metadata: z.record(z.string(), z.string()) }),
      execute: (input) => input,
    });
    const extra = defineToolkit({ slug: 'meta', name: 'Meta', description: 'Metadata.', tools: [tagger] });
    const { tools, warnings } = await setup({
      strict: true,
      preset: SessionPreset.DIRECT_TOOLS,
      extraToolkits: [extra],
    });
    const fallback = tools.find((tool) => tool.name === 'META_TAG_RECORD')!;
    expect(fallback.strict).toBe(false);
    expect(fallback.parameters).toMatchObject({
      properties: { metadata: { type: 'object', additionalProperties: { type: 'string' } } },
    });
    expect(tools.filter((tool) => !tool.strict).map((tool) => tool.name)).toEqual(['META_TAG_RECORD']);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/1 tool\(s\) cannot use OpenAI strict mode/);
    expect(warnings[0]).toMatch(/META_TAG_RECORD: .*metadata/);
  });
});

describe.each([false, true])('what OpenAI refuses in any tool schema (strict: %s)', (strict) => {
  it('a pattern with lookaround is left out and described, an array without items gets items: {}', async () => {
    const lister = defineTool({
      slug: 'BAG_PUT',
      description: 'Put values in the bag.',
      inputSchema: {
        type: 'object',
        properties: {
          password: { type: 'string', pattern: '^(?=.*\\d).{8,}$' },
          values: { type: 'array' },
        },
        required: ['password'],
      },
      execute: (input) => input,
    });
    const extra = defineToolkit({ slug: 'bag', name: 'Bag', description: 'A bag.', tools: [lister] });
    const { tools } = await setup({ strict, preset: SessionPreset.DIRECT_TOOLS, extraToolkits: [extra] });
    const tool = tools.find((candidate) => candidate.name === 'BAG_PUT')!;
    expect(tool.strict).toBe(false);
    expect(tool.parameters.properties).toEqual({
      password: { type: 'string', description: 'Must match the regular expression ^(?=.*\\d).{8,}$.' },
      values: { type: 'array', items: {} },
    });
  });
});

describe.each(
  modes.flatMap((mode) =>
    [false, true].flatMap((strict) => [false, true].map((stream) => ({ mode, strict, stream }))),
  ),
)(
  'arguments the SDK cannot parse — answerUnparsedToolArguments() ($mode, strict: $strict, stream: $stream)',
  ({ mode, strict, stream }) => {
    const sdkSentence = 'An error occurred while parsing tool arguments. Please try again with valid JSON.';

    it('runs a call with empty arguments with {}, logged with its call id', async () => {
      const { sample, session, tools } = await setup({ mode, strict, preset: SessionPreset.DIRECT_TOOLS });
      const { model, result } = await runAgent(
        tools,
        [[functionCall('TASKS_LIST_TASKS', '', { callId: 'call_empty' })], done],
        { stream, wrap: answerUnparsedToolArguments },
      );
      expect(result.finalOutput).toBe('ok');
      expect(sample.calls).toMatchObject([
        { slug: 'TASKS_LIST_TASKS', input: {}, context: { callId: 'call_empty' } },
      ]);
      expect(JSON.parse(toolOutputSeen(model.lastCall, 'call_empty'))).toEqual({ tasks: [] });
      expect(await logOf(session, 'TASKS_LIST_TASKS')).toMatchObject({
        status: 'success',
        callId: 'call_empty',
      });
    });

    it('runs a call whose arguments are a JSON object, not text (an OpenAI-compatible server’s), with that object', async () => {
      const { sample, session, tools } = await setup({ mode, strict, preset: SessionPreset.DIRECT_TOOLS });
      // llama.cpp's llama-server sent them so; OpenAIChatCompletionsModel hands them over as they are
      const asObject = (call: ReturnType<typeof functionCall>, args: unknown) =>
        Object.assign(call, { arguments: args as string });
      const { model, result } = await runAgent(
        tools,
        [
          [
            asObject(functionCall('TASKS_CREATE_TASK', '', { callId: 'call_object' }), { title: 'Buy milk' }),
            asObject(functionCall('TASKS_DELETE_TASK', '', { callId: 'call_number' }), 5),
          ],
          done,
        ],
        { stream, wrap: answerUnparsedToolArguments },
      );
      expect(result.finalOutput).toBe('ok');
      expect(sample.calls).toMatchObject([
        { slug: 'TASKS_CREATE_TASK', input: { title: 'Buy milk' }, context: { callId: 'call_object' } },
      ]);
      expect(JSON.parse(toolOutputSeen(model.lastCall, 'call_object'))).toMatchObject({ title: 'Buy milk' });
      expect(toolOutputSeen(model.lastCall, 'call_number')).toMatch(
        /^Error \(TOOL_ARGUMENTS_INVALID\): .*TASKS_DELETE_TASK/,
      );
      expect(await logOf(session, 'TASKS_DELETE_TASK')).toMatchObject({
        callId: 'call_number',
        errorCode: 'TOOL_ARGUMENTS_INVALID',
      });
    });

    it('answers arguments that are not JSON with the session’s TOOL_ARGUMENTS_INVALID, logged', async () => {
      const { sample, session, tools } = await setup({ mode, strict, preset: SessionPreset.DIRECT_TOOLS });
      const broken = '{"title": "unterminated';
      const { model, result } = await runAgent(
        tools,
        [
          [
            functionCall('TASKS_CREATE_TASK', broken, { callId: 'call_broken' }),
            functionCall('TASKS_DELETE_TASK', 'task_1', { callId: 'call_text' }),
          ],
          done,
        ],
        { stream, wrap: answerUnparsedToolArguments },
      );
      expect(result.finalOutput).toBe('ok');
      expect(sample.calls).toEqual([]);
      const { items } = await session.logs();
      const logged = (callId: string) => items.find((item) => item.callId === callId)!;
      expect(logged('call_broken')).toMatchObject({
        toolSlug: 'TASKS_CREATE_TASK',
        errorCode: 'TOOL_ARGUMENTS_INVALID',
      });
      expect(logged('call_broken').errorMessage).toMatch(
        /^The arguments of TASKS_CREATE_TASK are not valid JSON \(Unterminated string in JSON .*\): "\{\\"title\\": \\"unterminated"/,
      );
      expect(logged('call_text')).toMatchObject({
        toolSlug: 'TASKS_DELETE_TASK',
        errorCode: 'TOOL_ARGUMENTS_INVALID',
      });
      expect(logged('call_text').errorMessage).toMatch(
        /^The arguments of TASKS_DELETE_TASK are a string \("task_1"\), not a JSON object/,
      );
      for (const callId of ['call_broken', 'call_text']) {
        const seen = toolOutputSeen(model.lastCall, callId);
        expect(seen).toBe(`Error (TOOL_ARGUMENTS_INVALID): ${logged(callId).errorMessage}`);
        expect(seen).not.toContain(sdkSentence);
      }
    });

    it('leaves the calls of the agent’s other tools to the SDK', async () => {
      const { session, tools } = await setup({ mode, strict, preset: SessionPreset.DIRECT_TOOLS });
      const ownCalls: unknown[] = [];
      // `any`: a JSON Schema, as the provider's own tools (the SDK types its parameters as `unknown`)
      const own: FunctionTool = tool<any>({
        name: 'own_tool',
        description: 'A tool of the application',
        parameters: { type: 'object', properties: {}, required: [], additionalProperties: false },
        strict,
        execute: async (input) => {
          ownCalls.push(input);
          return 'ran';
        },
      });
      const { model } = await runAgent(
        [...tools, own],
        [
          [
            functionCall('own_tool', '', { callId: 'call_own_empty' }),
            functionCall('own_tool', '{"a": ', { callId: 'call_own_broken' }),
          ],
          done,
        ],
        { stream, wrap: answerUnparsedToolArguments },
      );
      expect(ownCalls).toEqual([]);
      expect(toolOutputSeen(model.lastCall, 'call_own_empty')).toBe(sdkSentence);
      expect(toolOutputSeen(model.lastCall, 'call_own_broken')).toBe(sdkSentence);
      expect((await session.logs()).items).toEqual([]);
    });
  },
);

describe('arguments the SDK cannot parse, without answerUnparsedToolArguments()', () => {
  it('the SDK answers them itself and the session never sees the call (its runner parses before any tool)', async () => {
    const { sample, session, tools } = await setup({ preset: SessionPreset.DIRECT_TOOLS });
    const { model } = await runAgent(tools, [
      [
        functionCall('TASKS_LIST_TASKS', '', { callId: 'call_empty' }),
        functionCall('TASKS_CREATE_TASK', '{"title": ', { callId: 'call_broken' }),
      ],
      done,
    ]);
    const sdkSentence = 'An error occurred while parsing tool arguments. Please try again with valid JSON.';
    expect(toolOutputSeen(model.lastCall, 'call_empty')).toBe(sdkSentence);
    expect(toolOutputSeen(model.lastCall, 'call_broken')).toBe(sdkSentence);
    expect(sample.calls).toEqual([]);
    expect((await session.logs()).items).toEqual([]);
  });

  it('answerUnparsedToolArguments() also wraps a ModelProvider, for a Runner that resolves model names', async () => {
    const { sample, session, tools } = await setup({ preset: SessionPreset.DIRECT_TOOLS });
    const model = new ScriptedModel([
      [functionCall('TASKS_LIST_TASKS', '  ', { callId: 'call_blank' })],
      done,
    ]);
    const names: (string | undefined)[] = [];
    const runner = new Runner({
      modelProvider: answerUnparsedToolArguments({
        getModel: (name) => {
          names.push(name);
          return model;
        },
      }),
    });
    const agent = new Agent({ name: 'Assistant', instructions: 'Use the tools.', model: 'my-model', tools });
    const result = await runner.run(agent, 'Please list my tasks.');
    expect(result.finalOutput).toBe('ok');
    expect(names).toContain('my-model');
    expect(sample.calls).toMatchObject([{ slug: 'TASKS_LIST_TASKS', input: {} }]);
    expect(JSON.parse(toolOutputSeen(model.lastCall, 'call_blank'))).toEqual({ tasks: [] });
    expect(await logOf(session, 'TASKS_LIST_TASKS')).toMatchObject({
      status: 'success',
      callId: 'call_blank',
    });
  });
});

describe('errors outside the session', () => {
  it('turns a failure of the SDK input parsing into readable text (errorFunction)', async () => {
    const { tools } = await setup({ preload: ['TASKS_CREATE_TASK'] });
    const createTask = tools.find((tool) => tool.name === 'TASKS_CREATE_TASK')!;
    const output = await createTask.invoke(new RunContext(), '{"title": ', {});
    expect(output).toMatch(/^Error: /);
    expect(output).not.toContain('An error occurred');
  });

  it('a tool name the agent has none of ends the run (the SDK default); with toolNotFoundBehavior: return_error_to_model the model reads that and the run goes on', async () => {
    const { session, tools } = await setup({ preset: SessionPreset.DIRECT_TOOLS });
    const typo = [functionCall('TASKS_CREATE_TASKS', { title: 'Buy milk' }, { callId: 'call_typo' })];

    await expect(runAgent(tools, [typo, done])).rejects.toThrow(
      'Tool TASKS_CREATE_TASKS not found in agent Assistant.',
    );
    const { model, result } = await runAgent(tools, [typo, done], {
      toolNotFoundBehavior: 'return_error_to_model',
    });

    expect(result.finalOutput).toBe('ok');
    expect(toolOutputSeen(model.lastCall, 'call_typo')).toBe("Tool 'TASKS_CREATE_TASKS' not found.");
    // the SDK answers the model itself: the call never reaches the session
    expect((await session.logs()).items).toEqual([]);
  });
});

describe('OpenAIAgentsProvider property keys', () => {
  // the SDK runs other vendors' models too (aisdk() of @openai/agents-extensions, OpenAI-compatible
  // endpoints): one key Anthropic refuses fails every request of a Claude model
  it.each([false, true])(
    'strict: %s — keys a major model API refuses are sent renamed, and a call with those keys runs the tool with its own',
    async (strict) => {
      const received: unknown[] = [];
      const { session } = await samples.session(new OpenAIAgentsProvider({ strict }), {
        preset: SessionPreset.DIRECT_TOOLS,
        customTools: [awkwardKeysTool(received)],
      });
      let schema: unknown;
      const { model, result } = await runAgent(await session.tools(), [
        modelResponder((call) => {
          const sent = call.request.tools.find((tool) => tool.name === 'TASKS_FILTER');
          schema = sent?.type === 'function' ? sent.parameters : undefined;
          const args = argumentsAsShown(schema, AWKWARD_KEY_ARGUMENTS) as Record<string, unknown>;
          return [functionCall('TASKS_FILTER', args, { callId: 'call_filter' })];
        }),
        done,
      ]);

      expect(result.finalOutput).toBe('ok');
      // what the Messages API (and Gemini) take: before, `filter[id]` went out as it is
      expect(portableKeyViolations(schema)).toEqual([]);
      expect(Object.keys((schema as { properties: object }).properties)).toHaveLength(5);
      expect(received).toEqual([AWKWARD_KEY_ARGUMENTS]);
      expect(toolOutputSeen(model.lastCall, 'call_filter')).toBe('{"ok":true}');
      expect(await logOf(session, 'TASKS_FILTER')).toMatchObject({
        status: 'success',
        callId: 'call_filter',
      });
    },
  );

  it("propertyKeys: 'unchanged' hands the keys out as the tool has them; another value is refused", async () => {
    const { session } = await samples.session(new OpenAIAgentsProvider({ propertyKeys: 'unchanged' }), {
      preset: SessionPreset.DIRECT_TOOLS,
      customTools: [awkwardKeysTool([])],
    });
    const filter = (await session.tools()).find((tool) => tool.name === 'TASKS_FILTER')!;
    expect(Object.keys(filter.parameters.properties)).toEqual(Object.keys(AWKWARD_KEY_ARGUMENTS));
    expect(() => new OpenAIAgentsProvider({ propertyKeys: 'keep' as never })).toThrow(/propertyKeys must be/);
  });
});
