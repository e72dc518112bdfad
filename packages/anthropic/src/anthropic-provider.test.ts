import Anthropic from '@anthropic-ai/sdk';
import { type Session, SessionPreset, ToolMux } from '@toolmux/core';
import {
  hardSchemaCall,
  hardSchemaToolkit,
  type ScriptedModelServer,
  type ScriptedRequest,
  startScriptedModelServer,
} from '@toolmux/core/test';
import { sampleModes, TOOLMUX_MODES } from '@toolmux/server/test';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { AnthropicProvider } from './index.js';

/** A `tool_use` block the scripted model sends. */
type ScriptedCall = { id: string; name: string; input: unknown };
/** One step of the script: sees the request the SDK sent and answers with tool calls (none: "done"). */
type Step = (request: ScriptedRequest) => ScriptedCall[];

/** A Messages API response in Anthropic's wire format. */
function reply(calls: ScriptedCall[], index: number) {
  return {
    id: `msg_${index}`,
    type: 'message',
    role: 'assistant',
    model: 'claude-test',
    content:
      calls.length > 0
        ? [{ type: 'text', text: 'Let me do that.' }, ...calls.map((call) => ({ type: 'tool_use', ...call }))]
        : [{ type: 'text', text: 'done' }],
    stop_reason: calls.length > 0 ? 'tool_use' : 'end_turn',
    stop_sequence: null,
    usage: { input_tokens: 1, output_tokens: 1 },
  };
}

/** The `tool_result` blocks of the request's last message (what the SDK sent back), by tool_use id. */
function resultsOf(model: ScriptedModelServer, request: number) {
  const messages = model.requests[request]!.body.messages as Array<{ role: string; content: unknown }>;
  const last = messages.at(-1)!;
  expect(last.role).toBe('user');
  return Object.fromEntries(
    (last.content as Array<{ type: string; tool_use_id: string; content: string; is_error?: boolean }>).map(
      (block) => {
        expect(block.type).toBe('tool_result');
        return [block.tool_use_id, { text: block.content, isError: block.is_error === true }];
      },
    ),
  );
}

/** The agent loop of the Anthropic SDK's documentation, with toolmux running the tool calls. */
async function loop(
  client: Anthropic,
  session: Session<Anthropic.Tool[], Anthropic.Message, any>,
  tools: Anthropic.Tool[],
  signal?: AbortSignal,
) {
  const messages: Anthropic.MessageParam[] = [{ role: 'user', content: 'Help me with my tasks' }];
  for (let step = 0; step < 6; step++) {
    const message = await client.messages.create({ model: 'claude-test', max_tokens: 1024, messages, tools });
    messages.push({ role: 'assistant', content: message.content });
    if (message.stop_reason !== 'tool_use') {
      return message.content.flatMap((block) => (block.type === 'text' ? [block.text] : [])).join('');
    }
    messages.push(await session.handleToolCalls(message, { signal }));
  }
  throw new Error('the loop did not end');
}

const silent = { debug() {}, warn() {}, error() {} };
const modes = TOOLMUX_MODES;

const samples = sampleModes({}, { beforeAll, afterEach, afterAll });

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  await Promise.all(cleanups.splice(0).map((cleanup) => cleanup()));
});

/** A scripted model server and the real Anthropic client pointed at it. */
async function scriptedClient(steps: Step[]) {
  const model = await startScriptedModelServer([
    ...steps.map((step, index) => (request: ScriptedRequest) => reply(step(request), index)),
    () => reply([], steps.length),
  ]);
  cleanups.push(() => model.close());
  return { model, client: new Anthropic({ apiKey: 'sk-ant-test', baseURL: model.url, maxRetries: 0 }) };
}

async function setUp(steps: Step[], options: { mode?: (typeof modes)[number]; preset?: SessionPreset } = {}) {
  const provider = new AnthropicProvider();
  const { session, tools, ...sample } = await samples.session(provider, {
    mode: options.mode,
    preset: options.preset,
    toolkits: ['tasks', 'notes'],
  });
  const { model, client } = await scriptedClient(steps);
  return {
    ...sample,
    session,
    tools,
    model,
    run: (signal?: AbortSignal) => loop(client, session, tools, signal),
  };
}

