import {
  Agent,
  type AgentInputItem,
  type FunctionTool,
  RunContext,
  run,
  setTracingDisabled,
} from '@openai/agents';
import {
  assistantMessage,
  functionCall,
  modelResponder,
  type RecordedModelCall,
  ScriptedModel,
  type ScriptedModelInput,
} from '@openai/agents-core/testing';
import { defineTool, defineToolkit, type ExecutionLog, SessionPreset, ToolMux } from '@toolmux/core';
import { createSampleToolkits } from '@toolmux/core/test';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { OpenAIAgentsProvider } from './openai-agents-provider.js';

setTracingDisabled(true);

const muxes: ToolMux<OpenAIAgentsProvider>[] = [];
afterEach(async () => {
  await Promise.all(muxes.splice(0).map((mux) => mux.close()));
});

/** A ToolMux over the sample toolkits with one session, its tools wrapped by the provider under test. */
async function setup(
  options: {
    preset?: SessionPreset;
    strict?: boolean;
    preload?: string[];
    extraToolkits?: ReturnType<typeof defineToolkit>[];
  } = {},
) {
  const sample = createSampleToolkits();
  const warnings: string[] = [];
  const mux = new ToolMux({
    provider: new OpenAIAgentsProvider({
      strict: options.strict,
      logger: { warn: (message) => warnings.push(message) },
    }),
    toolkits: [...sample.toolkits, ...(options.extraToolkits ?? [])],
    store: ':memory:',
  });
  muxes.push(mux);
  const session = await mux.create('user_1', {
    sessionPreset: options.preset ?? SessionPreset.META_TOOLS,
    preload: { tools: options.preload ?? [] },
  });
  const tools = await session.tools();
  return { sample, mux, session, tools, warnings };
}

/** Runs a real agent loop over `tools` with a scripted model. */
async function runAgent(
  tools: FunctionTool[],
  steps: ScriptedModelInput[],
  options: { signal?: AbortSignal } = {},
) {
  const model = new ScriptedModel(steps);
  const agent = new Agent({ name: 'Assistant', instructions: 'Use the tools.', model, tools });
  const result = await run(agent, 'Please help with my tasks.', options);
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

describe('OpenAIAgentsProvider in the agent loop — META_TOOLS', () => {
  it('searches, then runs the found tool through TOOLMUX_MULTI_EXECUTE_TOOL', async () => {
    const { sample, session, tools } = await setup();
    expect(tools.map((tool) => tool.name).sort()).toEqual([
      'TOOLMUX_GET_TOOL_SCHEMAS',
      'TOOLMUX_MANAGE_CONNECTIONS',
      'TOOLMUX_MULTI_EXECUTE_TOOL',
      'TOOLMUX_SEARCH_TOOLS',
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
    const { sample, session, tools } = await setup({ preload: ['TASKS_CREATE_TASK'] });
    expect(tools.map((tool) => tool.name)).toContain('TASKS_CREATE_TASK');
    expect(tools).toHaveLength(5);
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
    const { sample, session, tools } = await setup();
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

describe('OpenAIAgentsProvider in the agent loop — DIRECT_TOOLS', () => {
  it('exposes every enabled tool and no meta-tool, and runs a tool directly', async () => {
    const { sample, session, tools } = await setup({ preset: SessionPreset.DIRECT_TOOLS });
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

describe.each([
  {
    preset: SessionPreset.META_TOOLS,
    preload: ['TASKS_CREATE_TASK', 'TASKS_SYNC_CALENDAR', 'TASKS_WAIT_FOR_APPROVAL'],
  },
  { preset: SessionPreset.DIRECT_TOOLS, preload: [] },
])('errors and aborts reach the model — $preset', ({ preset, preload }) => {
  it('gives the model the toolmux validation message for invalid arguments and goes on', async () => {
    const { sample, session, tools } = await setup({ preset, preload });
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
    const { session, tools } = await setup({ preset, preload });
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
    const { sample, session, tools } = await setup({ preset, preload });
    const controller = new AbortController();
    const running = runAgent(
      tools,
      [[functionCall('TASKS_WAIT_FOR_APPROVAL', { taskId: 'task_1' }, { callId: 'call_wait' })], done],
      { signal: controller.signal },
    );
    await vi.waitFor(() =>
      expect(sample.calls.map((call) => call.slug)).toEqual(['TASKS_WAIT_FOR_APPROVAL']),
    );
    controller.abort();
    await expect(running).rejects.toMatchObject({ name: 'AbortError' });
    const entry = await vi.waitFor(() => logOf(session, 'TASKS_WAIT_FOR_APPROVAL'));
    expect(entry).toMatchObject({ status: 'error', errorCode: 'TOOL_ABORTED', callId: 'call_wait' });
  });
});

describe('strict: true', () => {
  it('hands out strict schemas: optional fields required and nullable, additionalProperties false', async () => {
    const { tools, warnings } = await setup({ strict: true, preset: SessionPreset.DIRECT_TOOLS });
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
    const { sample, tools } = await setup({ strict: true, preload: ['TASKS_CREATE_TASK'] });
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

describe('errors outside the session', () => {
  it('turns a failure of the SDK input parsing into readable text (errorFunction)', async () => {
    const { tools } = await setup({ preload: ['TASKS_CREATE_TASK'] });
    const createTask = tools.find((tool) => tool.name === 'TASKS_CREATE_TASK')!;
    const output = await createTask.invoke(new RunContext(), '{"title": ', {});
    expect(output).toMatch(/^Error: /);
    expect(output).not.toContain('An error occurred');
  });
});
