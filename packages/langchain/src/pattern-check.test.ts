import { AIMessage, HumanMessage, ToolMessage } from '@langchain/core/messages';
import { fakeModel } from '@langchain/core/testing';
import { defineTool, defineToolkit, SessionPreset, ToolMux } from '@toolmux/core';
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

/** The longest gap between ticks of a 1 ms timer while `run` runs (ms). */
async function longestGap<T>(run: () => Promise<T>): Promise<{ value: T; gapMs: number }> {
  let last = performance.now();
  let gapMs = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    gapMs = Math.max(gapMs, now - last);
    last = now;
  }, 1);
  try {
    await new Promise((resolve) => setTimeout(resolve, 3));
    last = performance.now();
    const value = await run();
    await new Promise((resolve) => setTimeout(resolve, 3));
    return { value, gapMs };
  } finally {
    clearInterval(timer);
  }
}

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
      const model = fakeModel()
        .respond(
          new AIMessage({
            content: '',
            tool_calls: [
              { name: 'WORDS_CHECK', args: { word: hostile }, id: 'call_bad', type: 'tool_call' },
              { name: 'WORDS_CHECK', args: { word: 'aaa' }, id: 'call_good', type: 'tool_call' },
            ],
          }),
        )
        .respond(new AIMessage('Done.'));
      const { gapMs } = await longestGap(() =>
        createAgent({ model, tools }).invoke({ messages: [new HumanMessage('Check these words')] }),
      );
      const answers = model.calls[1]!.messages.filter((message) => ToolMessage.isInstance(message));
      const bad = answers.find((message) => (message as ToolMessage).tool_call_id === 'call_bad')!;
      const good = answers.find((message) => (message as ToolMessage).tool_call_id === 'call_good')!;
      expect(bad.text).toContain('TOOL_ARGUMENTS_INVALID');
      expect(bad.text).toContain('word: must match pattern "^(a+)+$"');
      expect(good.text).toBe('{"length":3}');
      // before, LangChain's check held the loop for seconds (doubling with each more `a`)
      expect(gapMs).toBeLessThan(250);
      expect((await session.logs()).items.map((entry) => entry.status).sort()).toEqual(['error', 'success']);
    } finally {
      await mux.close();
    }
  }, 60_000);
});
