import Anthropic from '@anthropic-ai/sdk';
import { SessionPreset, ToolMux } from '@toolmux/core';
import {
  draft2020Violations,
  olderDraftToolkit,
  type ScriptedRequest,
  startScriptedModelServer,
} from '@toolmux/core/test';
import { afterEach, describe, expect, it } from 'vitest';
import { AnthropicProvider } from './index.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  await Promise.all(cleanups.splice(0).map((cleanup) => cleanup()));
});

/**
 * What the Messages API answers a request with a tool schema that is not valid draft 2020-12: the
 * whole request refused, every tool with it. `undefined` when every schema is valid.
 */
function refusedForSchemas(request: ScriptedRequest) {
  const tools = request.body.tools as Anthropic.Tool[];
  for (const [index, tool] of tools.entries()) {
    const [violation] = draft2020Violations(tool.input_schema);
    if (violation === undefined) continue;
    return {
      status: 400,
      body: {
        type: 'error',
        error: {
          type: 'invalid_request_error',
          message: `tools.${index}.custom.input_schema: JSON schema is invalid. It must match JSON Schema draft 2020-12 (${violation})`,
        },
      },
    };
  }
  return undefined;
}

function message(content: unknown[], stop: 'tool_use' | 'end_turn') {
  return {
    id: `msg_${stop}`,
    type: 'message',
    role: 'assistant',
    model: 'claude-test',
    content,
    stop_reason: stop,
    stop_sequence: null,
    usage: { input_tokens: 1, output_tokens: 1 },
  };
}

const CALLS = [
  { id: 'toolu_zero', name: 'LEGACY_PAY', input: { amount: 0 } },
  { id: 'toolu_pay', name: 'LEGACY_PAY', input: { amount: 0.5, percent: 99.5 } },
  { id: 'toolu_pair', name: 'LEGACY_PAIR', input: { pair: ['a', 1] } },
  { id: 'toolu_broken', name: 'LEGACY_BROKEN', input: { count: 6 } },
  { id: 'toolu_echo', name: 'LEGACY_ECHO', input: { text: 'hi' } },
];

describe('tools whose schemas are written in older JSON Schema drafts, with the real @anthropic-ai/sdk client', () => {
  it.each([false, true])(
    'strict: %s — the request carries only draft 2020-12 schemas, and the calls honour the draft-04 bounds',
    async (strict) => {
      const { toolkit, received } = olderDraftToolkit();
      const mux = new ToolMux({
        provider: new AnthropicProvider({ strict, logger: { warn() {} } }),
        toolkits: [toolkit],
        store: ':memory:',
        logger: { debug() {}, warn() {}, error() {} },
      });
      const model = await startScriptedModelServer([
        (request) =>
          refusedForSchemas(request) ??
          message(
            CALLS.map((call) => ({ type: 'tool_use', ...call })),
            'tool_use',
          ),
        (request) => refusedForSchemas(request) ?? message([{ type: 'text', text: 'done' }], 'end_turn'),
      ]);
      cleanups.push(
        () => mux.close(),
        () => model.close(),
      );
      const session = await mux.create('user_1', { sessionPreset: SessionPreset.DIRECT_TOOLS });
      const tools = await session.tools();
      const client = new Anthropic({ apiKey: 'sk-ant-test', baseURL: model.url, maxRetries: 0 });
      const messages: Anthropic.MessageParam[] = [{ role: 'user', content: 'Pay' }];
      // before: 400 "tools.0.custom.input_schema: JSON schema is invalid" (LEGACY_PAY's exclusiveMinimum: true)
      const first = await client.messages.create({ model: 'claude-test', max_tokens: 100, messages, tools });
      messages.push({ role: 'assistant', content: first.content }, await session.handleToolCalls(first));
      const last = await client.messages.create({ model: 'claude-test', max_tokens: 100, messages, tools });
      expect(last.content).toEqual([{ type: 'text', text: 'done' }]);

      const sent = new Map(
        (model.requests[0]!.body.tools as Anthropic.Tool[]).map((tool) => [tool.name, tool]),
      );
      const pay = sent.get('LEGACY_PAY')!;
      if (strict) {
        expect(pay.strict).toBe(true);
        expect(pay.input_schema.properties).toMatchObject({
          amount: { description: 'More than 0 Must be greater than 0.' },
          percent: { description: 'Must be less than 100.' },
        });
      } else {
        expect(pay.input_schema.properties).toMatchObject({
          amount: { type: 'number', exclusiveMinimum: 0 },
          percent: { type: 'number', exclusiveMaximum: 100 },
        });
      }
      expect(sent.get('LEGACY_PAIR')!.input_schema.properties).toEqual({
        pair: { type: 'array', prefixItems: [{ type: 'string' }, { type: 'number' }], items: false },
      });
      // a schema valid in no draft is handed out as any object: it cannot take the others down
      expect(sent.get('LEGACY_BROKEN')!.input_schema).toEqual({
        type: 'object',
        properties: {},
        additionalProperties: true,
      });

      const results = Object.fromEntries(
        (messages.at(-1)!.content as Anthropic.ToolResultBlockParam[]).map((block) => [
          block.tool_use_id,
          { error: block.is_error === true, text: block.content },
        ]),
      );
      expect(results.toolu_zero).toEqual({
        error: true,
        text: 'Error (TOOL_ARGUMENTS_INVALID): Invalid arguments for LEGACY_PAY: amount: is too small: send a number greater than 0',
      });
      expect(results.toolu_broken!.error).toBe(true);
      expect(results.toolu_broken!.text).toMatch(
        /^Error \(TOOL_DEFINITION_INVALID\): .*inputSchema\.properties\.count\.minimum: is a string: write a number/,
      );
      for (const id of ['toolu_pay', 'toolu_pair', 'toolu_echo']) expect(results[id]!.error).toBe(false);
      expect(received).toEqual({
        LEGACY_PAY: [{ amount: 0.5, percent: 99.5 }],
        LEGACY_PAIR: [{ pair: ['a', 1] }],
        LEGACY_ECHO: [{ text: 'hi' }],
      });
    },
  );
});
