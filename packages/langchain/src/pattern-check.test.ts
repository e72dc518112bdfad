import { AIMessage, HumanMessage, ToolMessage } from '@langchain/core/messages';
import { fakeModel } from '@langchain/core/testing';
import { defineTool, defineToolkit, SessionPreset, ToolMux } from '@toolmux/core';
import { longestTurn, turnReport } from '@toolmux/core/test';
import { createAgent } from 'langchain';
import { describe, expect, test } from 'vitest';
import { LangChainProvider } from './index.js';

/**
 * LangChain checks a tool's JSON-schema arguments itself (`@cfworker/json-schema`), running the
 * schema's patterns with JavaScript's backtracking `RegExp` on the event loop against the model's
 * text: `^(a+)+$` against 28 `a`s and a `!` held it for seconds. The session's check runs patterns
 * in linear time and decides the call; LangChain's is given a schema that takes any value.
 */

const quiet = { debug() {}, warn() {}, error() {} };

describe('a LangChain agent calling a tool whose schema has a pattern that backtracks', () => {
  test('the model’s text is checked by the session in linear time, not by LangChain on the event loop', async () => {
    const words = defineToolkit({
      slug: 'words',
      description: 'Words',
      tools: [
        defineTool({
          slug: 'WORDS_CHECK',
          description: 'Check a word',
          inputSchema: { type: 'object', properties: { word: { type: 'string', pattern: '^(a+)+$' } } },
          execute: async ({ word }) => ({ length: (word as string).length }),
        }),
      ],
    });
    const mux = new ToolMux({
      toolkits: [words],
      store: ':memory:',
      logger: quiet,
      provider: new LangChainProvider(),
    });
    try {
      const session = await mux.create('user_1', {
        toolkits: ['words'],
        sessionPreset: SessionPreset.DIRECT_TOOLS,
      });
      const tools = await session.tools();
      // the model is shown the pattern
      expect(JSON.stringify(tools[0]!.schema)).toContain('^(a+)+$');
      const hostile = `${'a'.repeat(28)}!`;
      const agentRun = (word: string, id: string) => {
        const model = fakeModel()
          .respond(
            new AIMessage({
              content: '',
              tool_calls: [
                { name: 'WORDS_CHECK', args: { word }, id, type: 'tool_call' },
                { name: 'WORDS_CHECK', args: { word: 'aaa' }, id: `${id}_good`, type: 'tool_call' },
              ],
            }),
          )
          .respond(new AIMessage('Done.'));
        return {
          model,
          run: () => createAgent({ model, tools }).invoke({ messages: [new HumanMessage('Check')] }),
        };
      };
      // a first run (LangGraph's first graph, the pattern engine's first load), not measured
      await agentRun('aa', 'call_warm').run();
      let attempt = 0;
      const measured = await longestTurn(async () => {
        const { model, run } = agentRun(hostile, `call_bad${attempt++}`);
        await run();
        return model;
      }, 100);
      const model = measured.value;
      const answers = model.calls[1]!.messages.filter((message) => ToolMessage.isInstance(message));
      const bad = answers.find((message) => (message as ToolMessage).tool_call_id.startsWith('call_bad'))!;
      const good = answers.find((message) => (message as ToolMessage).tool_call_id.endsWith('_good'))!;
      expect(bad.text).toContain('TOOL_ARGUMENTS_INVALID');
      expect(bad.text).toContain('word: does not match the pattern ^(a+)+$: send text that matches it');
      expect(good.text).toBe('{"length":3}');
      // CPU in the longest turn of the event loop; before, LangChain's check held it for seconds
      // (doubling with each more `a`)
      expect(measured.turnMs, turnReport(measured)).toBeLessThan(100);
      const statuses = (await session.logs()).items.map((entry) => `${entry.callId}:${entry.status}`);
      expect(statuses).toContain('call_bad0:error');
      expect(statuses).toContain('call_bad0_good:success');
    } finally {
      await mux.close();
    }
  }, 60_000);
});
