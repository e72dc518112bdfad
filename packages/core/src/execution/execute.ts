import { apiRef, type ErrorAudience, renderApiRefs } from '../api-refs.js';
import { credentialSecrets } from '../auth/credentials.js';
import { shownFieldsOf } from '../auth/schemes.js';
import type { Credentials, JSONSchema, Tool, ToolContext, Toolkit } from '../catalog/types.js';
import type { MultiAccountConfig } from '../config/session-config.js';
import {
  isToolMuxErrorCode,
  MAX_QUOTED_CHARS,
  quotedMessage,
  quotedText,
  ToolMuxError,
  type ToolMuxErrorCode,
} from '../errors.js';
import { applicationReader, forReader, type HintReader, messageFor } from '../meta-tools/hints.js';
import { META_TOOLKIT } from '../meta-tools/meta-tools.js';
import { createNullStripper, nullStripperOf } from '../schema/nulls.js';
import {
  compilesOffThread,
  formatValidationIssues,
  slicedValidatorOf,
  validatesOffThread,
} from '../schema/validate.js';
import { validationOwner, validationThread } from '../schema/validation-thread.js';
import type { ExecutionLogRecord } from '../store/types.js';
import {
  abortedCallMessage,
  carryingTimeLimit,
  countToolmuxStop,
  runUntilAborted,
  stoppedByToolmux,
} from '../util/abort.js';
import { newId } from '../util/ids.js';
import { MAX_JSON_DEPTH } from '../util/json-depth.js';
import { jsonSafeResult } from '../util/json-safe.js';
import {
  JsonShapeWalk,
  jsonTextSliced,
  MAX_OBJECT_KEYS,
  parseJsonSliced,
  SLICED_PARSE_FROM,
} from '../util/json-slices.js';
import type { Logger } from '../util/logger.js';
import { maskedResult, secretsLeftAfterMasking } from '../util/masked-result.js';
import {
  MAX_LOG_PAYLOAD_BYTES,
  maskSecrets,
  maskSecretsLeading,
  redactForLog,
  truncateUtf8,
} from '../util/redact.js';
import { WorkSlice, yieldToEventLoop } from '../util/slices.js';
import { shownValue, textProblem } from '../util/stored-text.js';
import type { CallInFlight, CallsInFlight } from './calls-in-flight.js';
import type { ExecutionLogWriter } from './log-writer.js';
import type { ToolResult } from './result.js';

/**
 * Arguments with this many properties and items, or this many characters of strings, make a large
 * call (about a quarter of a megabyte of JSON): its stages (depth check, validation, the tool,
 * redaction of the arguments, of the result) each run in their own event-loop turn.
 */
const LARGE_CALL_ENTRIES = 4096;
const LARGE_CALL_CHARS = 256 * 1024;

/** @default 60 seconds */
export const DEFAULT_TOOL_TIMEOUT_MS = 60_000;

/**
 * How many times one call renews refused credentials: once by itself, then only for credentials
 * other calls renewed meanwhile.
 */
const MAX_RENEWALS = 3;

/** Everything one call needs besides the tool and its arguments. */
export interface ExecutionEnvironment {
  /** Where every call's log entry goes (group commit: a call answers once its entry is stored). */
  logs: ExecutionLogWriter;
  logger: Logger;
  fetch: typeof globalThis.fetch;
  /** Picks the connected account and loads its credentials (precedence rules). */
  resolveAccount: (request: AccountRequest) => Promise<ResolvedAccount>;
  /**
   * A handler threw CREDENTIALS_REJECTED: the credentials to run it once more with (an OAuth token
   * refreshed now, or one another call refreshed meanwhile), or a CONNECTION_EXPIRED error once the
   * account is marked EXPIRED. `final`: the handler refused the renewed credentials too; then only
   * credentials another call renewed since are answered, or null (the refusal stands).
   */
  renewCredentials?: (request: RenewRequest) => Promise<ResolvedAccount | null>;
  /** The calls started and not answered, which `close()` waits for (and stops after its timeout). */
  calls?: CallsInFlight;
}

export interface RenewRequest {
  toolkit: Toolkit;
  accountId: string;
  /** The credentials the provider refused. */
  rejected: Credentials | undefined;
  final: boolean;
  /** The call's user and its session's choices: what an account that expires now leaves it. */
  userId?: string;
  selection?: AccountSelection | undefined;
  /**
   * Aborts when the call no longer waits for the answer (its caller aborted it, its timeout passed,
   * `close()` stopped it): waits for a token refresh end then, the refresh itself goes on.
   */
  signal?: AbortSignal;
  /** When the call's timeout ends it (`Date.now()` time): see `CredentialWait.deadline`. */
  deadline?: number;
}

