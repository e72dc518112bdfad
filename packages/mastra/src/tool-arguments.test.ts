import { Agent } from '@mastra/core/agent';
import { createTool } from '@mastra/core/tools';
import { SessionPreset } from '@toolmux/core';
import { sampleModes } from '@toolmux/server/test';
import { simulateReadableStream } from 'ai';
import { MockLanguageModelV4 } from 'ai/test';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { answerUnparsedToolArguments, MastraProvider, type MastraToolSet } from './index.js';

type CallOptions = Parameters<MockLanguageModelV4['doGenerate']>[0];
type GenerateResult = Awaited<ReturnType<MockLanguageModelV4['doGenerate']>>;
type AgentModel = ConstructorParameters<typeof Agent>[0]['model'];
/** How the scripted model answers: `generate()`, or `stream()` with or without the argument text streamed. */
type Run = 'generate' | 'stream' | 'stream, no argument deltas';
type Call = { toolName: string; input: string };

const usage: GenerateResult['usage'] = {
  inputTokens: { total: 10, noCache: 10, cacheRead: undefined, cacheWrite: undefined },
  outputTokens: { total: 5, text: 5, reasoning: undefined },
};

/**
 * A model that makes `calls` (their argument text as given) in its first step and answers "done"
 * after, in `doGenerate` and `doStream` alike: the stream sends each call's argument text as one
 * `tool-input-delta` between `tool-input-start` and `tool-input-end` before the `tool-call`, as
 * OpenAI's and Anthropic's AI SDK providers do, or only the `tool-call`, as Google's does.
 */
function scriptedModel(calls: Call[], deltas: boolean) {
  const prompts: CallOptions[] = [];
  const toolCalls = calls.map((call, index) => ({
    type: 'tool-call' as const,
    toolCallId: `call_${index}`,
    toolName: call.toolName,
    input: call.input,
  }));
  const model = new MockLanguageModelV4({
    doGenerate: async (options) => {
      prompts.push(options);
      if (prompts.length === 1) {
        return {
          content: toolCalls,
          finishReason: { unified: 'tool-calls', raw: 'tool_calls' },
          usage,
          warnings: [],
        };
      }
      return {
        content: [{ type: 'text', text: 'done' }],
        finishReason: { unified: 'stop', raw: 'stop' },
        usage,
        warnings: [],
      };
    },
    doStream: async (options) => {
      prompts.push(options);
      const parts =
        prompts.length === 1
          ? [
              ...toolCalls.flatMap((call) =>
                deltas
                  ? [
                      { type: 'tool-input-start' as const, id: call.toolCallId, toolName: call.toolName },
                      ...(call.input === ''
                        ? []
                        : [{ type: 'tool-input-delta' as const, id: call.toolCallId, delta: call.input }]),
                      { type: 'tool-input-end' as const, id: call.toolCallId },
                      call,
                    ]
                  : [call],
              ),
              {
                type: 'finish' as const,
                finishReason: { unified: 'tool-calls' as const, raw: 'tool_calls' },
                usage,
              },
            ]
          : [
              { type: 'text-start' as const, id: 't' },
              { type: 'text-delta' as const, id: 't', delta: 'done' },
              { type: 'text-end' as const, id: 't' },
              { type: 'finish' as const, finishReason: { unified: 'stop' as const, raw: 'stop' }, usage },
            ];
      return {
        stream: simulateReadableStream({ chunks: [{ type: 'stream-start', warnings: [] }, ...parts] }),
      };
    },
  });
  return { model, prompts };
}

/** Runs one agent turn of `calls` with `tools`; returns what the model read for each call. */
async function runTurn(
  run: Run,
  tools: MastraToolSet | Record<string, unknown>,
  calls: Call[],
  answer = true,
) {
  const script = scriptedModel(calls, run === 'stream');
  const agent = new Agent({
    id: 'assistant',
    name: 'Assistant',
    instructions: 'Use the tools.',
    model: script.model as AgentModel,
    tools: tools as MastraToolSet,
    ...(answer ? { inputProcessors: [answerUnparsedToolArguments()] } : {}),
  });
  if (run === 'generate') {
    await agent.generate('Go', { maxSteps: 3 });
  } else {
    const output = await agent.stream('Go', { maxSteps: 3 });
    await output.consumeStream();
  }
  const last = script.prompts[1]?.prompt.at(-1);
  const read = new Map<string, string>();
  if (last?.role === 'tool') {
    for (const part of last.content) {
      if (part.type === 'tool-result' && (part.output.type === 'text' || part.output.type === 'error-text')) {
        read.set(part.toolCallId, part.output.value);
      }
    }
  }
  return read;
}

