import {
  CallToolRequestSchema,
  CancelledNotificationSchema,
  type JSONRPCMessage,
  JSONRPCMessageSchema,
  type JSONRPCRequest,
  ProgressTokenSchema,
} from '@modelcontextprotocol/sdk/types.js';
import { describeZodIssue, isPlainObject, pathUnder, type ZodInternals } from '@toolmux/core/internal';

/**
 * The MCP SDK's verdicts on incoming messages, without zod walking what they accept whatever it is.
 * Its schemas copy every key of a loose object (`params`, `_meta`, `result`) and check every key of
 * a record (a tools/call's `arguments`), each in one turn: 20,000 keys of arguments held the event
 * loop for 20 ms, and 100,000 keys of `_meta`, `params` or `result` for 0.2–0.6 s. So each schema
 * checks a stand-in of the message: the keys its objects name (a `params` of 100,000 keys is
 * looked at for its `_meta` alone, without listing its keys), and `{}` for `arguments` that are an
 * object, which such a record accepts whatever its keys. Loose and stripping objects accept any
 * other key, so the verdict and the issues are the ones the whole message gets (a property test
 * compares them). What passes on is the message as it was parsed, not zod's copy: arguments keep
 * a `__proto__` key, as REST's do.
 */

type Internals = ZodInternals & { _zod: { def: { catchall?: ZodInternals } } };

/** Whether `schema` is `z.record(z.string(), z.unknown())`, which accepts any plain object. */
function isRecordOfAnything(schema: Internals): boolean {
  const def = schema._zod.def;
  const key = def.keyType?._zod.def;
  const item = def.valueType?._zod.def.type;
  return (
    key?.type === 'string' &&
    (key.checks ?? []).length === 0 &&
    (item === 'unknown' || item === 'any') &&
    (def.checks ?? []).length === 0
  );
}

/**
 * What `schema` decides about `value` as it decides about `value` itself, without what it accepts
 * whatever it is: the named keys of an object that keeps or drops other keys (their own stand-ins),
 * `{}` for a plain object under a record of anything. Anything else is `value` itself.
 */
function standIn(schema: Internals, value: unknown): unknown {
  const def = schema._zod.def;
  if (def.type === 'optional' || def.type === 'nullable') return standIn(def.innerType as Internals, value);
  if (!isPlainObject(value)) return value;
  if (def.type === 'record') return isRecordOfAnything(schema) ? {} : value;
  const other = def.catchall?._zod.def.type;
  if (def.type !== 'object' || (other !== undefined && other !== 'unknown' && other !== 'any')) return value;
  const named: Record<string, unknown> = {};
  for (const [key, field] of fieldsOf(schema)) {
    // `Object.hasOwn`: a key the message leaves out stays out (zod tells absent from undefined)
    if (Object.hasOwn(value, key)) named[key] = standIn(field, value[key]);
  }
  return named;
}

/** The fields of an object schema, listed once (every message's check goes through them). */
const fields = new WeakMap<Internals, ReadonlyArray<[string, Internals]>>();
function fieldsOf(schema: Internals): ReadonlyArray<[string, Internals]> {
  let listed = fields.get(schema);
  if (listed === undefined) {
    listed = Object.entries(schema._zod.def.shape ?? {}) as Array<[string, Internals]>;
    fields.set(schema, listed);
  }
  return listed;
}

const MESSAGE_OPTIONS = (JSONRPCMessageSchema as unknown as { options: Internals[] }).options;
/** The fields of the message schema's options, which are all strict: no other key is accepted. */
const MESSAGE_FIELDS = new Map<string, Internals>();
for (const option of MESSAGE_OPTIONS) {
  for (const [key, field] of Object.entries(option._zod.def.shape ?? {})) {
    if (!MESSAGE_FIELDS.has(key)) MESSAGE_FIELDS.set(key, field as Internals);
  }
}