/** What a session says about accounts (its config's `connectedAccounts` and `authConfigs`). */
export interface AccountSelection {
  connectedAccounts?: Readonly<Record<string, readonly string[]>>;
  authConfigs?: Readonly<Record<string, string>>;
  /** The session's `multiAccount` settings, when it has them. */
  multiAccount?: Readonly<MultiAccountConfig>;
}

export interface AccountRequest {
  toolkit: Toolkit;
  userId: string;
  sessionId: string | null;
  /** Explicit account for direct execution (`tools.execute({ connectedAccountId })`). */
  connectedAccountId?: string;
  /** The account a session call names (`execute(slug, args, { account })`): an id or an alias. */
  account?: string;
  /** The session's choices for the precedence rules. */
  selection?: AccountSelection;
  /** Only find the account (connection status): no credentials, no token refresh. */
  peek?: boolean;
  /** Aborts when the call no longer waits for its credentials (see `RenewRequest.signal`). */
  signal?: AbortSignal;
  /** When the call's timeout ends it (`Date.now()` time): see `CredentialWait.deadline`. */
  deadline?: number;
}

export interface ResolvedAccount {
  accountId: string | null;
  credentials: Credentials | undefined;
  /** The account's status, when there is an account. */
  status?: string;
  /** The credential values to mask in logs and errors. @default every credential value */
  secrets?: string[];
}

export interface ExecuteRequest {
  tool: Tool;
  toolkit: Toolkit;
  arguments: unknown;
  userId: string;
  sessionId: string | null;
  callId?: string;
  /** The log entry of the call that made this one (a workbench cell, a multi-execute). */
  parentId?: string;
  signal?: AbortSignal;
  connectedAccountId?: string;
  /** The account a session call names: an id or an alias (see `AccountRequest.account`). */
  account?: string;
  /** The session's choices for the precedence rules. */
  selection?: AccountSelection;
  /**
   * Who reads a failure (which meta-tools a message may point to). @default an application: no
   * meta-tools, with or without a session as `sessionId` says
   */
  reader?: HintReader;
  /**
   * Given the call's log entry to store instead of storing it and waiting for its commit: the
   * caller stores it and answers nobody outside until it has committed (a workbench cell's calls,
   * whose entries the cell writes together; the cell's own answer waits for them).
   */
  holdLog?: (entry: ExecutionLogRecord) => void;
  /** The call, counted in flight already (by `admitCall`): `executeTool` leaves it when it answers. */
  inFlight?: CallInFlight;
  /**
   * Why a remote-mode client refused the call's arguments, which JSON cannot carry (a NaN, a sparse
   * array's holes; see {@link shapeArgumentsMessage}): the call is refused with TOOL_ARGUMENTS_INVALID
   * and this message where its arguments are checked, after the checks before them (the session, the
   * tool), as an embedded call with those arguments is.
   */
  argumentsRefused?: string;
}

/**
 * Waits for `admitting`, whether a call of `slug` may run at all, as part of the call: `close()`
 * waits for it as for a call in flight (and once `close()` began, this rejects with TOOLMUX_CLOSED).
 * A ToolMuxError it rejects with is the call's failed result (`refused`), without a log entry (a
 * session call whose session was deleted). Else the call goes on, still counted in flight: hand
 * `inFlight` to `executeTool` (`ExecuteRequest.inFlight`), or give it back with `calls.leave()`.
 */
export async function admitCall(
  env: ExecutionEnvironment,
  slug: string,
  sessionId: string | null,
  admitting: Promise<void>,
): Promise<{ refused: ToolResult } | { inFlight: CallInFlight | undefined }> {
  // handled at once: a refusal of a call that close() stops is not left unhandled
  const settled = admitting.then(
    () => undefined,
    (error: unknown) => error ?? new Error('refused'),
  );
  const { calls } = env;
  const inFlight = calls?.enter(slug, sessionId);
  const refused = await settled;
  if (refused === undefined) return { inFlight };
  if (inFlight) calls?.leave(inFlight);
  if (!ToolMuxError.isInstance(refused)) throw refused;
  return {
    refused: { successful: false, data: null, error: refused.message, code: refused.code, logId: '' },
  };
}

const NO_ACCOUNT: ResolvedAccount = Object.freeze({ accountId: null, credentials: undefined });

const stripperCache = new WeakMap<object, (value: unknown) => unknown>();

/**
 * `value` without the `null`s strict mode sent for optional fields of `schema` (see
 * `createNullStripper`). The stripper walks the whole schema once, at its first call: for a large
 * schema that walk is done in the validation thread. A call's arguments are stripped by the tool's
 * own schema before validation; `tools()`'s `beforeExecute` gets them stripped by the schema the
 * model saw (see `applyToolModifiers`).
 */
