import {
  CallToolRequestSchema,
  CancelledNotificationSchema,
  JSONRPCMessageSchema,
  type JSONRPCRequest,
  RELATED_TASK_META_KEY,
} from '@modelcontextprotocol/sdk/types.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { cancellationOf, isJsonRpcMessage, paramsPath, toolCallOf } from './message-check.js';

/**
 * The endpoint's checks give the MCP SDK's verdicts (and, for tools/call, the path of the first
 * issue) on any message: random ones shaped like JSON-RPC, with hostile parts (`__proto__` and other
 * extra keys at every level, arguments that are not objects, null, wrong types), parsed from JSON
 * text as a body is.
 */

const KEYS = [
  'jsonrpc',
  'id',
  'method',
  'params',
  'result',
  'error',
  '_meta',
  'name',
  'arguments',
  'task',
  'ttl',
  'progressToken',
  RELATED_TASK_META_KEY,
  'taskId',
  'requestId',
  'reason',
  'code',
  'message',
  'data',
  '__proto__',
  'constructor',
  'extra',
];

/** An object of `entries`, a `__proto__` key included as an own key (as JSON.parse makes it). */
const objectOf = (entries: Array<[string, unknown]>) => Object.fromEntries(entries);

const { value: anyValue } = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    fc.constantFrom('2.0', 'tools/call', 'notifications/cancelled', 'ping', null, true, 0, 1.5, -7),
    fc.string({ maxLength: 6 }),
    fc.integer(),
    fc.array(tie('value'), { maxLength: 3 }),
    fc.array(fc.tuple(fc.constantFrom(...KEYS), tie('value')), { maxLength: 4 }).map(objectOf),
  ),
}));

/**
 * Mostly an object of `fields` (each its own value, now and then any value; those not `required`
 * now and then left out), now and then with extra keys, or any value instead.
 */
function objectWith(
  fields: Record<string, fc.Arbitrary<unknown>>,
  required: string[] = [],
): fc.Arbitrary<unknown> {
  const named = fc.record(
    Object.fromEntries(
      Object.entries(fields).map(([key, field]) => [
        key,
        fc.oneof({ arbitrary: field, weight: 6 }, { arbitrary: anyValue, weight: 1 }),
      ]),
    ),
    { requiredKeys: required },
  );
  const extra = fc.array(fc.tuple(fc.constantFrom(...KEYS, 'other'), anyValue), {
    minLength: 1,
    maxLength: 2,
  });
  return fc.oneof(
    { arbitrary: named, weight: 8 },
    {
      arbitrary: fc
        .tuple(named, extra)
        .map(([object, more]) => ({ ...(object as object), ...objectOf(more) })),
      weight: 1,
    },
    { arbitrary: anyValue, weight: 1 },
  );
}

const meta = objectWith({
  progressToken: fc.oneof(fc.string({ maxLength: 4 }), fc.integer()),
  [RELATED_TASK_META_KEY]: objectWith({ taskId: fc.string({ maxLength: 4 }) }, ['taskId']),
});
const callFields = {
  name: fc.string({ maxLength: 6 }),
  arguments: fc.oneof(
    fc.constant(null),
    fc.array(fc.tuple(fc.constantFrom(...KEYS), anyValue), { maxLength: 4 }).map(objectOf),
  ),
};
const params = objectWith({
  _meta: meta,
  ...callFields,
  task: objectWith({ ttl: fc.integer() }),
  requestId: fc.oneof(fc.string({ maxLength: 4 }), fc.integer()),
  reason: fc.string({ maxLength: 6 }),
});
const jsonrpc = fc.constant('2.0');
const id = fc.oneof(fc.string({ maxLength: 4 }), fc.integer(), fc.double());
const method = fc.constantFrom('tools/call', 'notifications/cancelled', 'ping');
const message = fc
  .oneof(
    objectWith({ jsonrpc, id, method, params }, ['jsonrpc', 'id', 'method']),
    objectWith(
      {
        jsonrpc,
        id,
        method: fc.constant('tools/call'),
        params: objectWith({ ...callFields, _meta: meta, task: objectWith({ ttl: fc.integer() }) }, ['name']),
      },
      ['jsonrpc', 'id', 'method', 'params'],
    ),
    objectWith({ jsonrpc, method, params }, ['jsonrpc', 'method']),
    objectWith({ jsonrpc, id, result: objectWith({ _meta: meta }) }, ['jsonrpc', 'id', 'result']),
    objectWith(
      {
        jsonrpc,
        id,
        error: objectWith({ code: fc.integer(), message: fc.string({ maxLength: 6 }), data: anyValue }, [
          'code',
          'message',
        ]),
      },
      ['jsonrpc', 'error'],
    ),
  )
  .map((value) => JSON.parse(JSON.stringify(value) ?? 'null') as unknown);