describe('AnthropicProvider with the real @anthropic-ai/sdk client', () => {
  it.each(modes)(
    'META_TOOLS (%s): the model searches, then runs what it found through TOOLMUX_MULTI_EXECUTE_TOOL',
    async (mode) => {
      let found: string | undefined;
      const { model, run, tools, calls, session } = await setUp(
        [
          () => [
            {
              id: 'toolu_search',
              name: 'TOOLMUX_SEARCH_TOOLS',
              input: { queries: [{ use_case: 'create a to-do task' }] },
            },
          ],
          (request) => {
            const last = request.body.messages.at(-1).content[0];
            found = JSON.parse(last.content).results[0].tools[0].tool_slug;
            return [
              {
                id: 'toolu_multi',
                name: 'TOOLMUX_MULTI_EXECUTE_TOOL',
                input: { tools: [{ tool_slug: found, arguments: { title: 'Buy milk', priority: 'high' } }] },
              },
            ];
          },
        ],
        { mode },
      );
      expect(await run()).toBe('done');
      const sent = model.requests[0]!;
      expect(sent.url).toBe('/v1/messages');
      expect(sent.body.tools).toEqual(JSON.parse(JSON.stringify(tools)));
      expect(sent.body.tools.map((tool: Anthropic.Tool) => tool.name).sort()).toEqual([
        'TOOLMUX_GET_TOOL_SCHEMAS',
        'TOOLMUX_MANAGE_CONNECTIONS',
        'TOOLMUX_MULTI_EXECUTE_TOOL',
        'TOOLMUX_SEARCH_TOOLS',
        'TOOLMUX_WORKBENCH',
      ]);
      expect(sent.body.tools[0]).toEqual({
        name: tools[0]!.name,
        description: expect.any(String),
        input_schema: expect.objectContaining({ type: 'object' }),
      });
      expect(found).toBe('TASKS_CREATE_TASK');
      expect(calls).toEqual([
        expect.objectContaining({
          slug: 'TASKS_CREATE_TASK',
          input: { title: 'Buy milk', priority: 'high' },
        }),
      ]);
      expect(calls[0]!.context.callId).toBe('toolu_multi#0');
      expect(Object.keys(resultsOf(model, 1))).toEqual(['toolu_search']);
      const multi = resultsOf(model, 2).toolu_multi!;
      expect(multi.isError).toBe(false);
      expect(JSON.parse(multi.text)).toMatchObject({
        successful_count: 1,
        results: [
          { tool_slug: 'TASKS_CREATE_TASK', successful: true, data: { id: 'task_1', title: 'Buy milk' } },
        ],
      });
      const logged = (await session.logs()).items.map((entry) => [entry.toolSlug, entry.callId]);
      expect(logged).toEqual(
        expect.arrayContaining([
          ['TOOLMUX_SEARCH_TOOLS', 'toolu_search'],
          ['TOOLMUX_MULTI_EXECUTE_TOOL', 'toolu_multi'],
          ['TASKS_CREATE_TASK', 'toolu_multi#0'],
        ]),
      );
    },
  );

  it('DIRECT_TOOLS: parallel tool_use blocks; failures are tool_result blocks with is_error the model reads', async () => {
    const { model, run, calls } = await setUp(
      [
        () => [
          { id: 'toolu_a', name: 'TASKS_CREATE_TASK', input: { title: 'A' } },
          { id: 'toolu_b', name: 'TASKS_SYNC_CALENDAR', input: { calendarId: 'work' } },
          { id: 'toolu_c', name: 'GITHUB_DELETE_REPO', input: {} },
          { id: 'toolu_d', name: 'TASKS_CREATE_TASK', input: { priority: 'urgent' } },
        ],
      ],
      { preset: SessionPreset.DIRECT_TOOLS },
    );
    expect(await run()).toBe('done');
    const results = resultsOf(model, 1);
    expect(Object.keys(results)).toEqual(['toolu_a', 'toolu_b', 'toolu_c', 'toolu_d']);
    expect(results.toolu_a).toEqual({ text: JSON.stringify({ id: 'task_1', title: 'A' }), isError: false });
    expect(results.toolu_b).toEqual({
      text: expect.stringMatching(/^Error \(TOOL_EXECUTION_FAILED\): .*calendar work is unreachable/),
      isError: true,
    });
    expect(results.toolu_c).toEqual({
      text: expect.stringMatching(/^Error \(TOOL_NOT_FOUND\): .*GITHUB_DELETE_REPO/),
      isError: true,
    });
    expect(results.toolu_d).toEqual({
      text: expect.stringMatching(/^Error \(TOOL_ARGUMENTS_INVALID\): .*title/),
      isError: true,
    });
    expect(calls.map((call) => [call.slug, call.context.callId])).toEqual([
      ['TASKS_CREATE_TASK', 'toolu_a'],
      ['TASKS_SYNC_CALENDAR', 'toolu_b'],
    ]);
  });

  it('passes the abort signal: an aborted call is an is_error result, logged with its tool_use id', async () => {
    const { model, run, calls, session } = await setUp(
      [
        () => [
          { id: 'toolu_wait', name: 'TASKS_WAIT_FOR_APPROVAL', input: { taskId: 't1' } },
          { id: 'toolu_list', name: 'TASKS_LIST_TASKS', input: {} },
        ],
      ],
      { preset: SessionPreset.DIRECT_TOOLS },
    );
    const controller = new AbortController();
    const finished = run(controller.signal);
    await vi.waitFor(() => expect(calls.map((call) => call.slug)).toContain('TASKS_WAIT_FOR_APPROVAL'));
    controller.abort();
    expect(await finished).toBe('done');
    const results = resultsOf(model, 1);
    expect(results.toolu_wait).toEqual({
      text: expect.stringMatching(/^Error \(TOOL_ABORTED\)/),
      isError: true,
    });
    expect(results.toolu_list).toEqual({ text: '{"tasks":[]}', isError: false });
    const logged = (await session.logs()).items.map((entry) => [
      entry.toolSlug,
      entry.callId,
      entry.errorCode,
    ]);
    expect(logged).toEqual(
      expect.arrayContaining([
        ['TASKS_WAIT_FOR_APPROVAL', 'toolu_wait', 'TOOL_ABORTED'],
        ['TASKS_LIST_TASKS', 'toolu_list', null],
      ]),
    );
  });
});

