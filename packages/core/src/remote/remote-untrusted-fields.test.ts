import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TOOLMUX_ERROR_CODES } from '../errors.js';
import type { Session } from '../session.js';
import {
  jsonAnswer as json,
  misbehavingServer,
  rejection as rejectionOf,
  SESSION_ANSWER as SESSION,
} from '../test/misbehaving-server.js';
import { ToolMux } from '../toolmux.js';

/**
 * The fields of a server's answer the SDK hands to the application as they are, or sends back
 * later: a tool result's `code` (the application branches on it), an error answer's `code` and
 * `details`, ids, cursors and counts. A loopback server answers each with what no toolmux server
 * sends (a code no ToolMuxError has, a megabyte of it, details that are an array, an id with a
 * control character, a cursor the client would refuse to send back, a negative total): each must end
 * in SERVER_UNREACHABLE naming the field (a tool call: a failed result saying the same), with the
 * value cut, never reach the application.
 */

const API_KEY = 'tmx_remote_untrusted_fields_0123456789';
const rejection = (promise: Promise<unknown>) => rejectionOf(promise, API_KEY);

const RESULT = { successful: true, data: { ok: true }, error: null, log_id: 'log_1' };
const FAILED = { successful: false, data: null, error: 'the tool failed', log_id: 'log_1' };
const HUGE = 'X'.repeat(1_000_000);

let server: Awaited<ReturnType<typeof misbehavingServer>>;
let mux: ToolMux;
let session: Session;
beforeAll(async () => {
  server = await misbehavingServer();
  mux = new ToolMux({ baseUrl: server.url, apiKey: API_KEY, requestTimeoutMs: 5_000 });
  server.answer(json(200, SESSION));
  session = (await mux.use(SESSION.session_id)) as Session;
});
afterAll(() => server.close());

/** What a tool call answered `body` gives: the session's failed result, and mux.tools.execute()'s error. */
async function toolCallAnswered(body: unknown) {
  server.answer(json(200, body));
  const result = await session.execute('GITHUB_STAR', {});
  const thrown = await rejection(mux.tools.execute('GITHUB_STAR', { userId: 'user_1' }));
  return { result, thrown };
}

describe("remote client: a tool result's code", () => {
  it('one of the ToolMuxError codes is read as it is', async () => {
    for (const code of ['TOOL_EXECUTION_FAILED', 'CONNECTION_REQUIRED'] as const) {
      server.answer(json(200, { ...FAILED, code }));
      expect(await session.execute('GITHUB_STAR', {})).toEqual({
        successful: false,
        data: null,
        error: 'the tool failed',
        code,
        logId: 'log_1',
      });
    }
  });

  it('any other code (a newer one, a megabyte, not a string) is SERVER_UNREACHABLE naming the field, cut', async () => {
    for (const code of ['NEWER_SERVER_CODE', HUGE, 'constructor', 42, { a: 1 }]) {
      const { result, thrown } = await toolCallAnswered({ ...FAILED, code });
      expect(result).toMatchObject({ successful: false, code: 'SERVER_UNREACHABLE', data: null });
      expect(result.error).toMatch(/a tool result (whose|without a string) "code"/);
      expect(result.error).toContain(server.url);
      // the value is shown cut, not a megabyte handed on
      expect(result.error!.length).toBeLessThan(2_000);
      expect(thrown.code).toBe('SERVER_UNREACHABLE');
      expect(thrown.message).toContain('"code"');
    }
    server.answer(json(200, { ...FAILED, code: 'NEWER_SERVER_CODE' }));
    const newer = await session.execute('GITHUB_STAR', {});
    expect(newer.error).toContain(
      `a tool result whose "code" is "NEWER_SERVER_CODE", a value this SDK does not know (not one of the ${Object.keys(TOOLMUX_ERROR_CODES).length} it knows)`,
    );
    expect(newer.error).toContain('update @toolmux/core');
  });

  it('a success with an error or a code, or a failure without its error, is SERVER_UNREACHABLE', async () => {
    const answers = [
      [{ ...RESULT, error: 'but it failed' }, 'a successful tool result with an "error"'],
      [{ ...RESULT, code: 'TOOL_EXECUTION_FAILED' }, 'a successful tool result with a "code"'],
      [
        { ...FAILED, error: null, code: 'TOOL_EXECUTION_FAILED' },
        'a failed tool result whose "error" is null',
      ],
    ] as const;
    for (const [body, message] of answers) {
      const { result, thrown } = await toolCallAnswered(body);
      expect(result).toMatchObject({ successful: false, code: 'SERVER_UNREACHABLE' });
      expect(result.error).toContain(message);
      expect(thrown.message).toContain(message);
    }
  });
});

