import { Agent } from '@mastra/core/agent';
import {
  defineTool,
  defineToolkit,
  SessionPreset,
  ToolMux,
  type ToolResult,
  uniqueNameWithin,
} from '@toolmux/core';
import {
  AWKWARD_KEY_ARGUMENTS,
  argumentsAsShown,
  awkwardKeysTool,
  expectCellOutputs,
  portableKeyViolations,
  stockLookupTool,
  untilTestTimeout,
  workbenchCellCalls,
} from '@toolmux/core/test';
import { type SampleSessionOptions, sampleModes, TOOLMUX_MODES } from '@toolmux/server/test';
import { MockLanguageModelV4 } from 'ai/test';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { MastraProvider, type MastraToolSet } from './index.js';

type CallOptions = Parameters<MockLanguageModelV4['doGenerate']>[0];
/**
 * Mastra's types name the `@ai-sdk/provider` release it bundles; `ai/test`'s mock implements the same
 * LanguageModelV4 specification from a later release, which TypeScript sees as a different type.
 */
type AgentModel = ConstructorParameters<typeof Agent>[0]['model'];
type GenerateResult = Awaited<ReturnType<MockLanguageModelV4['doGenerate']>>;
/** A tool call the scripted model makes; `rawInput` sends text that is not JSON-encoded `input`. */
type ToolCall = { toolName: string; input?: unknown; rawInput?: string; toolCallId?: string };

const usage: GenerateResult['usage'] = {
  inputTokens: { total: 10, noCache: 10, cacheRead: undefined, cacheWrite: undefined },
  outputTokens: { total: 5, text: 5, reasoning: undefined },
};

/**
 * A model that plays a script inside Mastra's own agent loop (Mastra takes AI SDK language models):
 * each step sees the prompt and tools Mastra sent and answers with tool calls; after the script it
 * answers "done". Every call's options are kept in `calls`.
 */
function scriptedModel(steps: Array<(options: CallOptions) => ToolCall[]>) {
  const calls: CallOptions[] = [];
  const model = new MockLanguageModelV4({
    doGenerate: async (options) => {
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
    },
  });
  return { model, calls };
}

function agentWith(model: MockLanguageModelV4, tools: MastraToolSet) {
  return new Agent({
    id: 'assistant',
    name: 'Assistant',
    instructions: 'Use the tools.',
    model: model as AgentModel,
    tools,
  });
}

/** The outputs the model received for the tool results in the last message of a prompt. */
function lastToolOutputs(options: CallOptions | undefined) {
  const last = options?.prompt.at(-1);
  return last?.role === 'tool'
    ? last.content.flatMap((part) => (part.type === 'tool-result' ? [part.output] : []))
    : [];
}

/** The text the model received for each tool result in the last message of a prompt. */
function toolResultTexts(options: CallOptions | undefined): string[] {
  return lastToolOutputs(options).flatMap((output) =>
    output.type === 'text' || output.type === 'error-text' ? [output.value] : [],
  );
}

const silent = { debug() {}, warn() {}, error() {} };

/**
 * The agent-loop tests run twice: on an embedded ToolMux, and on a remote-mode ToolMux talking to a
 * live toolmux server in this process, so the handlers of its sample toolkits still record their
 * calls in `calls`.
 */
const samples = sampleModes({ toolkits: ['tasks', 'notes'] }, { beforeAll, afterEach, afterAll });
const modes = TOOLMUX_MODES;

/** A session over the sample toolkits (tasks and notes enabled) and its tools as Mastra tools. */
const setUp = ({ strict = false, ...options }: SampleSessionOptions & { strict?: boolean } = {}) =>
  samples.session(new MastraProvider({ strict }), options);

const presets = [SessionPreset.META_TOOLS, SessionPreset.DIRECT_TOOLS] as const;
/** Tools called directly in the preset-independent tests (preloaded under META_TOOLS). */
const directTools = ['TASKS_CREATE_TASK', 'TASKS_SYNC_CALENDAR', 'TASKS_WAIT_FOR_APPROVAL'];

