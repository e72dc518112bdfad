import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Options, query, type SDKMessage } from '@anthropic-ai/claude-agent-sdk';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { defineTool, SessionPreset, ToolMuxError } from '@toolmux/core';
import {
  expectCellAnswer,
  longestTurn,
  recordingLogger,
  type ScriptedModelServer,
  type ScriptedRequest,
  startScriptedModelServer,
  turnReport,
  untilTestTimeout,
  WORKBENCH_CELL_CASES,
} from '@toolmux/core/test';
import { sampleModes, TOOLMUX_MODES } from '@toolmux/server/test';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { ClaudeAgentSdkProvider, type ClaudeAgentTools } from './index.js';

const samples = sampleModes({ toolkits: ['tasks', 'notes'] }, { beforeAll, afterEach, afterAll });

let messageCount = 0;

/** A streamed Messages API answer (named server-sent events) of one content block. */
function streamed(model: string, block: Record<string, unknown>, stopReason: 'tool_use' | 'end_turn') {
  const message = {
    id: `msg_${++messageCount}`,
    type: 'message',
    role: 'assistant',
    model,
    content: [],
    stop_reason: null,
    stop_sequence: null,
    usage: { input_tokens: 10, output_tokens: 1 },
  };
  const start = block.type === 'tool_use' ? { ...block, input: {} } : { type: 'text', text: '' };
  const delta =
    block.type === 'tool_use'
      ? { type: 'input_json_delta', partial_json: JSON.stringify(block.input) }
      : { type: 'text_delta', text: block.text };
  const events = [
    { event: 'message_start', data: { type: 'message_start', message } },
    { event: 'content_block_start', data: { type: 'content_block_start', index: 0, content_block: start } },
    { event: 'content_block_delta', data: { type: 'content_block_delta', index: 0, delta } },
    { event: 'content_block_stop', data: { type: 'content_block_stop', index: 0 } },
    {
      event: 'message_delta',
      data: {
        type: 'message_delta',
        delta: { stop_reason: stopReason, stop_sequence: null },
        usage: { output_tokens: 5 },
      },
    },
    { event: 'message_stop', data: { type: 'message_stop' } },
  ];
  return { namedEvents: events };
}

const toolUse = (id: string, name: string, input: unknown) => (request: ScriptedRequest) =>
  streamed(request.body.model, { type: 'tool_use', id, name, input }, 'tool_use');
const answer = (text: string) => (request: ScriptedRequest) =>
  streamed(request.body.model, { type: 'text', text }, 'end_turn');

/** The tool_result blocks of the last user message of a Messages API request. */
function toolResultsOf(request: ScriptedRequest | undefined) {
  const last = request?.body.messages.at(-1);
  return (last?.content ?? []).filter((block: { type: string }) => block.type === 'tool_result');
}

/** The text of a tool_result block (its content is a string or text blocks). */
function textOf(block: { content: string | Array<{ type: string; text?: string }> }): string {
  return typeof block.content === 'string'
    ? block.content
    : block.content.map((part) => part.text ?? '').join('');
}