describe('remote client: an error answer of the server', () => {
  const errorAnswer = (error: Record<string, unknown>) => json(404, { error });

  it('a known code with details of an object is the ToolMuxError the server said', async () => {
    server.answer(
      errorAnswer({ code: 'TOOLKIT_NOT_FOUND', message: 'No toolkit "x".', details: { slug: 'x' } }),
    );
    const error = await rejection(mux.toolkits.get('x'));
    expect(error.toJSON()).toEqual({
      code: 'TOOLKIT_NOT_FOUND',
      message: 'No toolkit "x".',
      details: { slug: 'x' },
    });
  });

  it('details that are not an object, or nest past any stack, are SERVER_UNREACHABLE naming "error.details"', async () => {
    const deep = `${'['.repeat(5_000)}${']'.repeat(5_000)}`;
    const bodies = [
      { code: 'TOOLKIT_NOT_FOUND', message: 'gone', details: ['a', 'b'] },
      { code: 'TOOLKIT_NOT_FOUND', message: 'gone', details: 'x' },
      { code: 'TOOLKIT_NOT_FOUND', message: 'gone', details: null },
      `{"error":{"code":"TOOLKIT_NOT_FOUND","message":"gone","details":{"a":${deep}}}}`,
    ];
    for (const body of bodies) {
      server.answer(typeof body === 'string' ? json(404, body) : errorAnswer(body));
      const error = await rejection(mux.toolkits.get('x'));
      expect(error.code).toBe('SERVER_UNREACHABLE');
      expect(error.message).toContain('JSON that is not a toolmux error ("error.details"');
      expect(error.message).toContain(server.url);
      expect(error.details).toEqual({ status: 404 });
    }
  });

  it('a code no ToolMuxError has is SERVER_UNREACHABLE naming "error.code" and the value, cut', async () => {
    for (const code of ['NEWER_SERVER_CODE', HUGE, 7]) {
      server.answer(errorAnswer({ code, message: 'gone' }));
      const error = await rejection(mux.toolkits.get('x'));
      expect(error.code).toBe('SERVER_UNREACHABLE');
      expect(error.message).toContain('JSON that is not a toolmux error ("error.code" is ');
      expect(error.message.length).toBeLessThan(2_000);
    }
    server.answer(errorAnswer({ code: 'TOOLKIT_NOT_FOUND', message: ['not', 'text'] }));
    expect((await rejection(mux.toolkits.get('x'))).message).toContain('"error.message" is an array');
  });
});

describe('remote client: ids, cursors and counts of an answer', () => {
  it('an id the SDK would refuse to be given (too long, a control character) is SERVER_UNREACHABLE naming it', async () => {
    for (const logId of ['l'.repeat(300), 'log_\u0000', 'log_\ud800']) {
      const { result } = await toolCallAnswered({ ...RESULT, log_id: logId });
      expect(result).toMatchObject({ successful: false, code: 'SERVER_UNREACHABLE' });
      expect(result.error).toContain('a tool result whose "log_id"');
      expect(result.error).toContain('which a toolmux server never sends');
    }
    server.answer(json(200, { ...SESSION, session_id: `ses_${'x'.repeat(300)}` }));
    const used = await rejection(mux.use(SESSION.session_id));
    expect(used.code).toBe('SERVER_UNREACHABLE');
    expect(used.message).toContain('a session whose "session_id" "ses_');
    expect(used.message).toContain('over the limit of 256');
  });

  it('a cursor the client could not send back is SERVER_UNREACHABLE at once, not INVALID_REQUEST of the next page', async () => {
    for (const cursor of ['c'.repeat(9_000), 'cur_\u0007']) {
      server.answer(json(200, { items: [], next_cursor: cursor, total: 0 }));
      const error = await rejection(mux.toolkits.list());
      expect(error.code).toBe('SERVER_UNREACHABLE');
      expect(error.message).toContain('a page whose "next_cursor"');
    }
    server.answer(json(200, { items: [], next_cursor: 'c'.repeat(8_192), total: 0 }));
    const { nextCursor } = await mux.toolkits.list();
    server.answer(json(200, { items: [], next_cursor: null, total: 0 }));
    expect((await mux.toolkits.list({ cursor: nextCursor })).items).toEqual([]);
  });

  it('a count that is negative, fractional or past a safe integer is SERVER_UNREACHABLE naming it', async () => {
    for (const total of [-1, 1.5, 2 ** 60]) {
      server.answer(json(200, { items: [], next_cursor: null, total }));
      const error = await rejection(mux.toolkits.list());
      expect(error.code).toBe('SERVER_UNREACHABLE');
      expect(error.message).toContain('a page without a whole number "total"');
    }
    server.answer(json(200, { ...SESSION, config_version: -3 }));
    expect((await rejection(mux.use(SESSION.session_id))).message).toContain(
      'a session without a whole number "config_version" (got number -3)',
    );
  });
});