export async function stripStrictNulls(schema: JSONSchema, value: unknown): Promise<unknown> {
  let strip = stripperCache.get(schema);
  if (!strip) {
    strip = compilesOffThread(schema)
      ? nullStripperOf(await validationThread.nullPlan(JSON.stringify(schema)))
      : createNullStripper(schema);
    stripperCache.set(schema, strip);
  }
  return strip(value);
}

class ToolCallFailure extends Error {
  readonly code: ToolMuxErrorCode;
  constructor(code: ToolMuxErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}

/**
 * Why a call's arguments that are text (every input schema takes an object) are refused: most often
 * JSON a model broke (cut off at its token limit, a quote left out), which an SDK hands over as it
 * is (`parseToolArguments`), so the model is told what was wrong with its JSON, not only that a
 * string is not an object.
 */
function textArgumentsProblem(slug: string, text: string): string {
  const fix = 'Send them as one JSON object, as its input schema describes.';
  const trimmed = text.trimStart();
  if (trimmed.startsWith('{') || trimmed.startsWith('[')) {
    try {
      JSON.parse(text);
    } catch (error) {
      return `The arguments of ${slug} are not valid JSON (${quotedMessage(error)}): ${shownValue(text)}. ${fix}`;
    }
  }
  return `The arguments of ${slug} are a string (${shownValue(text)}), not a JSON object. ${fix}`;
}

/**
 * Why arguments the shape walk refused are refused, or undefined: holding an array that is mostly
 * holes (an application's array indexed by ids, see `JsonShapeWalk.sparse`), whose holes JSON
 * (validation's copy, the log, a remote call's request) would write as `null` each; or an object of
 * more than {@link MAX_OBJECT_KEYS} keys (`JsonShapeWalk.wide`), refused as a result holding one is;
 * or holding a NaN or ±Infinity (`JsonShapeWalk.nonFinite`), which no tool expects, as JSON has no
 * number for it (a body's `1e999` reads as Infinity), and which the log would store as `null`.
 */
export function shapeArgumentsMessage(
  slug: string,
  shape: Pick<JsonShapeWalk, 'sparse' | 'wide' | 'nonFinite'>,
): string | undefined {
  if (shape.sparse !== undefined)
    return `The arguments of ${slug} are not JSON data: ${shape.sparse.path} ${shape.sparse.problem}.`;
  if (shape.nonFinite !== undefined)
    return `The arguments of ${slug} are not JSON data: ${shape.nonFinite.path} ${shape.nonFinite.problem}.`;
  if (shape.wide !== undefined)
    return `The arguments of ${slug} cannot be taken: ${shape.wide.path} ${shape.wide.problem}.`;
  return undefined;
}

/**
 * `value` as JSON carries it: own enumerable properties only (none inherited from a prototype), a
 * Date as its ISO string, what `toJSON` gives. Arguments JSON cannot carry (a BigInt) are refused.
 * `JSON.parse(JSON.stringify(value))`, written and read a slice at a time as plain arguments are
 * walked: a megabyte of them is tens of milliseconds each way (a small value is one native call).
 */
async function asJsonData(slug: string, value: unknown, slice: WorkSlice): Promise<unknown> {
  let text: string | undefined;
  try {
    text = await jsonTextSliced(value, slice);
  } catch (error) {
    throw new ToolCallFailure(
      'TOOL_ARGUMENTS_INVALID',
      `The arguments of ${slug} are not JSON data (${quotedMessage(error)}). Send them as one JSON object, as its input schema describes.`,
    );
  }
  if (text === undefined) return undefined;
  return text.length < SLICED_PARSE_FROM ? JSON.parse(text) : parseJsonSliced(text, slice);
}

/**
 * One run of a call: getting its credentials (account resolution, a token refresh, a renewal after
 * CREDENTIALS_REJECTED) and running its handler with them, under the tool's timeout, which starts
 * with the wait for credentials. The caller's abort, the timeout and `close()` (once it stops the
 * call) abort `signal`: the wait for credentials ends at once, and the handler's `ctx.signal` fires.
 */
class CallAttempt {
  readonly #controller = new AbortController();
  readonly #timer: NodeJS.Timeout;
  /** When the timeout ends the call (`Date.now()` time). */
  readonly deadline: number;
  readonly #caller: AbortSignal | undefined;
  readonly #inFlight: CallInFlight | undefined;
  readonly #onCallerAbort: () => void;
  /** What the call is doing: named by the message of an abort. */
  #stage: 'credentials' | 'handler' = 'credentials';

