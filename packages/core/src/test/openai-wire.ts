import { expect } from 'vitest';
import { z } from 'zod';
import { defineTool, defineToolkit } from '../catalog/define.js';
import type { JSONSchema } from '../catalog/types.js';
import { SessionPreset } from '../config/session-config.js';
import type { CollectionOf, Provider } from '../provider.js';
import { ToolMux } from '../toolmux.js';
import {
  type ScriptedReply,
  type ScriptedRequest,
  startScriptedModelServer,
} from './scripted-model-server.js';

/**
 * A tool call the scripted OpenAI model makes; `raw` sends text that is not JSON-encoded `args`, and
 * `unencoded` sends a JSON value where the API has text (as some OpenAI-compatible servers do).
 */
export interface OpenAIScriptedCall {
  id: string;
  name: string;
  args?: unknown;
  raw?: string;
  unencoded?: unknown;
}

/**
 * The answer of a scripted OpenAI model to `request`, in the wire format of the API it was sent to
 * (`/chat/completions` or `/responses`): these tool calls, or with none, the text `done`. A Chat
 * Completions request that asks for a stream gets one ({@link startScriptedModelServer}'s `events`).
 *
 * @example
 * const model = await startScriptedModelServer([
 *   (request) => openaiReply(request, [{ id: 'call_1', name: 'TASKS_LIST', args: {} }]),
 *   (request) => openaiReply(request, []),
 * ]);
 */
export function openaiReply(request: ScriptedRequest, calls: OpenAIScriptedCall[]): ScriptedReply {
  if (request.url.endsWith('/responses')) {
    if (request.body?.stream) throw new Error('the scripted model does not stream the Responses API');
    return responsesReply(calls);
  }
  if (!request.url.endsWith('/chat/completions'))
    throw new Error(`the scripted model does not answer ${request.url}`);
  return request.body?.stream ? { events: chatChunks(calls) } : chatReply(calls);
}

/** Each reply has an id of its own (frameworks such as LangGraph merge messages by id). */
let replies = 0;

function chatReply(calls: OpenAIScriptedCall[]) {
  return {
    id: `chatcmpl_${++replies}`,
    object: 'chat.completion',
    created: 0,
    model: 'gpt-test',
    choices: [
      {
        index: 0,
        finish_reason: calls.length > 0 ? 'tool_calls' : 'stop',
        logprobs: null,
        message: {
          role: 'assistant',
          content: calls.length > 0 ? null : 'done',
          refusal: null,
          ...(calls.length > 0 ? { tool_calls: calls.map(chatToolCall) } : {}),
        },
      },
    ],
    usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 },
  };
}

function chatChunks(calls: OpenAIScriptedCall[]) {
  const id = `chatcmpl_${++replies}`;
  const chunk = (delta: object, finishReason: string | null) => ({
    id,
    object: 'chat.completion.chunk',
    created: 0,
    model: 'gpt-test',
    choices: [{ index: 0, delta, finish_reason: finishReason, logprobs: null }],
  });
  return [
    chunk({ role: 'assistant', content: calls.length > 0 ? null : 'done' }, null),
    ...calls.map((call, index) => chunk({ tool_calls: [{ index, ...chatToolCall(call) }] }, null)),
    chunk({}, calls.length > 0 ? 'tool_calls' : 'stop'),
    {
      id,
      object: 'chat.completion.chunk',
      created: 0,
      model: 'gpt-test',
      choices: [],
      usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 },
    },
  ];
}

/** What the reply carries as a call's `arguments`: JSON text, or the value itself for `unencoded`. */
function argumentsOf(call: OpenAIScriptedCall): unknown {
  if ('unencoded' in call) return call.unencoded;
  return call.raw ?? JSON.stringify(call.args);
}

function chatToolCall(call: OpenAIScriptedCall) {
  return {
    id: call.id,
    type: 'function',
    function: { name: call.name, arguments: argumentsOf(call) },
  };
}