const samples = sampleModes({ toolkits: ['tasks', 'notes'] }, { beforeAll, afterEach, afterAll });
const runs: Run[] = ['generate', 'stream', 'stream, no argument deltas'];
const MASTRA_ANSWER = /received invalid arguments — the provided JSON could not be parsed/;

describe.each(runs)('answerUnparsedToolArguments() in the Mastra Agent loop: %s', (run) => {
  it('every call of a toolmux tool reaches the session: empty arguments and null run as {}, other text is TOOL_ARGUMENTS_INVALID', async () => {
    const { tools, calls, session } = await samples.session(new MastraProvider(), {
      preset: SessionPreset.DIRECT_TOOLS,
    });
    const read = await runTurn(run, tools, [
      { toolName: 'TASKS_LIST_TASKS', input: '' },
      { toolName: 'TASKS_LIST_TASKS', input: 'null' },
      { toolName: 'TASKS_CREATE_TASK', input: '{"title": "Buy' },
      { toolName: 'TASKS_CREATE_TASK', input: 'title=Buy milk' },
      { toolName: 'TASKS_CREATE_TASK', input: '["Buy milk"]' },
      { toolName: 'TASKS_CREATE_TASK', input: '{"title": "Buy milk"}' },
    ]);
    expect(calls.map((call) => [call.slug, call.input])).toEqual([
      ['TASKS_LIST_TASKS', {}],
      ['TASKS_LIST_TASKS', {}],
      ['TASKS_CREATE_TASK', { title: 'Buy milk' }],
    ]);
    expect(read.get('call_0')).toMatch(/^\{"tasks":/);
    expect(read.get('call_1')).toMatch(/^\{"tasks":/);
    expect(read.get('call_2')).toMatch(
      /^Error \(TOOL_ARGUMENTS_INVALID\): The arguments of TASKS_CREATE_TASK are not valid JSON \(Unterminated string/,
    );
    expect(read.get('call_3')).toMatch(
      /^Error \(TOOL_ARGUMENTS_INVALID\): The arguments of TASKS_CREATE_TASK are a string \(.*title=Buy milk.*\), not a JSON object/,
    );
    expect(read.get('call_4')).toMatch(
      /^Error \(TOOL_ARGUMENTS_INVALID\): The arguments of TASKS_CREATE_TASK are a string \(.*\[.*Buy milk.*\].*\), not a JSON object/,
    );
    expect(read.get('call_5')).toMatch(/^\{"id":"task_/);
    const logs = (await session.logs()).items;
    expect(logs.map((log) => [log.callId, log.status, log.errorCode]).sort()).toEqual([
      ['call_0', 'success', null],
      ['call_1', 'success', null],
      ['call_2', 'error', 'TOOL_ARGUMENTS_INVALID'],
      ['call_3', 'error', 'TOOL_ARGUMENTS_INVALID'],
      ['call_4', 'error', 'TOOL_ARGUMENTS_INVALID'],
      ['call_5', 'success', null],
    ]);
  });

  it("the agent's other tools are left to Mastra", async () => {
    const own: unknown[] = [];
    const ping = createTool({
      id: 'ping',
      description: 'Ping',
      inputSchema: z.object({}),
      execute: async (input) => {
        own.push(input);
        return { pong: true };
      },
    });
    const { tools, calls, session } = await samples.session(new MastraProvider(), {
      preset: SessionPreset.DIRECT_TOOLS,
    });
    const read = await runTurn(run, { ...tools, ping }, [
      { toolName: 'ping', input: 'null' },
      { toolName: 'TASKS_LIST_TASKS', input: 'null' },
    ]);
    expect(read.get('call_0')).toMatch(MASTRA_ANSWER);
    expect(own).toEqual([]);
    expect(read.get('call_1')).toMatch(/^\{"tasks":/);
    expect(calls.map((call) => call.slug)).toEqual(['TASKS_LIST_TASKS']);
    expect((await session.logs()).items).toHaveLength(1);
  });
});

describe('without answerUnparsedToolArguments()', () => {
  it.each(runs)(
    'Mastra answers a call with null arguments itself and the session never sees it (%s)',
    async (run) => {
      const { tools, calls, session } = await samples.session(new MastraProvider(), {
        preset: SessionPreset.DIRECT_TOOLS,
      });
      const read = await runTurn(run, tools, [{ toolName: 'TASKS_LIST_TASKS', input: 'null' }], false);
      expect(read.get('call_0')).toMatch(MASTRA_ANSWER);
      expect(calls).toEqual([]);
      expect((await session.logs()).items).toEqual([]);
    },
  );
});
