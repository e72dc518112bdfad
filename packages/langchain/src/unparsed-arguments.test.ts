import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { AIMessage, HumanMessage } from '@langchain/core/messages';
import { fakeModel } from '@langchain/core/testing';
import { ChatOpenAI } from '@langchain/openai';
import { SessionPreset } from '@toolmux/core';
import { sampleModes } from '@toolmux/server/test';
import { createAgent } from 'langchain';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { answerUnparsedToolArguments, LangChainProvider } from './index.js';

const samples = sampleModes({ toolkits: ['tasks'] }, { beforeAll, afterEach, afterAll });

/**
 * A Chat Completions server on loopback whose first answer calls tools with the given argument text
 * (as OpenAI-compatible servers send it), and "done" after; the request bodies it got are kept.
 */
async function scriptedServer(calls: Array<{ name: string; arguments: string }>) {
  const requests: Array<{ messages: Array<{ role: string; tool_call_id?: string; content?: unknown }> }> = [];
  const server = createServer(async (req, res) => {
    let body = '';
    for await (const chunk of req) body += chunk;
    requests.push(JSON.parse(body));
    const first = requests.length === 1;
    const message = first
      ? {
          role: 'assistant',
          content: null,
          tool_calls: calls.map((call, index) => ({ id: `call_${index}`, type: 'function', function: call })),
        }
      : { role: 'assistant', content: 'done' };
    res.setHeader('content-type', 'application/json');
    res.end(
      JSON.stringify({
        id: `chatcmpl_${requests.length}`,
        object: 'chat.completion',
        created: 1,
        model: 'gpt-4o-mini',
        choices: [{ index: 0, message, finish_reason: first ? 'tool_calls' : 'stop' }],
        usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 },
      }),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const chat = new ChatOpenAI({
    model: 'gpt-4o-mini',
    apiKey: 'sk-test',
    maxRetries: 0,
    configuration: { baseURL: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1` },
  });
  return { chat, requests, close: () => new Promise((resolve) => server.close(resolve)) };
}

const unparsed = [
  { name: 'TASKS_LIST_TASKS', arguments: '' },
  { name: 'TASKS_CREATE_TASK', arguments: '{"title": "Buy' },
  { name: 'TASKS_CREATE_TASK', arguments: '{"title": "Buy milk"}' },
];

describe('calls whose arguments ChatOpenAI cannot parse, in createAgent()', () => {
  it('with answerUnparsedToolArguments() they reach the session: empty arguments run as {}, other text is TOOL_ARGUMENTS_INVALID, and the loop goes on', async () => {
    const { tools, calls, session } = await samples.session(new LangChainProvider(), {
      preset: SessionPreset.DIRECT_TOOLS,
    });
    const server = await scriptedServer(unparsed);
    try {
      const result = await createAgent({
        model: server.chat,
        tools,
        middleware: [answerUnparsedToolArguments()],
      }).invoke({ messages: [new HumanMessage('Go')] });
      expect(result.messages.at(-1)?.text).toBe('done');
      expect(calls.map((call) => [call.slug, call.input]).sort()).toEqual([
        ['TASKS_CREATE_TASK', { title: 'Buy milk' }],
        ['TASKS_LIST_TASKS', {}],
      ]);
      const answers = new Map(
        server.requests[1]!.messages.filter((message) => message.role === 'tool').map((message) => [
          message.tool_call_id,
          String(message.content),
        ]),
      );
      expect(answers.get('call_0')).toMatch(/^\{"tasks":/);
      expect(answers.get('call_1')).toMatch(
        /^Error \(TOOL_ARGUMENTS_INVALID\): The arguments of TASKS_CREATE_TASK are not valid JSON \(Unterminated string/,
      );
      expect(answers.get('call_2')).toMatch(/^\{"id":"task_1"/);
      const logs = (await session.logs()).items;
      expect(logs.map((log) => [log.callId, log.status, log.errorCode]).sort()).toEqual([
        ['call_0', 'success', null],
        ['call_1', 'error', 'TOOL_ARGUMENTS_INVALID'],
        ['call_2', 'success', null],
      ]);
    } finally {
      await server.close();
    }
  });

  it('without it, LangChain keeps them as invalid_tool_calls: never run, the model is told nothing, the session never sees them', async () => {
    const { tools, calls, session } = await samples.session(new LangChainProvider(), {
      preset: SessionPreset.DIRECT_TOOLS,
    });
    const server = await scriptedServer(unparsed.slice(0, 2));
    try {
      const result = await createAgent({ model: server.chat, tools }).invoke({
        messages: [new HumanMessage('Go')],
      });
      expect(server.requests).toHaveLength(1);
      expect((result.messages.at(-1) as AIMessage).invalid_tool_calls).toHaveLength(2);
      expect(calls).toEqual([]);
      expect((await session.logs()).items).toEqual([]);
    } finally {
      await server.close();
    }
  });

  it("the agent's other tools' invalid calls are left as they are", async () => {
    const { tools, calls } = await samples.session(new LangChainProvider(), {
      preset: SessionPreset.DIRECT_TOOLS,
    });
    const server = await scriptedServer([{ name: 'someone_elses_tool', arguments: '' }]);
    try {
      const result = await createAgent({
        model: server.chat,
        tools,
        middleware: [answerUnparsedToolArguments()],
      }).invoke({ messages: [new HumanMessage('Go')] });
      expect((result.messages.at(-1) as AIMessage).invalid_tool_calls).toEqual([
        expect.objectContaining({ name: 'someone_elses_tool', args: '' }),
      ]);
      expect(calls).toEqual([]);
    } finally {
      await server.close();
    }
  });
});

it('a tool call without arguments (args undefined) runs as {} and is logged; LangChain answered it itself', async () => {
  const { tools, calls, session } = await samples.session(new LangChainProvider(), {
    preset: SessionPreset.DIRECT_TOOLS,
  });
  const model = fakeModel()
    .respondWithTools([{ name: 'TASKS_LIST_TASKS', args: undefined as unknown as object, id: 'call_none' }])
    .respond(new AIMessage('done'));
  await createAgent({ model, tools }).invoke({ messages: [new HumanMessage('Go')] });
  expect(calls.map((call) => [call.slug, call.input])).toEqual([['TASKS_LIST_TASKS', {}]]);
  expect((await session.logs()).items).toEqual([
    expect.objectContaining({ callId: 'call_none', status: 'success' }),
  ]);
});