function responsesReply(calls: OpenAIScriptedCall[]) {
  const id = ++replies;
  return {
    id: `resp_${id}`,
    object: 'response',
    created_at: 0,
    status: 'completed',
    model: 'gpt-test',
    output:
      calls.length > 0
        ? calls.map((call) => ({
            type: 'function_call',
            id: `fc_${call.id}`,
            call_id: call.id,
            name: call.name,
            arguments: argumentsOf(call),
            status: 'completed',
          }))
        : [
            {
              type: 'message',
              id: `msg_${id}`,
              role: 'assistant',
              status: 'completed',
              content: [{ type: 'output_text', text: 'done', annotations: [] }],
            },
          ],
    parallel_tool_calls: true,
    tool_choice: 'auto',
    tools: [],
    usage: { input_tokens: 1, output_tokens: 1, total_tokens: 2 },
  };
}

/** The `parameters` of each function tool an OpenAI request declares (Chat Completions or Responses), by name. */
export function openaiToolParameters(request: ScriptedRequest): Record<string, JSONSchema> {
  const tools = (request.body?.tools ?? []) as Array<Record<string, any>>;
  const declared: Record<string, JSONSchema> = {};
  for (const tool of tools) {
    const definition = tool.function ?? tool;
    declared[definition.name] = definition.parameters;
  }
  return declared;
}

/** The tool results an OpenAI Chat Completions request sends back, by tool call id. */
export function openaiToolResults(request: ScriptedRequest): Record<string, string> {
  const results: Record<string, string> = {};
  for (const message of (request.body?.messages ?? []) as Array<Record<string, any>>) {
    if (message.role !== 'tool') continue;
    const content = message.content;
    results[message.tool_call_id] =
      typeof content === 'string'
        ? content
        : (content as Array<{ text?: string }>).map((part) => part.text ?? '').join('');
  }
  for (const item of (request.body?.input ?? []) as Array<Record<string, any>>) {
    if (item.type === 'function_call_output')
      results[item.call_id] = typeof item.output === 'string' ? item.output : JSON.stringify(item.output);
  }
  return results;
}

/**
 * What OpenAI refuses a whole request over in a tool's `parameters`, strict or not, anywhere in it:
 * a `pattern` with lookaround ("regex lookaround is not supported") and an array schema without
 * `items` ("array schema missing items"). One line per problem, starting with its JSON path; empty
 * when OpenAI takes the schema.
 */
