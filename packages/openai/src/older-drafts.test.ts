import { type Session, SessionPreset, ToolMux } from '@toolmux/core';
import {
  draft2020Violations,
  olderDraftToolkit,
  openaiReply,
  openaiToolParameters,
  openaiToolResults,
  type ScriptedRequest,
  startScriptedModelServer,
} from '@toolmux/core/test';
import OpenAI from 'openai';
import { afterEach, describe, expect, it } from 'vitest';
import { OpenAIProvider } from './index.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  await Promise.all(cleanups.splice(0).map((cleanup) => cleanup()));
});

/** A 400 naming the first tool whose parameters are not valid draft 2020-12; `undefined` when all are. */
function refusedForSchemas(request: ScriptedRequest) {
  for (const [name, parameters] of Object.entries(openaiToolParameters(request))) {
    const [violation] = draft2020Violations(parameters);
    if (violation === undefined) continue;
    return {
      status: 400,
      body: {
        error: {
          message: `Invalid schema for function '${name}': ${violation}`,
          type: 'invalid_request_error',
          param: 'tools',
          code: 'invalid_function_parameters',
        },
      },
    };
  }
  return undefined;
}

// what a strict model sends: every field, null for an absent optional one
const strictPay = (fields: Record<string, unknown>) => ({
  amount: null,
  percent: null,
  tip: null,
  card: null,
  cvc: null,
  ...fields,
});

describe('tools whose schemas are written in older JSON Schema drafts, with the real openai client', () => {
  it.each([false, true])(
    'strict: %s — every declared schema is draft 2020-12, and the calls honour the draft-04 bounds',
    async (strict) => {
      const { toolkit, received } = olderDraftToolkit();
      const mux = new ToolMux({
        provider: new OpenAIProvider({ strict, logger: { warn() {} } }),
        toolkits: [toolkit],
        store: ':memory:',
        logger: { debug() {}, warn() {}, error() {} },
      });
      const pay = (fields: Record<string, unknown>) => (strict ? strictPay(fields) : fields);
      const model = await startScriptedModelServer([
        (request) =>
          refusedForSchemas(request) ??
          openaiReply(request, [
            { id: 'call_zero', name: 'LEGACY_PAY', args: pay({ amount: 0 }) },
            { id: 'call_pay', name: 'LEGACY_PAY', args: pay({ amount: 0.5, percent: 99.5 }) },
            { id: 'call_pair', name: 'LEGACY_PAIR', args: { pair: ['a', 1] } },
            { id: 'call_broken', name: 'LEGACY_BROKEN', args: { count: 6 } },
          ]),
        (request) => refusedForSchemas(request) ?? openaiReply(request, []),
      ]);
      cleanups.push(
        () => mux.close(),
        () => model.close(),
      );
      const session = (await mux.create('user_1', {
        sessionPreset: SessionPreset.DIRECT_TOOLS,
      })) as Session<
        OpenAI.ChatCompletionTool[],
        OpenAI.ChatCompletion,
        OpenAI.ChatCompletionToolMessageParam[]
      >;
      const tools = await session.tools();
      const client = new OpenAI({ apiKey: 'sk-test', baseURL: `${model.url}/v1`, maxRetries: 0 });
      const messages: OpenAI.ChatCompletionMessageParam[] = [{ role: 'user', content: 'Pay' }];
      // before: LEGACY_PAY's parameters kept exclusiveMinimum: true (strict ones too)
      const first = await client.chat.completions.create({ model: 'gpt-test', messages, tools });
      messages.push(first.choices[0]!.message, ...(await session.handleToolCalls(first)));
      const last = await client.chat.completions.create({ model: 'gpt-test', messages, tools });
      expect(last.choices[0]!.message.content).toBe('done');

      const declared = openaiToolParameters(model.requests[0]!);
      const strictOf = Object.fromEntries(
        (model.requests[0]!.body.tools as Array<{ function: { name: string; strict?: boolean } }>).map(
          (tool) => [tool.function.name, tool.function.strict === true],
        ),
      );
      expect(strictOf.LEGACY_PAY).toBe(strict);
      expect(declared.LEGACY_PAY!.properties).toMatchObject({
        amount: { exclusiveMinimum: 0 },
        percent: { exclusiveMaximum: 100 },
      });
      expect(declared.LEGACY_PAIR!.properties).toEqual({
        pair: { type: 'array', prefixItems: [{ type: 'string' }, { type: 'number' }], items: false },
      });
      expect(declared.LEGACY_BROKEN).toEqual({ type: 'object', properties: {}, additionalProperties: true });

      const results = openaiToolResults(model.requests[1]!);
      expect(results.call_zero).toBe(
        'Error (TOOL_ARGUMENTS_INVALID): Invalid arguments for LEGACY_PAY: amount: is too small: send a number greater than 0',
      );
      expect(results.call_broken).toMatch(
        /^Error \(TOOL_DEFINITION_INVALID\): .*inputSchema\.properties\.count\.minimum: is a string: write a number/,
      );
      expect(received).toEqual({
        LEGACY_PAY: [{ amount: 0.5, percent: 99.5 }],
        LEGACY_PAIR: [{ pair: ['a', 1] }],
      });
    },
  );
});