  constructor(
    tool: Tool,
    caller: AbortSignal | undefined,
    inFlight: CallInFlight | undefined,
    /** The handler ran already and refused its credentials: this run waits for renewed ones. */
    renewal = false,
  ) {
    const timeoutMs = tool.timeoutMs ?? DEFAULT_TOOL_TIMEOUT_MS;
    const notRun = renewal ? 'so it did not run again' : 'so it did not run';
    this.deadline = Date.now() + timeoutMs;
    const controller = this.#controller;
    this.#caller = caller;
    this.#inFlight = inFlight;
    // the calls its handler makes under ctx.signal (a meta-tool's) say that toolmux stopped them, and
    // why: their caller did not abort them
    this.#timer = setTimeout(
      () =>
        controller.abort(
          stoppedByToolmux(
            new ToolCallFailure(
              'TOOL_TIMEOUT',
              this.#stage === 'handler'
                ? `${tool.slug} did not finish within ${timeoutMs} ms and was stopped.`
                : `${tool.slug} did not finish within ${timeoutMs} ms and was stopped: it was still waiting for its connected account's credentials (a token refresh), ${notRun}.`,
            ),
            `the ${tool.slug} call it ran in did not finish within its timeout of ${timeoutMs} ms`,
          ),
        ),
      timeoutMs,
    );
    this.#onCallerAbort = () => {
      const during =
        this.#stage === 'handler'
          ? ''
          : ` while it waited for its connected account's credentials (a token refresh), ${notRun}`;
      // stopped by toolmux itself (a server's drain ended): counted once by what stopped it, and a
      // close() meanwhile does not count it again as a call it stopped
      const inFlightNow = this.#inFlight;
      if (inFlightNow?.stoppedByToolmux !== true && countToolmuxStop(caller) && inFlightNow) {
        inFlightNow.stoppedByToolmux = true;
      }
      // a time limit (or a stop of toolmux's own: the workbench cell the call was made from ended)
      // that stopped the call stops the calls its handler makes under ctx.signal (a meta-tool's):
      // they name it too
      controller.abort(
        carryingTimeLimit(
          new ToolCallFailure('TOOL_ABORTED', abortedCallMessage(tool.slug, caller, during)),
          tool.slug,
          caller,
        ),
      );
    };
    // aborted as a handler refused its credentials: the renewal does not start
    if (caller?.aborted) this.#onCallerAbort();
    else caller?.addEventListener('abort', this.#onCallerAbort, { once: true });
    inFlight?.running((closeTimeoutMs) =>
      controller.abort(
        stoppedByToolmux(
          new ToolCallFailure(
            'TOOL_ABORTED',
            this.#stage === 'handler'
              ? `${tool.slug} was stopped: its ToolMux was closed, and the call ran on past the ${closeTimeoutMs} ms that close() waits for calls in flight.`
              : `${tool.slug} was stopped: its ToolMux was closed, and the call was still waiting for its connected account's credentials (a token refresh) past the ${closeTimeoutMs} ms that close() waits for calls in flight.`,
          ),
          `its ToolMux was closed, and the ${tool.slug} call it ran in ran on past the ${closeTimeoutMs} ms that close() waits for calls in flight`,
        ),
      ),
    );
  }

  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  /**
   * Waits for credentials (`wait` is handed the signal, to end its own waits): rejects with the
   * abort's failure at once when the call is aborted meanwhile.
   */
  credentials<T>(wait: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const { signal } = this.#controller;
    // aborted already: rejects without starting the wait
    return signal.aborted ? Promise.reject(signal.reason) : runUntilAborted(() => wait(signal), signal);
  }

  /** From now on the handler runs. */
  handler(): void {
    this.#stage = 'handler';
  }