let home: string;
beforeEach(async () => {
  home = await mkdtemp(join(tmpdir(), 'toolmux-claude-agent-'));
});
afterEach(async () => {
  // Claude Code may still be writing its session files there as it exits (ENOTEMPTY seen in CI)
  await rm(home, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
});

/**
 * Runs the SDK's own agent loop (the Claude Code binary it ships) against the scripted model server,
 * offline: the CLI's configuration lives in a fresh folder, and it sends no traffic but model requests.
 * The run is raced against the script running out, so a loop that would go on (and retry) ends at once.
 */
async function run(
  model: ScriptedModelServer,
  scriptLength: number,
  tools: ClaudeAgentTools,
  extra: Options = {},
) {
  const abortController = new AbortController();
  const messages: SDKMessage[] = [];
  const options: Options = {
    ...tools,
    abortController,
    cwd: home,
    settingSources: [],
    env: {
      PATH: process.env.PATH,
      HOME: home,
      CLAUDE_CONFIG_DIR: home,
      ANTHROPIC_BASE_URL: model.url,
      ANTHROPIC_API_KEY: 'sk-ant-test-not-a-key',
      CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
    },
    ...extra,
  };
  const consume = (async () => {
    for await (const message of query({ prompt: 'Remind me to buy milk', options })) messages.push(message);
  })();
  let overrun: (error: Error) => void = () => {};
  const pastScript = new Promise<never>((_, reject) => {
    overrun = reject;
  });
  const watch = setInterval(() => {
    if (model.requests.length > scriptLength) {
      abortController.abort();
      overrun(new Error(`the CLI sent request ${model.requests.length}, past the script of ${scriptLength}`));
    }
  }, 50);
  try {
    await Promise.race([consume, pastScript]);
  } finally {
    clearInterval(watch);
  }
  return messages;
}

const modelRequests = (model: ScriptedModelServer) =>
  model.requests.filter((request) => request.method === 'POST' && request.url.startsWith('/v1/messages'));

describe.each(TOOLMUX_MODES)('ClaudeAgentSdkProvider in the Claude Agent SDK query() loop (%s)', (mode) => {
  let model: ScriptedModelServer | undefined;
  afterEach(async () => {
    await model?.close();
    model = undefined;
  });

  it('the model calls a session tool over the in-process MCP server, reads its result, then answers', async () => {
    const { tools, session, calls } = await samples.session(new ClaudeAgentSdkProvider(), {
      mode,
      preset: SessionPreset.DIRECT_TOOLS,
    });
    expect(tools.allowedTools).toContain('mcp__toolmux__TASKS_CREATE_TASK');
    model = await startScriptedModelServer([
      (request) => {
        const names = (request.body.tools as Array<{ name: string }>).map((tool) => tool.name);
        expect(names).toContain('mcp__toolmux__TASKS_CREATE_TASK');
        return toolUse('toolu_create', 'mcp__toolmux__TASKS_CREATE_TASK', { title: 'Buy milk' })(request);
      },
      answer('Added "Buy milk".'),
    ]);

    const messages = await run(model, 2, tools);

    const result = messages.find((message) => message.type === 'result');
    expect(result).toMatchObject({ subtype: 'success', result: 'Added "Buy milk".' });
    expect(calls).toEqual([
      expect.objectContaining({ slug: 'TASKS_CREATE_TASK', input: { title: 'Buy milk' } }),
    ]);
    // the model got the tool's result on the wire, for its tool_use id
    const [sent] = toolResultsOf(modelRequests(model)[1]);
    expect(sent).toMatchObject({ tool_use_id: 'toolu_create' });
    expect(sent.is_error ?? false).toBe(false);
    expect(JSON.parse(textOf(sent))).toEqual({ id: 'task_1', title: 'Buy milk' });
    // the session logged the call, with Claude's tool call id
    expect((await session.logs()).items).toEqual([
      expect.objectContaining({ toolSlug: 'TASKS_CREATE_TASK', status: 'success', callId: 'toolu_create' }),
    ]);
  });

  it('META_TOOLS (the default): the model searches, then runs what it found through TOOLMUX_MULTI_EXECUTE_TOOL', async () => {
    const { tools, session, calls } = await samples.session(new ClaudeAgentSdkProvider(), { mode });
    expect(tools.allowedTools).toEqual(
      expect.arrayContaining([
        'mcp__toolmux__TOOLMUX_SEARCH_TOOLS',
        'mcp__toolmux__TOOLMUX_MULTI_EXECUTE_TOOL',
      ]),
    );
    let found: string | undefined;
    model = await startScriptedModelServer([
      toolUse('toolu_search', 'mcp__toolmux__TOOLMUX_SEARCH_TOOLS', {
        queries: [{ use_case: 'create a to-do task' }],
      }),
      (request) => {
        const [searched] = toolResultsOf(request);
        found = JSON.parse(textOf(searched)).results[0].tools[0].tool_slug;
        return toolUse('toolu_multi', 'mcp__toolmux__TOOLMUX_MULTI_EXECUTE_TOOL', {
          tools: [{ tool_slug: found, arguments: { title: 'Buy milk', priority: 'high' } }],
        })(request);
      },
      answer('Added "Buy milk".'),
    ]);

    const messages = await run(model, 3, tools);

    expect(messages.find((message) => message.type === 'result')).toMatchObject({ subtype: 'success' });
    const names = (modelRequests(model)[0]!.body.tools as Array<{ name: string }>).map((tool) => tool.name);
    expect(names).toEqual(expect.arrayContaining(tools.allowedTools));
    expect(names).not.toContain('mcp__toolmux__TASKS_CREATE_TASK');
    expect(found).toBe('TASKS_CREATE_TASK');
    expect(calls).toEqual([
      expect.objectContaining({ slug: 'TASKS_CREATE_TASK', input: { title: 'Buy milk', priority: 'high' } }),
    ]);
    // the model read the multi-execute's result on the wire, for its tool_use id
    const [multi] = toolResultsOf(modelRequests(model)[2]);
    expect(multi).toMatchObject({ tool_use_id: 'toolu_multi' });
    expect(multi.is_error ?? false).toBe(false);
    expect(JSON.parse(textOf(multi))).toMatchObject({
      successful_count: 1,
      results: [
        { tool_slug: 'TASKS_CREATE_TASK', successful: true, data: { id: 'task_1', title: 'Buy milk' } },
      ],
    });
    // the session logged the search, the multi-execute and, under it, the tool it ran
    const logs = (await session.logs()).items;
    const entryOf = (slug: string) => logs.find((log) => log.toolSlug === slug);
    expect(entryOf('TOOLMUX_SEARCH_TOOLS')).toMatchObject({ status: 'success', callId: 'toolu_search' });
    const parent = entryOf('TOOLMUX_MULTI_EXECUTE_TOOL');
    expect(parent).toMatchObject({ status: 'success', callId: 'toolu_multi' });
    expect(entryOf('TASKS_CREATE_TASK')).toMatchObject({
      status: 'success',
      callId: 'toolu_multi#0',
      parentId: parent!.id,
    });
  });

  it('a 64-character slug gets an MCP name that keeps the wire name within 64 characters, and its call runs that tool', async () => {
    // two slugs of 64 characters that share their first 60: shortened, each still has a name of its own
    const stem = `TASKS_ARCHIVE_EVERY_TASK_OLDER_THAN_A_YEAR_AND_TAG_IT_FOR_RE`;
    const slugs = [`${stem}VIEW`, `${stem}DACT`];
    const ran: string[] = [];
    const customTools = slugs.map((slug) =>
      defineTool({
        slug,
        toolkit: 'tasks',
        description: `Archives old tasks (${slug.slice(-4)})`,
        inputSchema: z.object({ days: z.number() }),
        execute: async ({ days }) => {
          ran.push(slug);
          return { archived: days };
        },
      }),
    );
    const { tools, session } = await samples.session(new ClaudeAgentSdkProvider(), {
      mode,
      preset: SessionPreset.DIRECT_TOOLS,
      customTools,
    });
    const long = tools.allowedTools.filter((name) => name.startsWith('mcp__toolmux__TASKS_ARCHIVE_'));
    expect(long).toHaveLength(2);
    expect(new Set(long).size).toBe(2);
    expect(tools.allowedTools.every((name) => name.length <= 64)).toBe(true);
    let wire: string[] = [];
    let described = new Map<string, string>();
    model = await startScriptedModelServer([
      (request) => {
        const sentTools = request.body.tools as Array<{ name: string; description: string }>;
        wire = sentTools.map((tool) => tool.name);
        described = new Map(sentTools.map((tool) => [tool.name, tool.description]));
        const second = wire.find((name) => name === long[1]);
        return toolUse('toolu_archive', second ?? 'missing', { days: 365 })(request);
      },
      answer('Archived.'),
    ]);

    await run(model, 2, tools);

    // what Claude Code sends is what the Messages API takes: names of at most 64 characters
    expect(wire).toEqual(expect.arrayContaining(long));
    expect(wire.filter((name) => name.length > 64)).toEqual([]);
    expect(ran).toEqual([slugs[1]]);
    // a shortened name says which toolmux slug it runs; a tool listed under its slug is described as it was
    for (const [index, slug] of slugs.entries()) {
      expect(described.get(long[index]!)).toBe(
        `Archives old tasks (${slug.slice(-4)})\n\n(This is the toolmux tool ${slug}, listed under a shorter name to fit the 64 characters of a tool name.)`,
      );
    }
    expect(described.get('mcp__toolmux__TASKS_CREATE_TASK')).toBe(
      'Create a new task (a to-do item) with a title and an optional priority.',
    );
    const [sent] = toolResultsOf(modelRequests(model)[1]);
    expect(sent).toMatchObject({ tool_use_id: 'toolu_archive' });
    expect(sent.is_error ?? false).toBe(false);
    expect(JSON.parse(textOf(sent))).toEqual({ archived: 365 });
    // the log names the tool by its slug
    expect((await session.logs()).items).toEqual([
      expect.objectContaining({ toolSlug: slugs[1], status: 'success', callId: 'toolu_archive' }),
    ]);
  });

  it('property keys the Messages API refuses are listed renamed, and a call with those keys runs the tool with its own', async () => {
    const received: unknown[] = [];
    const customTools = [
      defineTool({
        slug: 'TASKS_FILTER',
        toolkit: 'tasks',
        description: 'Lists tasks by filters',
        inputSchema: {
          type: 'object',
          properties: {
            'filter[id]': { type: 'string' },
            'first name': { type: 'string' },
            page: { type: 'object', properties: { 'page[size]': { type: 'integer' } } },
          },
          required: ['filter[id]'],
        },
        execute: async (args) => {
          received.push(args);
          return { ok: true };
        },
      }),
    ];
    const { tools } = await samples.session(new ClaudeAgentSdkProvider(), {
      mode,
      preset: SessionPreset.DIRECT_TOOLS,
      customTools,
    });
    let schema: { properties: Record<string, { description?: string; properties?: object }> } | undefined;
    model = await startScriptedModelServer([
      (request) => {
        const sentTools = request.body.tools as Array<{ name: string; input_schema: typeof schema }>;
        schema = sentTools.find((tool) => tool.name === 'mcp__toolmux__TASKS_FILTER')?.input_schema;
        const properties = schema?.properties ?? {};
        const named = (own: string) =>
          Object.keys(properties).find((key) => properties[key]!.description?.includes(JSON.stringify(own)));
        const page = Object.keys(properties.page?.properties ?? {})[0];
        return toolUse('toolu_filter', 'mcp__toolmux__TASKS_FILTER', {
          [named('filter[id]') ?? 'missing']: '42',
          [named('first name') ?? 'missing']: 'Ada',
          page: { [page ?? 'missing']: 10 },
        })(request);
      },
      answer('Listed.'),
    ]);

    await run(model, 2, tools);

    // what Claude Code sends is what the Messages API takes: every property key matches its pattern
    const keys = [...Object.keys(schema!.properties), ...Object.keys(schema!.properties.page!.properties!)];
    expect(keys).toHaveLength(4);
    expect(keys.filter((key) => !/^[a-zA-Z0-9_.-]{1,64}$/.test(key))).toEqual([]);
    expect(received).toEqual([{ 'filter[id]': '42', 'first name': 'Ada', page: { 'page[size]': 10 } }]);
    const [sent] = toolResultsOf(modelRequests(model)[1]);
    expect(sent.is_error ?? false).toBe(false);
  });

  it('output schemas: a matching result is structuredContent, one of the wrong shape reaches the model as readable error text', async () => {
    const logger = recordingLogger();
    const counted = z.object({ count: z.number(), label: z.string() });
    const wrongShape = defineTool({
      slug: 'TASKS_COUNT_TASKS',
      toolkit: 'tasks',
      description: 'Counts the tasks (declares an output schema its result breaks)',
      inputSchema: z.object({}),
      outputSchema: counted,
      execute: async () => ({ count: 'many' }) as never,
    });
    const { tools, session } = await samples.session(new ClaudeAgentSdkProvider({ logger }), {
      mode,
      preset: SessionPreset.DIRECT_TOOLS,
      customTools: [wrongShape],
    });
    model = await startScriptedModelServer([
      toolUse('toolu_create', 'mcp__toolmux__TASKS_CREATE_TASK', { title: 'Buy milk' }),
      toolUse('toolu_count', 'mcp__toolmux__TASKS_COUNT_TASKS', {}),
      answer('Added "Buy milk"; the count came back odd.'),
    ]);

    const messages = await run(model, 3, tools);

    expect(messages.find((message) => message.type === 'result')).toMatchObject({ subtype: 'success' });
    // TASKS_CREATE_TASK declares an output schema: its result went as structuredContent too, which
    // query() hands the application, and the model read the same JSON text as without it
    const toolResults = messages.flatMap((message) =>
      message.type === 'user' && message.tool_use_result !== undefined ? [message.tool_use_result] : [],
    );
    expect(toolResults[0]).toMatchObject({ structuredContent: { id: 'task_1', title: 'Buy milk' } });
    const [created] = toolResultsOf(modelRequests(model)[1]);
    expect(created).toMatchObject({ tool_use_id: 'toolu_create' });
    expect(created.is_error ?? false).toBe(false);
    expect(JSON.parse(textOf(created))).toEqual({ id: 'task_1', title: 'Buy milk' });
    // a result of the wrong shape is not structuredContent: the model reads it as text, marked as an error
    expect(toolResults[1]).not.toMatchObject({ structuredContent: expect.anything() });
    const [miscounted] = toolResultsOf(modelRequests(model)[2]);
    expect(miscounted).toMatchObject({ tool_use_id: 'toolu_count', is_error: true });
    expect(textOf(miscounted)).toBe(
      `TASKS_COUNT_TASKS ran, but its result does not match the tool's declared output schema (label: is missing where the output schema requires a string; count: is a string where the output schema asks for a number), so it is given as text. Do not run it again just because of this. The result:\n{"count":"many"}`,
    );
    expect(logger.warnings).toEqual([
      expect.stringContaining('TASKS_COUNT_TASKS returned a result that does not match its output schema'),
    ]);
    // the tool ran: the log says so
    const logs = (await session.logs()).items.map((log) => [log.toolSlug, log.callId, log.status]);
    expect(logs.sort()).toEqual([
      ['TASKS_COUNT_TASKS', 'toolu_count', 'success'],
      ['TASKS_CREATE_TASK', 'toolu_create', 'success'],
    ]);
  });

  it('a throwing tool and invalid arguments reach the model as readable error results', async () => {
    const { tools, session } = await samples.session(new ClaudeAgentSdkProvider(), {
      mode,
      preset: SessionPreset.DIRECT_TOOLS,
    });
    model = await startScriptedModelServer([
      toolUse('toolu_sync', 'mcp__toolmux__TASKS_SYNC_CALENDAR', { calendarId: 'work' }),
      toolUse('toolu_bad', 'mcp__toolmux__TASKS_CREATE_TASK', { title: '', priority: 'urgent' }),
      answer('The calendar is unreachable.'),
    ]);

    const messages = await run(model, 3, tools);

    expect(messages.find((message) => message.type === 'result')).toMatchObject({ subtype: 'success' });
    const [thrown] = toolResultsOf(modelRequests(model)[1]);
    expect(thrown).toMatchObject({ tool_use_id: 'toolu_sync', is_error: true });
    expect(textOf(thrown)).toContain(
      'Error (TOOL_EXECUTION_FAILED): TASKS_SYNC_CALENDAR failed: calendar work is unreachable',
    );
    const [invalid] = toolResultsOf(modelRequests(model)[2]);
    expect(invalid).toMatchObject({ tool_use_id: 'toolu_bad', is_error: true });
    expect(textOf(invalid)).toMatch(
      /Error \(TOOL_ARGUMENTS_INVALID\): Invalid arguments for TASKS_CREATE_TASK: title: .*priority/,
    );
    const logs = (await session.logs()).items.map((log) => [
      log.toolSlug,
      log.callId,
      log.status,
      log.errorCode,
    ]);
    expect(logs.sort()).toEqual([
      ['TASKS_CREATE_TASK', 'toolu_bad', 'error', 'TOOL_ARGUMENTS_INVALID'],
      ['TASKS_SYNC_CALENDAR', 'toolu_sync', 'error', 'TOOL_EXECUTION_FAILED'],
    ]);
  });

  it('without its allowedTools, Claude Code refuses the call and the tool does not run', async () => {
    const { tools, calls } = await samples.session(new ClaudeAgentSdkProvider(), {
      mode,
      preset: SessionPreset.DIRECT_TOOLS,
    });
    model = await startScriptedModelServer([
      toolUse('toolu_create', 'mcp__toolmux__TASKS_CREATE_TASK', { title: 'Buy milk' }),
      answer('I may not.'),
    ]);

    await run(model, 2, tools, { allowedTools: [] });

    expect(calls).toEqual([]);
    const [refused] = toolResultsOf(modelRequests(model)[1]);
    expect(refused).toMatchObject({ tool_use_id: 'toolu_create', is_error: true });
  });

  it('aborting query() stops the running tool, and the log says TOOL_ABORTED', async () => {
    const { tools, calls, session } = await samples.session(new ClaudeAgentSdkProvider(), {
      mode,
      preset: SessionPreset.DIRECT_TOOLS,
    });
    model = await startScriptedModelServer([
      toolUse('toolu_wait', 'mcp__toolmux__TASKS_WAIT_FOR_APPROVAL', { taskId: 'task_9' }),
      // Claude Code tells the model the call was interrupted before it ends
      answer('Stopped.'),
    ]);
    const abortController = new AbortController();

    const running = run(model, 2, tools, { abortController }).catch((error: unknown) => error);
    // Claude Code is a process of its own: starting it and its first request can take seconds on a
    // loaded machine (vi.waitFor's 1 s default failed in CI), so the wait is bounded by the test's own
    // timeout only
    await vi.waitFor(
      () => expect(calls.map((call) => call.slug)).toEqual(['TASKS_WAIT_FOR_APPROVAL']),
      untilTestTimeout(),
    );
    abortController.abort();
    // query() ends with Claude Code's abort error; closing its MCP connection aborted the tool
    expect(await running).toMatchObject({ message: expect.stringMatching(/abort/i) });

    const log = await vi.waitFor(async () => {
      const [entry] = (await session.logs()).items;
      expect(entry).toBeDefined();
      return entry!;
    }, untilTestTimeout());
    expect(log).toMatchObject({
      toolSlug: 'TASKS_WAIT_FOR_APPROVAL',
      callId: 'toolu_wait',
      status: 'error',
      errorCode: 'TOOL_ABORTED',
    });
  });

  it('one tools() result serves two query() runs at once: each gets its own MCP server', async () => {
    const { tools, calls } = await samples.session(new ClaudeAgentSdkProvider({ serverName: 'tasks_app' }), {
      mode,
      preset: SessionPreset.DIRECT_TOOLS,
    });
    expect(Object.keys(tools.mcpServers)).toEqual(['tasks_app']);
    const models = await Promise.all(
      ['Buy milk', 'Call mom'].map((title, index) =>
        startScriptedModelServer([
          toolUse(`toolu_${index}`, 'mcp__tasks_app__TASKS_CREATE_TASK', { title }),
          answer('Added.'),
        ]),
      ),
    );
    try {
      await Promise.all(models.map((each) => run(each, 2, tools)));
      for (const [index, each] of models.entries()) {
        const [sent] = toolResultsOf(modelRequests(each)[1]);
        expect(sent).toMatchObject({ tool_use_id: `toolu_${index}` });
        expect(sent.is_error ?? false).toBe(false);
      }
    } finally {
      await Promise.all(models.map((each) => each.close()));
    }
    expect(calls.map((call) => JSON.stringify(call.input)).sort()).toEqual([
      '{"title":"Buy milk"}',
      '{"title":"Call mom"}',
    ]);
  });
});

describe.each(TOOLMUX_MODES)('ClaudeAgentSdkProvider tools through the official MCP client (%s)', (mode) => {
  it('a TOOLMUX_WORKBENCH cell that threw or reached a limit is isError, its answer still the text; one that succeeded is not', async () => {
    const { tools } = await samples.session(new ClaudeAgentSdkProvider(), {
      mode,
      preload: ['TASKS_SYNC_CALENDAR'],
    });
    const client = new Client({ name: 'cell-test', version: '1.0.0' });
    const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
    await tools.mcpServers.toolmux!.instance.connect(serverSide);
    await client.connect(clientSide);
    try {
      for (const cell of WORKBENCH_CELL_CASES) {
        const result = await client.callTool({ name: 'TOOLMUX_WORKBENCH', arguments: { code: cell.code } });
        expect(result.isError === true, cell.id).toBe(cell.failsWith !== undefined);
        expectCellAnswer(JSON.parse((result.content as Array<{ text: string }>)[0]!.text), cell);
      }
      const failed = await client.callTool({
        name: 'TASKS_SYNC_CALENDAR',
        arguments: { calendarId: 'work' },
      });
      expect(failed.isError).toBe(true);
      expect((failed.content as Array<{ text: string }>)[0]!.text).toMatch(
        /^Error \(TOOL_EXECUTION_FAILED\)/,
      );
    } finally {
      await client.close();
    }
  });
});

describe('ClaudeAgentSdkProvider', () => {
  it('refuses a server name Claude Code cannot put in a tool name, and says which characters it takes', () => {
    const refusal = (() => {
      try {
        new ClaudeAgentSdkProvider({ serverName: 'my tools' });
      } catch (error) {
        return error;
      }
    })();
    expect(ToolMuxError.isInstance(refusal) && refusal.code).toBe('CONFIG_INVALID');
    expect((refusal as Error).message).toMatch(
      /serverName "my tools" is not a valid MCP server name; use letters, digits, "_" and "-" only/,
    );
  });

  it('refuses a server name that would leave too little of a 64-character tool name for the tool', () => {
    const name = 'a'.repeat(33);
    expect(() => new ClaudeAgentSdkProvider({ serverName: 'a'.repeat(32) })).not.toThrow();
    expect(() => new ClaudeAgentSdkProvider({ serverName: name })).toThrow(
      expect.objectContaining({
        code: 'CONFIG_INVALID',
        message: expect.stringContaining(`serverName "${name}" has 33 characters; use at most 32`),
      }),
    );
  });

  it('lists object output schemas as toolmux MCP does, and a tool whose schema cannot be compiled without one', async () => {
    const logger = recordingLogger();
    const broken = defineTool({
      slug: 'TASKS_BROKEN_SCHEMA',
      toolkit: 'tasks',
      description: 'Declares an output schema that cannot be compiled',
      inputSchema: z.object({}),
      outputSchema: { type: 'object', properties: { x: { $ref: '#/$defs/missing' } } },
      execute: async () => ({ x: 1 }),
    });
    const { tools } = await samples.session(new ClaudeAgentSdkProvider({ logger }), {
      preset: SessionPreset.DIRECT_TOOLS,
      customTools: [broken],
    });
    const client = new Client({ name: 'list-test', version: '1.0.0' });
    const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
    await tools.mcpServers.toolmux!.instance.connect(serverSide);
    await client.connect(clientSide);
    try {
      const listed = new Map((await client.listTools()).tools.map((tool) => [tool.name, tool]));
      expect(listed.get('TASKS_CREATE_TASK')!.outputSchema).toMatchObject({
        type: 'object',
        properties: { id: { type: 'string' }, title: { type: 'string' } },
      });
      expect(listed.get('TASKS_LIST_TASKS')!.outputSchema).toBeUndefined();
      expect(listed.get('TASKS_BROKEN_SCHEMA')!.outputSchema).toBeUndefined();
      expect(logger.warnings).toEqual([
        expect.stringContaining(
          'TASKS_BROKEN_SCHEMA is listed to the Claude Agent SDK without its output schema',
        ),
      ]);
      // the official client validates structuredContent against the listed schema: it takes this call
      const created = await client.callTool({ name: 'TASKS_CREATE_TASK', arguments: { title: 'Buy milk' } });
      expect(created.structuredContent).toEqual({ id: 'task_1', title: 'Buy milk' });
      const result = await client.callTool({ name: 'TASKS_BROKEN_SCHEMA', arguments: {} });
      expect(result.isError).toBeFalsy();
      expect(result.structuredContent).toBeUndefined();
      expect(result.content).toEqual([{ type: 'text', text: '{"x":1}' }]);
    } finally {
      await client.close();
    }
  });

  it('keeps every tool name within 64 characters under the longest server name, each its own', async () => {
    const slug = `TASKS_${'X'.repeat(58)}`;
    // a tool whose slug is the name the long one would get: the long one takes the next name
    // 64 − 7 − 32 = 25 characters for the tool: its start, `_` and 6 characters of a SHA-256
    const hashOf = (text: string) =>
      createHash('sha256').update(text).digest('hex').slice(0, 6).toUpperCase();
    const start = `TASKS_${'X'.repeat(12)}`;
    const customTools = [slug, `${start}_${hashOf(slug)}`].map((each) =>
      defineTool({
        slug: each,
        toolkit: 'tasks',
        description: 'A tool with a long slug',
        inputSchema: z.object({}),
        execute: async () => ({}),
      }),
    );
    const server = 's'.repeat(32);
    const { tools } = await samples.session(new ClaudeAgentSdkProvider({ serverName: server }), {
      preset: SessionPreset.DIRECT_TOOLS,
      customTools,
    });
    expect(tools.allowedTools.filter((name) => name.length > 64)).toEqual([]);
    expect(tools.allowedTools).toContain(`mcp__${server}__TASKS_CREATE_TASK`);
    expect(tools.allowedTools).toContain(`mcp__${server}__${start}_${hashOf(slug)}`);
    // that name taken, the long slug's is the next one: `<slug>_2` shortened alike
    expect(tools.allowedTools).toContain(`mcp__${server}__${start}_${hashOf(`${slug}_2`)}`);
    expect(tools.allowedTools).toHaveLength(new Set(tools.allowedTools).size);
  });
});

describe('output schemas off the event loop', () => {
  /** A tool whose output schema has 2,000 properties, named apart by `salt` (each a schema not seen before). */
  const wideSpec = (salt: string) => ({
    slug: 'WIDE_REPORT',
    name: 'Wide report',
    description: 'A report of 2,000 fields.',
    inputSchema: { type: 'object', properties: {} },
    outputSchema: {
      type: 'object',
      properties: Object.fromEntries(
        Array.from({ length: 2_000 }, (_, index) => [`${salt}_${index}`, { type: 'integer', minimum: 0 }]),
      ),
    },
    toolkit: 'wide',
    annotations: {},
  });

  /**
   * The server's answers to `messages`, sent as raw JSON-RPC over an in-memory transport: an SDK
   * client in this process would compile the listed schema itself (with its own Ajv), which Claude
   * Code does in its own process.
   */
  const answersOf = async (tools: ClaudeAgentTools, messages: Array<Record<string, unknown>>) => {
    const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
    await tools.mcpServers.toolmux!.instance.connect(serverSide);
    const answers = new Map<unknown, Record<string, unknown>>();
    let answered: () => void = () => {};
    clientSide.onmessage = (message) => {
      const { id } = message as { id?: unknown };
      if (id === undefined) return;
      answers.set(id, message as Record<string, unknown>);
      answered();
    };
    await clientSide.start();
    try {
      for (const message of messages) {
        const done = new Promise<void>((resolve) => {
          answered = resolve;
        });
        await clientSide.send({ jsonrpc: '2.0', ...message } as never);
        if (message.id !== undefined) await done;
      }
    } finally {
      await clientSide.close();
    }
    return answers;
  };

  it('compiles a large output schema at the first listing without holding the event loop', async () => {
    let attempt = 0;
    const measured = await longestTurn(async () => {
      const salt = `s${attempt++}`;
      const tools = new ClaudeAgentSdkProvider().wrapTools([wideSpec(salt)], async () => ({
        successful: true,
        data: { [`${salt}_1`]: -1 },
        error: null,
        logId: 'log_1',
      }));
      return answersOf(tools, [
        {
          id: 1,
          method: 'initialize',
          params: {
            protocolVersion: '2025-06-18',
            capabilities: {},
            clientInfo: { name: 'wide-test', version: '1.0.0' },
          },
        },
        { method: 'notifications/initialized' },
        { id: 2, method: 'tools/list' },
        { id: 3, method: 'tools/call', params: { name: 'WIDE_REPORT', arguments: {} } },
      ]);
    }, 60);
    const listed = measured.value.get(2)!.result as {
      tools: Array<{ outputSchema: { properties: object } }>;
    };
    expect(Object.keys(listed.tools[0]!.outputSchema.properties)).toHaveLength(2_000);
    // the result breaks the schema: it goes as text marked as an error
    const called = measured.value.get(3)!.result as { isError?: boolean; content: unknown };
    expect(called.isError).toBe(true);
    expect(JSON.stringify(called.content)).toContain(
      'is too small where the output schema asks for an integer of at least 0',
    );
    // compiled on the main thread in wrapTools: one turn of 0.3 s
    expect(measured.turnMs, turnReport(measured)).toBeLessThanOrEqual(60);
  }, 60_000);
});