describe.each([false, true])('hard schemas (hardSchemaCases), strict: %s', (strict) => {
  it('are sent as shaped (strict where possible, alone otherwise), and their arguments reach each handler', async () => {
    const { toolkit, cases, received } = hardSchemaToolkit();
    const warnings: string[] = [];
    const provider = new AnthropicProvider({ strict, logger: { warn: (message) => warnings.push(message) } });
    const mux = new ToolMux({ provider, toolkits: [toolkit], store: ':memory:', logger: silent });
    const session = await mux.create('user_1', { sessionPreset: SessionPreset.DIRECT_TOOLS });
    const tools = await session.tools();
    const { model, client } = await scriptedClient([
      () =>
        cases.map((entry, index) => ({
          id: `toolu_${index}`,
          name: entry.slug,
          input: hardSchemaCall(entry, strict && entry.strict).args,
        })),
    ]);
    expect(await loop(client, session, tools)).toBe('done');
    const sent = model.requests[0]!.body.tools as Anthropic.Tool[];
    for (const entry of cases) {
      const tool = sent.find((candidate) => candidate.name === entry.slug)!;
      expect(tool.strict, entry.slug).toBe(strict && entry.strict ? true : undefined);
      if (strict && entry.strict) expect(tool.input_schema.additionalProperties).toBe(false);
      expect(received.get(entry.slug)).toEqual([hardSchemaCall(entry, strict && entry.strict).received]);
    }
    expect(Object.values(resultsOf(model, 1)).every((result) => !result.isError)).toBe(true);
    if (strict)
      expect(warnings).toEqual([
        expect.stringMatching(/^toolmux: 2 tool\(s\) cannot use Anthropic strict tool use/),
      ]);
    else expect(warnings).toEqual([]);
  });
});