  end(): void {
    clearTimeout(this.#timer);
    this.#caller?.removeEventListener('abort', this.#onCallerAbort);
    if (this.#inFlight) this.#inFlight.stop = undefined;
  }
}

/**
 * The one path every tool call takes (docs/sessions.md):
 * validate → account → credentials → run under a timeout → log. Never throws for a tool's failure.
 */
export function executeTool(env: ExecutionEnvironment, request: ExecuteRequest): Promise<ToolResult> {
  // the validation thread's checks of the call (its arguments, an MCP tool's result) are its
  // session's: sessions take turns there
  return validationOwner.run(request.sessionId ?? `user ${request.userId}`, () => runTool(env, request));
}

/**
 * Per running meta-tool call (by its log id), the credentials its calls showed in their results
 * (fields a scheme declares `secret: false`, see `secretsLeftAfterMasking`): a multi-execute's or a
 * workbench cell's result quotes its calls' results, and its own log entry masks those as theirs do.
 * Only calls of this process are collected (a remote client's multi-execute makes its own entry).
 */
const shownByParent = new Map<string, Set<string>>();

async function runTool(env: ExecutionEnvironment, request: ExecuteRequest): Promise<ToolResult> {
  const { calls } = env;
  // counted until it has answered (its entry stored): `close()` waits for it
  const inFlight = request.inFlight ?? calls?.enter(request.tool.slug, request.sessionId);
  const logId = newId('log');
  const collects = request.toolkit === META_TOOLKIT;
  if (collects) shownByParent.set(logId, new Set());
  try {
    const { tool, userId, sessionId } = request;
    const started = performance.now();
    let accountId: string | null = null;
    let secrets: string[] = [];
    // masked in the result: the credentials but the fields no scheme keeps secret (a base URL)
    let resultSecrets: string[] = [];
    let result: ToolResult;
    // large arguments: the stages below let other work run between them (never for small calls,
    // so concurrent small calls still run in call order and share one log batch)
    let large = false;
    // before anything walks them: null stripping and validation recurse. A megabyte of arguments
    // is walked a slice at a time (small ones in one go, without leaving the turn)
    const shape = new JsonShapeWalk(request.arguments, MAX_JSON_DEPTH, {
      root: 'arguments',
      maxKeys: MAX_OBJECT_KEYS,
      finiteNumbers: true,
    });
    // the keys of wide objects the walk listed, for the log's redaction (listing them is a long turn);
    // an argument the tool changed meanwhile is logged with the keys it had when it was checked
    const listedKeys = (object: object) => shape.wideKeys.get(object);
    // and of wide objects in the result (that are not in the arguments), listed by its check
    let resultKeys: ReadonlyMap<object, readonly string[]> | undefined;
    try {
      const slice = new WorkSlice();
      const due = () => slice.due();
      while (!shape.step(due)) await slice.pause();
      large = shape.entries >= LARGE_CALL_ENTRIES || shape.chars >= LARGE_CALL_CHARS;
      if (shape.tooDeep) {
        throw new ToolCallFailure(
          'TOOL_ARGUMENTS_INVALID',
          `The arguments of ${tool.slug} nest objects and arrays more than ${MAX_JSON_DEPTH} levels deep, which its input schema cannot need: send them as the schema describes.`,
        );
      }
      const refused = request.argumentsRefused ?? shapeArgumentsMessage(tool.slug, shape);
      if (refused !== undefined) throw new ToolCallFailure('TOOL_ARGUMENTS_INVALID', refused);
      if (large) await yieldToEventLoop();
      if (typeof request.arguments === 'string') {
        throw new ToolCallFailure(
          'TOOL_ARGUMENTS_INVALID',
          textArgumentsProblem(tool.slug, request.arguments),
        );
      }
      // not plain JSON data (a framework's copy made a `__proto__` key the prototype, an application
      // passed a Date): the tool and its validation get it as JSON carries it, as from a remote session
      const given = shape.notPlain
        ? await asJsonData(tool.slug, request.arguments, slice)
        : request.arguments;
      const args = await stripStrictNulls(tool.inputSchema, given ?? {});
      // a JSON Schema validator copies the arguments first (defaults are written into the copy): a
      // slice at a time for a large call
      // (and whatever their size for a large schema or one with a pattern RE2 cannot run, checked in
      // the validation thread: a check here never waits for the pattern worker)
      const sliced =
        large || validatesOffThread(tool.validate) ? slicedValidatorOf(tool.validate) : undefined;
      if (large) await slice.pause();
      const validation = sliced ? await sliced(args, slice, listedKeys) : tool.validate(args);
      if (!validation.success) {
        throw new ToolCallFailure(
          'TOOL_ARGUMENTS_INVALID',
          formatValidationIssues(tool.slug, validation.issues),
        );
      }
      if (large) await yieldToEventLoop();
      if (request.signal?.aborted)
        throw new ToolCallFailure(
          'TOOL_ABORTED',
          abortedCallMessage(
            tool.slug,
            request.signal,
            ' before it started',
            `${tool.slug} was aborted before it started.`,
          ),
        );
      // the tool's timeout counts from here: the wait for credentials (a token refresh, also one
      // another process holds the lease of) is part of it
      let attempt = new CallAttempt(tool, request.signal, inFlight);
      let data: unknown;
      try {
        if (
          request.toolkit.noAuth &&
          (request.account !== undefined || request.connectedAccountId !== undefined)
        ) {
          // it has no accounts: a named one (another toolkit's, or none at all) was ignored, so the
          // caller never learnt that the account it meant was not the one the call ran with
          const named = request.account ?? request.connectedAccountId;
          throw new ToolCallFailure(
            request.account !== undefined ? 'ACCOUNT_NOT_IN_SESSION' : 'CONNECTED_ACCOUNT_MISMATCH',
            `${request.toolkit.name} (${request.toolkit.slug}) needs no account, so ${tool.slug} runs with none: ${shownValue(named)} is not one of its accounts. Run the call again without ${request.account !== undefined ? 'account' : apiRef('connectedAccountId')}.`,
          );
        }
        const account = request.toolkit.noAuth
          ? NO_ACCOUNT
          : await attempt.credentials((signal) =>
              env.resolveAccount({
                toolkit: request.toolkit,
                userId,
                sessionId,
                connectedAccountId: request.connectedAccountId,
                account: request.account,
                selection: request.selection,
                signal,
                deadline: attempt.deadline,
              }),
            );
        accountId = account.accountId;
        secrets = secretsOf(account);
        resultSecrets = resultSecretsOf(account, request.toolkit);
        let credentials = account.credentials;
        for (let renewals = 0; ; renewals++) {
          try {
            data = await runHandler(env, tool, validation.value, attempt, {
              userId,
              sessionId: sessionId ?? undefined,
              callId: request.callId,
              credentials,
              logId,
            });
            break;
          } catch (error) {
            const { renewCredentials } = env;
            const rejectedId = accountId;
            if (rejectedId === null || renewCredentials === undefined || !rejectsCredentials(error))
              throw error;
            // The provider refused the credentials: renew them (OAuth refresh) and run once more. The
            // renewed ones refused too, the account is marked EXPIRED, unless another call renewed them
            // since: then those are run with (a few times at most).
            if (renewals === MAX_RENEWALS) throw error;
            // a run of its own, under the tool's timeout from here (the renewal's wait counts)
            attempt.end();
            attempt = new CallAttempt(tool, request.signal, inFlight, true);
            const rejected = credentials;
            const renewed = await attempt.credentials((signal) =>
              renewCredentials({
                toolkit: request.toolkit,
                accountId: rejectedId,
                rejected,
                final: renewals > 0,
                userId,
                selection: request.selection,
                signal,
                deadline: attempt.deadline,
              }),
            );
            if (renewed === null) throw error;
            secrets = [...secrets, ...secretsOf(renewed)];
            resultSecrets = [...resultSecrets, ...resultSecretsOf(renewed, request.toolkit)];
            credentials = renewed.credentials;
          }
        }
      } finally {
        attempt.end();
      }
      // the one value every surface hands on (JSON of it, or this value itself): a value JSON
      // cannot represent is the tool's failure, named where it is
      const safe = await jsonSafeResult(data, MAX_JSON_DEPTH, new WorkSlice(), { listedKeys, secrets });
      if (safe.problem !== undefined) {
        const message = `${tool.slug} returned a result that cannot be handed on as JSON: ${safe.problem.path} ${safe.problem.problem}.`;
        env.logger.warn(`[${tool.slug} ${logId}] TOOL_RESULT_INVALID: ${maskSecrets(message, secrets)}`);
        throw new ToolCallFailure('TOOL_RESULT_INVALID', message);
      }
      resultKeys = safe.wideKeys;
      // what the API answered may quote the account's credentials (an echo of the request's
      // Authorization header, a key in a redirect's URL): the model and the application never see them
      const shown = await maskedResult(
        safe.value,
        resultSecrets,
        new WorkSlice(),
        (object) => listedKeys(object) ?? resultKeys?.get(object),
      );
      result = { successful: true, data: shown, error: null, logId };
    } catch (error) {
      const reader = request.reader ?? applicationReader(sessionId !== null);
      result = failureResult(forReader(error, reader), tool, logId, secrets, reader);
    }
    // the redaction of the arguments is a stage of its own (listing the keys of a wide object is one)
    if (large) await yieldToEventLoop();
    const entry = logEntry(result, {
      slug: tool.slug,
      toolkit: tool.toolkit,
      arguments: request.arguments,
      userId,
      sessionId,
      callId: request.callId,
      parentId: request.parentId,
      connectedAccountId: accountId,
      durationMs: performance.now() - started,
      secrets,
      listedKeys,
    });
    if (result.successful) {
      // the result's redaction is its own stage: a wide result costs a walk of its keys
      if (large) await yieldToEventLoop();
      // the result was masked for the account's credentials already: the log searches it only for
      // the ones a scheme shows to the model (a username, a base URL)
      const shown = secretsLeftAfterMasking(secrets, resultSecrets);
      // once each, though fifty calls of one account showed the same
      const shownByCalls = shownByParent.get(logId);
      entry.output = redactForLog(result.data, shownByCalls?.size ? [...shown, ...shownByCalls] : shown, {
        listedKeys: (object) => listedKeys(object) ?? resultKeys?.get(object),
      });
      // for the entry of the meta-tool call this one is part of (running here), made after this one's
      if (shown.length > 0 && request.parentId !== undefined) {
        const parent = shownByParent.get(request.parentId);
        if (parent) for (const secret of shown) parent.add(secret);
      }
    }
    // the answer waits for the entry's commit (group commit: the calls of one turn share it)
    if (request.holdLog) request.holdLog(entry);
    else await env.logs.write(entry);
    return result;
  } finally {
    if (collects) shownByParent.delete(logId);
    if (inFlight) calls?.leave(inFlight);
  }
}

function secretsOf(account: ResolvedAccount): string[] {
  return account.secrets ?? (account.credentials ? Object.values(account.credentials) : []);
}

/**
 * The credential values masked in a call's result (see `credentialSecrets`): made once per
 * credentials object (the account cache hands calls the same one), and so the same list, whose
 * masker `secretMasker` keeps.
 */
function resultSecretsOf(account: ResolvedAccount, toolkit: Toolkit): string[] {
  const { credentials } = account;
  if (!credentials) return secretsOf(account);
  const made = resultSecretsByCredentials.get(credentials);
  if (made?.toolkit === toolkit) return made.secrets;
  const secrets = credentialSecrets(credentials, shownFieldsOf(toolkit));
  resultSecretsByCredentials.set(credentials, { toolkit, secrets });
  return secrets;
}

const resultSecretsByCredentials = new WeakMap<Credentials, { toolkit: Toolkit; secrets: string[] }>();

/** A handler's CREDENTIALS_REJECTED: the provider refused the account's credentials. */
function rejectsCredentials(error: unknown): boolean {
  return ToolMuxError.isInstance(error) && error.code === 'CREDENTIALS_REJECTED';
}

/** The execution log entry of one answered call; payloads redacted (known secrets too) and cut to 4 KB. */
function logEntry(
  result: ToolResult,
  call: {
    slug: string;
    toolkit: string;
    arguments: unknown;
    userId: string;
    sessionId: string | null;
    callId?: string;
    parentId?: string;
    connectedAccountId: string | null;
    durationMs: number;
    secrets: readonly string[];
    /** Keys of wide objects in the arguments, listed already (see `RedactOptions`). */
    listedKeys?: (object: object) => readonly string[] | undefined;
  },
): ExecutionLogRecord {
  return {
    id: result.logId,
    sessionId: call.sessionId,
    userId: call.userId,
    // a slug no tool has can be anything: logged escaped when the store could not keep it as is
    toolSlug: textProblem(call.slug, { maxLength: 200 }) === undefined ? call.slug : shownValue(call.slug),
    toolkit: call.toolkit,
    connectedAccountId: call.connectedAccountId,
    callId: typeof call.callId === 'string' ? logText(call.callId) : null,
    status: result.successful ? 'success' : 'error',
    errorCode: result.code ?? null,
    errorMessage: result.error === null ? null : logText(result.error),
    // whole microseconds: what the clock tells, without the digits of double arithmetic
    durationMs: Math.round(call.durationMs * 1000) / 1000,
    input: redactForLog(call.arguments, call.secrets, { listedKeys: call.listedKeys }),
    // a successful call's result is redacted by the caller, as a stage of its own
    output: 'null',
    createdAt: new Date(),
    parentId: call.parentId ?? null,
  };
}

/**
 * Makes `entry` the entry of a call that failed with `failure`, though it answered: a workbench cell
 * whose code threw or reached a limit answers the model `{ result, logs, error }` (its result and
 * logs, which a failed call's result has no place for), and its entry says it failed, with the code.
 * Its output stays what the caller got.
 */
export function markFailed(entry: ExecutionLogRecord, failure: { code: string; message: string }): void {
  entry.status = 'error';
  entry.errorCode = failure.code;
  entry.errorMessage = logText(failure.message);
}

/**
 * Text for the log (already masked): NUL as U+FFFD, cut to 4 KB. Only a prefix is looked at, so a
 * huge error message costs no more than a short one.
 */
function logText(text: string): string {
  const head = text.length > MAX_LOG_PAYLOAD_BYTES + 1 ? text.slice(0, MAX_LOG_PAYLOAD_BYTES + 1) : text;
  return truncateUtf8(head.replaceAll('\0', '\uFFFD'), MAX_LOG_PAYLOAD_BYTES);
}

/**
 * A call that never reached a tool (unknown slug, not in the session): logged like any call and
 * answered with an error result the model can read.
 */
export async function rejectToolCall(
  env: ExecutionEnvironment,
  call: {
    slug: string;
    arguments: unknown;
    userId: string;
    sessionId: string | null;
    callId?: string;
    parentId?: string;
  },
  error: ToolMuxError,
  holdLog?: (entry: ExecutionLogRecord) => void,
  /** In whose words the message names operations (the SDK's by default). */
  audience: ErrorAudience = 'sdk',
): Promise<ToolResult> {
  const { calls } = env;
  const inFlight = calls?.enter(call.slug, call.sessionId);
  try {
    const result: ToolResult = {
      successful: false,
      data: null,
      error: error.messageFor(audience),
      code: error.code,
      logId: newId('log'),
    };
    const entry = logEntry(result, {
      ...call,
      toolkit: '',
      connectedAccountId: null,
      durationMs: 0,
      secrets: [],
    });
    if (holdLog) holdLog(entry);
    else await env.logs.write(entry);
    return result;
  } finally {
    if (inFlight) calls?.leave(inFlight);
  }
}

/** The most characters of the message of a failure a handler threw (see {@link MAX_QUOTED_CHARS}). */
export const MAX_THROWN_MESSAGE_CHARS = MAX_QUOTED_CHARS;

/**
 * A failed call's result, from whatever the call failed with: a failure of toolmux's own, a
 * ToolMuxError, or anything a handler threw (a string, null, a proxy whose traps throw, an Error whose
 * `message` getter throws, …), which never makes this throw.
 */
function failureResult(
  error: unknown,
  tool: Tool,
  logId: string,
  secrets: readonly string[],
  reader: HintReader,
): ToolResult {
  if (isCallFailure(error)) {
    // its message may name a field of the call (apiRef): in the words of the caller
    const message = maskSecrets(renderApiRefs(error.message, reader.audience ?? 'sdk'), secrets);
    return { successful: false, data: null, error: message, code: error.code, logId };
  }
  let code: ToolMuxErrorCode = 'TOOL_EXECUTION_FAILED';
  let message: string | undefined;
  try {
    // a ToolMuxError, also of another copy of the package (whose code this copy may not know)
    if (ToolMuxError.isInstance(error) && isToolMuxErrorCode(error.code)) {
      const text: unknown = messageFor(error, reader);
      if (typeof text === 'string') {
        code = error.code;
        message = text;
      }
    }
  } catch {
    // a getter of what looked like a ToolMuxError threw: read as anything else thrown
  }
  return {
    successful: false,
    data: null,
    // masked and cut (a thrown object written as JSON only as far as the cut)
    error:
      message === undefined
        ? `${tool.slug} failed: ${quotedMessage(error, secrets)}`
        : quotedText(message, secrets),
    code,
    logId,
  };
}

function isCallFailure(error: unknown): error is ToolCallFailure {
  try {
    return error instanceof ToolCallFailure;
  } catch {
    // a proxy whose getPrototypeOf trap threw
    return false;
  }
}

/**
 * A handler's `ctx.log(message, data)`, written to the logger's debug level: the message with the
 * call's credentials masked and cut to 4 KB, `data` as the execution log writes a payload (redacted
 * JSON cut to 4 KB, under `data`). A handler that notes what its API answered (which may echo the
 * request's token) or its own context put the account's credentials in the server's log.
 */
function handlerNote(
  logger: Logger,
  call: string,
  credentials: Credentials | undefined,
  message: unknown,
  data: unknown,
): void {
  const secrets = credentials ? credentialSecrets(credentials) : [];
  let text: string;
  try {
    text = typeof message === 'string' ? message : String(message);
  } catch {
    text = Object.prototype.toString.call(message);
  }
  // masked before the cut (one the cut splits whole): only the first 4 K characters are looked at
  const masked = maskSecretsLeading(text, secrets, MAX_LOG_PAYLOAD_BYTES);
  const shown = truncateUtf8(masked.cut ? `${masked.text}…[truncated]` : masked.text, MAX_LOG_PAYLOAD_BYTES);
  logger.debug(`[${call}] ${shown}`, data === undefined ? undefined : { data: redactForLog(data, secrets) });
}

async function runHandler(
  env: ExecutionEnvironment,
  tool: Tool,
  input: unknown,
  attempt: CallAttempt,
  call: {
    userId: string;
    sessionId: string | undefined;
    callId: string | undefined;
    credentials: Credentials | undefined;
    logId: string;
  },
): Promise<unknown> {
  attempt.handler();
  const { signal } = attempt;
  const context: ToolContext = {
    userId: call.userId,
    sessionId: call.sessionId,
    callId: call.callId,
    credentials: call.credentials,
    signal,
    fetch: env.fetch,
    log: (message, data) =>
      handlerNote(env.logger, `${tool.slug} ${call.logId}`, call.credentials, message, data),
    logId: call.logId,
  };
  // stopped as it registered (its ToolMux closed and stopped the calls still running), or aborted,
  // timed out or stopped while it waited for its credentials
  signal.throwIfAborted();
  return await runUntilAborted(() => tool.execute(input, context), signal);
}