/**
 * Whether `message` is a JSON-RPC message (`JSONRPCMessageSchema`'s verdict). Its keys are listed
 * (a key no option names is refused by every one): zod listed and copied them. A message whose
 * key count the parser gives (`keyCounts`, from `parseJsonText`) and that has more keys than the
 * options name is refused without listing them: for an object of the most keys a body may hold
 * (`MAX_OBJECT_KEYS`) that is one native call of 25–50 ms. One it does not count was made whole by
 * `JSON.parse` (a small body, a short batch item): at most a few thousand keys, under a millisecond.
 */
export function isJsonRpcMessage(
  message: unknown,
  keyCounts?: WeakMap<object, number>,
): message is JSONRPCMessage {
  if (!isPlainObject(message)) return JSONRPCMessageSchema.safeParse(message).success;
  if ((keyCounts?.get(message) ?? 0) > MESSAGE_FIELDS.size) return false;
  const fields: Record<string, unknown> = {};
  for (const key in message) {
    const field = MESSAGE_FIELDS.get(key);
    if (field === undefined) return false;
    // a union's options share what they name `params` and `id` (checked by the property test)
    fields[key] = standIn(field, message[key]);
  }
  return JSONRPCMessageSchema.safeParse(fields).success;
}

/**
 * A tools/call request's name and arguments (`CallToolRequestSchema`'s verdict), or the first issue
 * of its params: its path (deeper than zod's where a union's closest form is named) and its words,
 * as a tool's refused arguments are worded (core's `describeZodIssue`: `is a string: send a
 * number`, not zod's "Invalid input: expected number, received string"). The arguments are the
 * parsed object itself, not zod's copy.
 */
export function toolCallOf(
  message: JSONRPCRequest,
):
  | { success: true; name: string; arguments: Record<string, unknown> | undefined }
  | { success: false; path: PropertyKey[]; message: string } {
  const { params } = message;
  const checkedParams = standIn(CallToolRequestSchema.shape.params as unknown as Internals, params);
  // `arguments: null` is no arguments (as a null tools/list cursor is no cursor): clients send null
  // for a tool without parameters
  if (isPlainObject(checkedParams) && checkedParams.arguments === null) delete checkedParams.arguments;
  const checkedRequest = { method: message.method, params: checkedParams };
  const checked = CallToolRequestSchema.safeParse(checkedRequest);
  if (!checked.success) {
    const [first] = checked.error.issues;
    if (first === undefined) return { success: false, path: [], message: 'is not valid.' };
    return { success: false, ...describeZodIssue(CallToolRequestSchema, checkedRequest, first) };
  }
  const { name, arguments: args } = params as { name: string; arguments?: Record<string, unknown> | null };
  return { success: true, name, arguments: args ?? undefined };
}

/** A `notifications/cancelled`'s request id and reason (`CancelledNotificationSchema`'s verdict). */
export function cancellationOf(
  message: unknown,
): { requestId?: string | number; reason?: string } | undefined {
  if (!isPlainObject(message)) return undefined;
  const checked = CancelledNotificationSchema.safeParse({
    method: message.method,
    params: standIn(CancelledNotificationSchema.shape.params as unknown as Internals, message.params),
  });
  if (!checked.success) return undefined;
  const { requestId, reason } = checked.data.params;
  return { requestId, reason };
}

/**
 * The progress token of a request (`params._meta.progressToken`: a string or an integer, as
 * `ProgressTokenSchema` has it), or undefined when it asks for no progress. Read without listing the
 * keys of `params` or `_meta`.
 */
export function progressTokenOf(message: JSONRPCRequest): string | number | undefined {
  const meta = isPlainObject(message.params) ? message.params._meta : undefined;
  if (!isPlainObject(meta) || !Object.hasOwn(meta, 'progressToken')) return undefined;
  const checked = ProgressTokenSchema.safeParse(meta.progressToken);
  return checked.success ? checked.data : undefined;
}

/**
 * A path in a request's `params` as a tool's refused arguments name one (see `argumentPath`):
 * `params.task.ttl`, `params._meta.progressToken`, `params.arguments.tags[0]`; `params` itself for
 * an empty path. `path` starts at the request (its first key is `params`).
 */
export function paramsPath(path: readonly PropertyKey[]): string {
  return pathUnder('params', path[0] === 'params' ? path.slice(1) : path);
}