/** The endpoint's old check of a tools/call: `arguments: null` left out, then the SDK's schema. */
function sdkToolCall(request: JSONRPCRequest) {
  const callParams = request.params as Record<string, unknown> | undefined;
  if (callParams?.arguments !== null) return CallToolRequestSchema.safeParse(request);
  const { arguments: _null, ...rest } = callParams;
  return CallToolRequestSchema.safeParse({ ...request, params: rest });
}

describe("MCP messages are checked with the SDK's verdicts", () => {
  it('gives JSONRPCMessageSchema, CallToolRequestSchema and CancelledNotificationSchema verdicts on any message', () => {
    // how many messages of each kind the run met (a generator that made no valid ones would compare little)
    const met = { invalid: 0, valid: 0, cancellations: 0, calls: 0, badCalls: 0 };
    fc.assert(
      fc.property(message, (value) => {
        const sdk = JSONRPCMessageSchema.safeParse(value);
        met[sdk.success ? 'valid' : 'invalid']++;
        expect(isJsonRpcMessage(value)).toBe(sdk.success);
        const cancelled = CancelledNotificationSchema.safeParse(value);
        expect(cancellationOf(value)).toEqual(
          cancelled.success
            ? { requestId: cancelled.data.params.requestId, reason: cancelled.data.params.reason }
            : undefined,
        );
        if (cancelled.success) met.cancellations++;
        if (!sdk.success || !('method' in sdk.data) || !('id' in sdk.data)) return;
        const request = value as JSONRPCRequest;
        const expected = sdkToolCall(request);
        const call = toolCallOf(request);
        met[expected.success ? 'calls' : 'badCalls']++;
        if (!expected.success) {
          // the SDK's first issue, at its path or deeper (the form of a union that came closest), in
          // a refused argument's words rather than zod's
          const path = expected.error.issues[0]?.path ?? [];
          expect(call).toMatchObject({ success: false, message: expect.any(String) });
          if (call.success) return;
          expect(call.path.slice(0, path.length)).toEqual(path);
          expect(call.message).not.toMatch(/Invalid input|expected .*received/);
          expect(paramsPath(call.path)).not.toMatch(/\.\d/);
          return;
        }
        const given = (request.params as { arguments?: unknown }).arguments;
        expect(call).toEqual({
          success: true,
          name: expected.data.params.name,
          arguments: given ?? undefined,
        });
        // the parsed arguments themselves (zod's copy drops a `__proto__` key)
        if (call.success && given) expect(call.arguments).toBe(given);
      }),
      { numRuns: 3_000 },
    );
    for (const count of Object.values(met)) expect(count).toBeGreaterThan(20);
  });

  it('refuses extra keys, a `__proto__` key and arguments that are not objects, as the SDK does', () => {
    const call = (args: unknown = {}) =>
      JSON.parse(
        JSON.stringify({
          jsonrpc: '2.0',
          id: 1,
          method: 'tools/call',
          params: { name: 'T', arguments: args },
        }),
      ) as JSONRPCRequest & Record<string, unknown>;
    const withProto = JSON.parse('{"jsonrpc":"2.0","id":1,"method":"ping","__proto__":{"x":1}}');
    expect(isJsonRpcMessage(withProto)).toBe(false);
    expect(JSONRPCMessageSchema.safeParse(withProto).success).toBe(false);
    expect(isJsonRpcMessage({ ...call(), extra: 1 })).toBe(false);
    // the parser's count of a message's keys is taken without listing them
    const counted = call();
    expect(isJsonRpcMessage(counted, new WeakMap([[counted, 4]]))).toBe(true);
    expect(isJsonRpcMessage(counted, new WeakMap([[counted, 80_000]]))).toBe(false);
    for (const args of [[], 'x', 1, true]) {
      expect(toolCallOf(call(args))).toMatchObject({ success: false, path: ['params', 'arguments'] });
    }
    const protoArguments = JSON.parse(
      '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"T","arguments":{"__proto__":{"a":1},"b":2}}}',
    );
    const checked = toolCallOf(protoArguments);
    expect(checked.success && Object.keys(checked.arguments!)).toEqual(['__proto__', 'b']);
  });
});