export function findOpenAIRefusals(schema: unknown, path = '$'): string[] {
  if (Array.isArray(schema))
    return schema.flatMap((item, index) => findOpenAIRefusals(item, `${path}[${index}]`));
  if (typeof schema !== 'object' || schema === null) return [];
  const node = schema as Record<string, unknown>;
  const refusals: string[] = [];
  if (typeof node.pattern === 'string' && /\(\?<?[=!]/.test(node.pattern))
    refusals.push(`${path}: pattern with lookaround ${JSON.stringify(node.pattern)}`);
  const types = Array.isArray(node.type) ? node.type : [node.type];
  if (types.includes('array') && !('items' in node)) refusals.push(`${path}: array without items`);
  for (const [key, value] of Object.entries(node)) {
    if (key === 'enum' || key === 'const' || key === 'default' || key === 'examples') continue;
    refusals.push(...findOpenAIRefusals(value, `${path}.${key}`));
  }
  return refusals;
}

/**
 * A toolkit (`net`) of two tools whose schemas OpenAI refuses as they are: `NET_PING` (zod, with
 * `z.hostname()` and `z.iso.duration()`, whose JSON Schema patterns use lookaround) and `NET_TAG`
 * (JSON Schema, with arrays without `items`, as MCP servers and OpenAPI documents have them, and a
 * `label` whose pattern uses lookaround), the calls a scripted model makes of them (`call_bad_host`
 * and `call_bad_label` with values the patterns refuse), and what each handler received.
 */
export function openaiRefusedSchemaToolkit() {
  const received: Record<'NET_PING' | 'NET_TAG', unknown[]> = { NET_PING: [], NET_TAG: [] };
  const ping = defineTool({
    slug: 'NET_PING',
    description: 'Ping a host.',
    inputSchema: z.object({
      host: z.hostname().describe('The host to ping'),
      every: z.iso.duration().optional().describe('How often'),
    }),
    execute: async (input) => {
      received.NET_PING.push(input);
      return { ok: true };
    },
  });
  const tag = defineTool({
    slug: 'NET_TAG',
    description: 'Tag a host with values.',
    inputSchema: {
      type: 'object',
      properties: {
        values: { type: 'array', description: 'Anything' },
        label: { type: 'string', description: 'A label', pattern: '^(?!-)[a-z-]+$' },
        either: { type: ['string', 'array'] },
        nested: { type: 'object', properties: { rows: { type: 'array', items: { type: 'array' } } } },
      },
      required: ['values'],
    },
    execute: async (input) => {
      received.NET_TAG.push(input);
      return { ok: true };
    },
  });
  const toolkit = defineToolkit({
    slug: 'net',
    name: 'Net',
    description: 'Network tools',
    tools: [ping, tag],
  });
  const calls: OpenAIScriptedCall[] = [
    { id: 'call_ping', name: 'NET_PING', args: { host: 'example.com', every: 'PT5M' } },
    { id: 'call_bad_host', name: 'NET_PING', args: { host: '-not-a-host-' } },
    {
      id: 'call_tag',
      name: 'NET_TAG',
      args: { values: [1, 'two', { three: 3 }], label: 'edge', nested: { rows: [[1], ['x']] } },
    },
    { id: 'call_bad_label', name: 'NET_TAG', args: { values: [], label: '-edge' } },
  ];
  return { toolkit, calls, received };
}

/**
 * The case of {@link openaiRefusedSchemaToolkit} through a framework's own agent loop: a
 * DIRECT_TOOLS session on `provider`, a scripted OpenAI model that calls the tools once (two calls
 * valid, two breaking a pattern the declared schema leaves out), and `run(tools, baseURL)` — the
 * framework's loop with its OpenAI model class pointed at `baseURL` — resolving to the model's last
 * text. Checks that the first request declares no lookaround pattern and no array without items (a
 * refused pattern without a format is described instead), that the valid calls reached the tools and
 * that the patterns are still checked. Resolves with the first request (for the framework's own
 * checks, e.g. which API it called); closes what it opened.
 */
export async function expectOpenAISafeSchemas<P extends Provider<unknown>>(
  provider: P,
  run: (tools: CollectionOf<P>, baseURL: string) => Promise<string | undefined>,
): Promise<ScriptedRequest> {
  const { toolkit, calls, received } = openaiRefusedSchemaToolkit();
  const mux = new ToolMux({
    provider,
    toolkits: [toolkit],
    store: ':memory:',
    logger: { debug() {}, warn() {}, error() {} },
  });
  const model = await startScriptedModelServer([
    (request) => openaiReply(request, calls),
    (request) => openaiReply(request, []),
  ]);
  try {
    const session = await mux.create('user_1', { sessionPreset: SessionPreset.DIRECT_TOOLS });
    expect(await run((await session.tools()) as CollectionOf<P>, `${model.url}/v1`)).toBe('done');
    const declared = openaiToolParameters(model.requests[0]!);
    expect(Object.keys(declared).sort()).toEqual(['NET_PING', 'NET_TAG']);
    expect(findOpenAIRefusals(declared)).toEqual([]);
    expect(declared.NET_TAG!.properties).toMatchObject({
      values: { type: 'array', description: 'Anything', items: {} },
      either: { type: ['string', 'array'], items: {} },
      // a refused pattern without a format is described, not dropped silently
      label: { type: 'string', description: 'A label Must match the regular expression ^(?!-)[a-z-]+$.' },
    });
    expect(received.NET_PING).toEqual([{ host: 'example.com', every: 'PT5M' }]);
    expect(received.NET_TAG).toEqual([calls[2]!.args]);
    const results = openaiToolResults(model.requests[1]!);
    // the patterns left out of the declared schema are still checked
    expect(results.call_bad_host).toMatch(/TOOL_ARGUMENTS_INVALID.*host/);
    expect(results.call_bad_label).toMatch(/TOOL_ARGUMENTS_INVALID.*label/);
    return model.requests[0]!;
  } finally {
    await mux.close();
    await model.close();
  }
}