describe.each(modes)('MastraProvider in the Mastra Agent loop (%s)', (mode) => {
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
        {
          toolName: 'TOOLMUX_SEARCH_TOOLS',
          toolCallId: 'call_search',
          input: { queries: [{ use_case: 'create a new to-do task' }] },
        },
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

    const result = await agentWith(script.model, tools).generate('Remind me to buy milk', { maxSteps: 5 });

    expect(result.text).toBe('done');
    expect(foundSlug).toBe('TASKS_CREATE_TASK');
    expect(calls).toEqual([
      expect.objectContaining({ slug: 'TASKS_CREATE_TASK', input: { title: 'Buy milk', priority: 'high' } }),
    ]);
    expect(calls[0]!.context.callId).toBe('call_multi#0');
    // the handler's result is what the model reads next
    expect(JSON.parse(toolResultTexts(script.calls[2])[0]!)).toMatchObject({
      successful_count: 1,
      results: [
        { tool_slug: 'TASKS_CREATE_TASK', successful: true, data: { id: 'task_1', title: 'Buy milk' } },
      ],
    });
    // the application still gets the whole ToolResult (with its log id) from the run
    const multi = result.toolResults.find((entry) => entry.payload.toolName === 'TOOLMUX_MULTI_EXECUTE_TOOL');
    expect(multi?.payload.result).toMatchObject({ successful: true, logId: expect.stringMatching(/^log_/) });
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
    expect(logs.get('TOOLMUX_SEARCH_TOOLS')).toMatchObject({ status: 'success', callId: 'call_search' });
    expect(logs.get('TOOLMUX_MULTI_EXECUTE_TOOL')).toMatchObject({ status: 'success', callId: 'call_multi' });
    expect(logs.get('TOOLMUX_MULTI_EXECUTE_TOOL')!.id).toBe((multi!.payload.result as ToolResult).logId);
  });

  it('META_TOOLS: a preloaded tool is exposed beside the meta-tools and called directly', async () => {
    const { tools, calls, session } = await setUp({ mode, preload: ['TASKS_CREATE_TASK'] });
    expect(Object.keys(tools)).toContain('TASKS_CREATE_TASK');
    expect(Object.keys(tools)).not.toContain('TASKS_LIST_TASKS');
    const script = scriptedModel([
      () => [{ toolName: 'TASKS_CREATE_TASK', toolCallId: 'call_direct', input: { title: 'Call mom' } }],
    ]);

    await agentWith(script.model, tools).generate('Remind me to call mom', { maxSteps: 3 });

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

    await agentWith(script.model, tools).generate('Add a task, then list them', { maxSteps: 5 });

    expect(calls.map((call) => [call.slug, call.input])).toEqual([
      ['TASKS_CREATE_TASK', { title: 'Water plants', labels: ['home'] }],
      ['TASKS_LIST_TASKS', { openOnly: true }],
    ]);
    expect(JSON.parse(toolResultTexts(script.calls[2])[0]!)).toEqual({
      tasks: [{ id: 'task_1', title: 'Water plants', done: false }],
    });
    expect((await session.logs()).items.map((log) => `${log.toolSlug} ${log.callId}`).sort()).toEqual([
      'TASKS_CREATE_TASK call_1_0',
      'TASKS_LIST_TASKS call_2_0',
    ]);
  });

  it('a TOOLMUX_WORKBENCH cell that threw or reached a limit is an error-text output holding its answer; one that succeeded is text', async () => {
    const { tools } = await setUp({ mode, preload: directTools });
    const script = scriptedModel([
      // and a tool that fails (call_failed): error-text as before
      () =>
        workbenchCellCalls('input', 'call_failed').map(({ id, name, input }) => ({
          toolCallId: id,
          toolName: name,
          input,
        })),
    ]);
    await agentWith(script.model, tools).generate('Work it out with code', { maxSteps: 3 });
    const prompt = script.calls[1]!.prompt.at(-1)!;
    const outputs = Object.fromEntries(
      prompt.role === 'tool'
        ? prompt.content.flatMap((part) =>
            part.type === 'tool-result' ? [[part.toolCallId, part.output]] : [],
          )
        : [],
    );
    expectCellOutputs(outputs, 'call_failed');
  });

  describe.each(presets)('%s', (preset) => {
    it('invalid arguments and a throwing tool reach the model as readable errors, and the loop goes on', async () => {
      const { tools, calls } = await setUp({ mode, preset, preload: directTools });
      const script = scriptedModel([
        () => [{ toolName: 'TASKS_CREATE_TASK', input: { title: '', priority: 'urgent' } }],
        () => [{ toolName: 'TASKS_SYNC_CALENDAR', input: { calendarId: 'work' } }],
        () => [{ toolName: 'TASKS_CREATE_TASK', input: { title: 'Fixed title' } }],
      ]);

      const result = await agentWith(script.model, tools).generate('Add a task', { maxSteps: 6 });

      // Mastra's own input validation lets the call through: toolmux validates it, once, and names each field
      const [invalid] = lastToolOutputs(script.calls[1]);
      expect(invalid).toEqual({
        type: 'error-text',
        value: expect.stringMatching(
          /^Error \(TOOL_ARGUMENTS_INVALID\): Invalid arguments for TASKS_CREATE_TASK: title: .*priority/,
        ),
      });
      const [thrown] = lastToolOutputs(script.calls[2]);
      expect(thrown).toEqual({
        type: 'error-text',
        value: 'Error (TOOL_EXECUTION_FAILED): TASKS_SYNC_CALENDAR failed: calendar work is unreachable',
      });
      // the model read the errors, corrected itself, and the loop finished normally
      expect(script.calls).toHaveLength(4);
      expect(result.text).toBe('done');
      expect(calls.map((call) => call.slug)).toEqual(['TASKS_SYNC_CALENDAR', 'TASKS_CREATE_TASK']);
      expect(result.steps[0]!.toolResults[0]!.payload.result).toMatchObject({
        successful: false,
        code: 'TOOL_ARGUMENTS_INVALID',
      });
    });

    it('an abort from the agent run stops the running tool and the log says TOOL_ABORTED', async () => {
      const { tools, calls, session } = await setUp({ mode, preset, preload: directTools });
      const script = scriptedModel([
        () => [{ toolName: 'TASKS_WAIT_FOR_APPROVAL', toolCallId: 'call_wait', input: { taskId: 'task_9' } }],
      ]);
      const controller = new AbortController();
      const answered: ToolResult[] = [];
      const running = agentWith(script.model, tools).generate('Wait for approval', {
        maxSteps: 3,
        abortSignal: controller.signal,
        onStepFinish: (step) => {
          for (const entry of step.toolResults) answered.push(entry.payload.result as ToolResult);
        },
      });
      await vi.waitFor(
        () => expect(calls.map((call) => call.slug)).toEqual(['TASKS_WAIT_FOR_APPROVAL']),
        untilTestTimeout(),
      );
      controller.abort();

      // Mastra ends the run without throwing and without asking the model again
      await running;
      expect(script.calls).toHaveLength(1);
      // the tool did not throw: it answered the loop with a TOOL_ABORTED result
      expect(answered).toEqual([
        expect.objectContaining({ successful: false, data: null, code: 'TOOL_ABORTED' }),
      ]);
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
      // embedded, the answer carries the log entry's id; remote, the client gave up on the request first
      expect(answered[0]!.logId).toBe(mode === 'embedded' ? log.id : '');
    });
  });
});
describe('MastraProvider in the Mastra Agent loop, remote mode with a custom tool', () => {
  it('the server searches the custom tool; one TOOLMUX_MULTI_EXECUTE_TOOL runs it here and a sample tool on the server', async () => {
    const { tool: lookup, ran } = stockLookupTool();
    const { tools, session, calls } = await setUp({
      mode: 'remote',
      toolkits: ['tasks', 'shop'],
      customTools: [lookup],
    });
    const script = scriptedModel([
      () => [
        {
          toolName: 'TOOLMUX_MULTI_EXECUTE_TOOL',
          toolCallId: 'call_multi',
          input: {
            tools: [
              { tool_slug: 'SHOP_LOOKUP_STOCK', arguments: { sku: 'B-200' } },
              { tool_slug: 'TASKS_CREATE_TASK', arguments: { title: 'Restock B-200' } },
            ],
          },
        },
      ],
    ]);

    const result = await agentWith(script.model, tools).generate('How many B-200 are left?', { maxSteps: 3 });

    expect(result.text).toBe('done');
    expect(ran).toEqual([{ sku: 'B-200', sessionId: session.sessionId, callId: 'call_multi#0' }]);
    expect(calls).toEqual([
      expect.objectContaining({
        slug: 'TASKS_CREATE_TASK',
        context: expect.objectContaining({ callId: 'call_multi#1' }),
      }),
    ]);
    expect(JSON.parse(toolResultTexts(script.calls[1])[0]!)).toMatchObject({
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

describe('MastraProvider schemas', () => {
  it('hands the model each schema exactly as core shaped it, with strict: false (no Mastra compat rewrite)', async () => {
    const { tools, session } = await setUp({ preset: SessionPreset.DIRECT_TOOLS });
    const script = scriptedModel([]);
    await agentWith(script.model, tools).generate('hi');
    const sent = script.calls[0]!.tools!.find((tool) => tool.name === 'TASKS_CREATE_TASK');
    expect(sent).toMatchObject({ type: 'function', strict: false });
    expect(sent?.type === 'function' && sent.inputSchema).toEqual({
      type: 'object',
      properties: {
        title: { type: 'string', minLength: 1, description: 'What needs to be done' },
        priority: { description: 'How urgent the task is', type: 'string', enum: ['low', 'normal', 'high'] },
        labels: { description: 'Labels to attach', type: 'array', items: { type: 'string' } },
      },
      required: ['title'],
    });
    // a copy: changing what Mastra got cannot reach the session
    const schema = tools.TASKS_CREATE_TASK!.inputSchema!['~standard'].jsonSchema.input({
      target: 'draft-07',
    }) as { properties: Record<string, unknown> };
    schema.properties.title = { type: 'number' };
    const found = await session.search({ query: 'create a task' });
    expect(
      found.results[0]!.tools.find((tool) => tool.tool_slug === 'TASKS_CREATE_TASK')?.input_schema,
    ).toMatchObject({ properties: { title: { type: 'string' } } });
  });

  it('arguments that are not JSON reach the session as {} and the model reads which field is missing', async () => {
    const { tools, calls, session } = await setUp({ preset: SessionPreset.DIRECT_TOOLS });
    const script = scriptedModel([() => [{ toolName: 'TASKS_CREATE_TASK', rawInput: '{"title": "Buy' }]]);
    const result = await agentWith(script.model, tools).generate('Add a task', { maxSteps: 3 });
    expect(result.text).toBe('done');
    expect(calls).toEqual([]);
    expect(lastToolOutputs(script.calls[1])).toEqual([
      {
        type: 'error-text',
        value: expect.stringMatching(
          /^Error \(TOOL_ARGUMENTS_INVALID\): Invalid arguments for TASKS_CREATE_TASK: title/,
        ),
      },
    ]);
    expect((await session.logs()).items).toEqual([
      expect.objectContaining({ status: 'error', errorCode: 'TOOL_ARGUMENTS_INVALID', callId: 'call_1_0' }),
    ]);
  });

  describe.each(modes)('strict: true (%s)', (mode) => {
    it('hands out strict-shaped schemas with strict: true, and null for an optional field means absent', async () => {
      const { tools, calls } = await setUp({ mode, strict: true, preload: ['TASKS_CREATE_TASK'] });
      const script = scriptedModel([
        () => [
          { toolName: 'TASKS_CREATE_TASK', input: { title: 'Strict task', priority: null, labels: null } },
        ],
      ]);
      await agentWith(script.model, tools).generate('Add a task', { maxSteps: 3 });
      const sent = new Map(script.calls[0]!.tools!.map((tool) => [tool.name, tool]));
      expect(sent.size).toBe(6);
      for (const tool of sent.values()) {
        expect(tool).toMatchObject({
          type: 'function',
          strict: true,
          inputSchema: { type: 'object', additionalProperties: false },
        });
      }
      const createTask = sent.get('TASKS_CREATE_TASK');
      expect(createTask?.type === 'function' && createTask.inputSchema).toMatchObject({
        required: ['title', 'priority', 'labels'],
      });
      expect(calls.map((call) => [call.slug, call.input])).toEqual([
        ['TASKS_CREATE_TASK', { title: 'Strict task' }],
      ]);
      expect(toolResultTexts(script.calls[1])).toEqual(['{"id":"task_1","title":"Strict task"}']);
    });
  });

  it('a tool that cannot be strict is handed out non-strict with one warning', async () => {
    const lookup = defineTool({
      slug: 'META_TAG_LOOKUP',
      description: 'Look up values by free-form tags.',
      inputSchema: z.object({ tags: z.record(z.string(), z.string()).describe('Any tags') }),
      execute: async (input) => ({ count: Object.keys(input.tags).length }),
    });
    const warn = vi.fn();
    const provider = new MastraProvider({ strict: true, logger: { warn } });
    const meta = defineToolkit({ slug: 'meta', name: 'Meta', description: 'Tags', tools: [lookup] });
    const mux = new ToolMux({ provider, toolkits: [meta], store: ':memory:', logger: silent });
    samples.track(mux);
    const first = await mux.create('user_1', { toolkits: ['meta'], preload: { tools: ['META_TAG_LOOKUP'] } });
    const second = await mux.create('user_2', {
      toolkits: ['meta'],
      sessionPreset: SessionPreset.DIRECT_TOOLS,
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
    await agentWith(script.model, tools).generate('Count tags', { maxSteps: 3 });
    expect(script.calls[0]!.tools!.find((tool) => tool.name === 'META_TAG_LOOKUP')).toMatchObject({
      strict: false,
      inputSchema: { properties: { tags: { additionalProperties: { type: 'string' } } } },
    });
    expect(toolResultTexts(script.calls[1])).toEqual(['{"count":2}']);
  });
});

describe('MastraProvider tool names', () => {
  /** A DIRECT_TOOLS session of tools with these slugs, each returning the end of its slug. */
  async function longToolsSession(slugs: string[]) {
    const ran: string[] = [];
    const long = defineToolkit({
      slug: 'long',
      name: 'Long',
      description: 'Tools with long names',
      tools: slugs.map((slug) =>
        defineTool({
          slug,
          description: `The tool ${slug.slice(-2)}`,
          inputSchema: z.object({}),
          execute: async () => {
            ran.push(slug);
            return { ran: slug.slice(-2) };
          },
        }),
      ),
    });
    const mux = new ToolMux({
      provider: new MastraProvider(),
      toolkits: [long],
      store: ':memory:',
      logger: silent,
    });
    samples.track(mux);
    const session = await mux.create('user_1', {
      toolkits: ['long'],
      sessionPreset: SessionPreset.DIRECT_TOOLS,
    });
    const tools = await session.tools();
    const names = Object.keys(tools);
    const nameOf = (slug: string) => names.find((name) => tools[name]!.id === slug)!;
    return { session, tools, names, nameOf, ran };
  }

  /**
   * Every name fits and is its own (one per slug), and one model turn that calls every tool by its name
   * in Mastra's agent loop runs each slug's own tool once, logged under the slug with its call id.
   */
  async function expectEachRunsItsOwn(slugs: string[]) {
    const { session, tools, names, nameOf, ran } = await longToolsSession(slugs);
    expect(names.filter((name) => name.length > 63)).toEqual([]);
    expect(new Set(names).size).toBe(slugs.length);
    expect(
      Object.values(tools)
        .map((tool) => tool.id)
        .sort(),
    ).toEqual([...slugs].sort());
    const script = scriptedModel([
      () => slugs.map((slug, index) => ({ toolName: nameOf(slug), toolCallId: `call_${index}`, input: {} })),
    ]);

    // Mastra would throw AGENT_TOOL_NAME_COLLISION if two names collided after its own shortening
    await agentWith(script.model, tools).generate('Run them all', { maxSteps: 3 });

    expect(script.calls[0]!.tools!.map((tool) => tool.name).sort()).toEqual([...names].sort());
    expect(ran.sort()).toEqual([...slugs].sort());
    expect(toolResultTexts(script.calls[1]).sort()).toEqual(
      slugs.map((slug) => JSON.stringify({ ran: slug.slice(-2) })).sort(),
    );
    expect((await session.logs()).items.map((log) => `${log.toolSlug} ${log.callId}`).sort()).toEqual(
      slugs.map((slug, index) => `${slug} call_${index}`).sort(),
    );
    return nameOf;
  }

  const stem = `LONG_${'X'.repeat(57)}`; // 62 characters

  it('slugs longer than the 63 characters Mastra accepts get unique names, and each runs its own tool', async () => {
    const slugs = [`${stem}_A`, `${stem}_B`, `${stem}AB`]; // 64, 64 and 64: the first two share 63
    const nameOf = await expectEachRunsItsOwn(slugs);
    // a long slug keeps the name it has always had where it is free: its first 63 characters
    expect(nameOf(`${stem}_A`)).toBe(`${stem}_`);
    expect(nameOf(`${stem}AB`)).toBe(`${stem}A`);
    // where those are taken, the name is made as toolmux shortens generated slugs
    expect(nameOf(`${stem}_B`)).toBe(uniqueNameWithin(`${stem}_`, 63, new Set([`${stem}_`])));
  });

  it('a tool whose slug is the name a long slug would get: that one takes the next name, each runs its own tool', async () => {
    const { nameOf } = await longToolsSession([`${stem}_A`, `${stem}_B`]);
    const shortened = nameOf(`${stem}_B`);
    expect(shortened).toHaveLength(63);
    const slugs = [`${stem}_A`, `${stem}_B`, shortened];
    const next = await expectEachRunsItsOwn(slugs);
    expect(next(shortened)).toBe(shortened);
    expect(next(`${stem}_B`)).not.toBe(shortened);
  });
});

describe('MastraProvider property keys', () => {
  /**
   * One agent run over `TASKS_FILTER` (see `awkwardKeysTool`): the model calls it with the keys it was
   * shown for the tool's keys. What the model was sent of the tool, and what the tool got.
   */
  async function filterRun(provider: MastraProvider) {
    const received: unknown[] = [];
    const { tools } = await samples.session(provider, {
      preset: SessionPreset.DIRECT_TOOLS,
      customTools: [awkwardKeysTool(received)],
    });
    let schema: { properties: object } | undefined;
    const script = scriptedModel([
      (options) => {
        const sent = options.tools?.find((tool) => tool.name === 'TASKS_FILTER');
        schema = sent?.type === 'function' ? (sent.inputSchema as typeof schema) : undefined;
        return [{ toolName: 'TASKS_FILTER', input: argumentsAsShown(schema, AWKWARD_KEY_ARGUMENTS) }];
      },
    ]);
    await agentWith(script.model, tools).generate('Filter', { maxSteps: 3 });
    return { schema: schema!, received, answers: toolResultTexts(script.calls[1]) };
  }

  it.each([false, true])(
    'strict: %s — keys a major model API refuses reach the model renamed, and a call with those keys runs the tool with its own',
    async (strict) => {
      const { schema, received, answers } = await filterRun(new MastraProvider({ strict }));
      // what Mastra hands the model (Anthropic's API refused `filter[id]`, failing every request)
      expect(portableKeyViolations(schema)).toEqual([]);
      expect(Object.keys(schema.properties)).toHaveLength(5);
      expect(received).toEqual([AWKWARD_KEY_ARGUMENTS]);
      expect(answers).toEqual(['{"ok":true}']);
    },
  );

  it("propertyKeys: 'unchanged' hands the keys out as the tool has them; another value is refused", async () => {
    const { schema, received } = await filterRun(new MastraProvider({ propertyKeys: 'unchanged' }));
    expect(Object.keys(schema.properties)).toEqual(Object.keys(AWKWARD_KEY_ARGUMENTS));
    expect(received).toEqual([AWKWARD_KEY_ARGUMENTS]);
    expect(() => new MastraProvider({ propertyKeys: 'keep' as never })).toThrow(
      /MastraProvider.*propertyKeys must be 'portable'.*or 'unchanged'.*"keep"/,
    );
  });
});
