import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineTool } from '../catalog/define.js';
import { MAX_QUOTED_CHARS, quotedText, TOOLMUX_ERROR_CODES } from '../errors.js';
import { MetaToolSlug } from '../meta-tools/meta-tools.js';
import type { Session } from '../session.js';
import {
  connectionRequestAnswer,
  failedCall,
  type Handler,
  jsonAnswer as json,
  LOG_ANSWER,
  misbehavingServer,
  rejection as rejectionOf,
  SESSION_ANSWER as SESSION,
} from '../test/misbehaving-server.js';
import { recordingLogger } from '../test/recording-logger.js';
import { ToolMux } from '../toolmux.js';

/**
 * The fields of a server's answer the SDK hands to the application as they are, or sends back
 * later: a tool result's `code` (the application branches on it), an error answer's `code` and
 * `details`, ids, cursors and counts, links (a session's MCP URL, a connection request's), an
 * offloaded result, a log entry's status, messages. A loopback server answers each with what no toolmux server
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

/** What a tool call answered `body` gives: the session's failed result, and mux.tools.execute()'s, as its error. */
async function toolCallAnswered(body: unknown) {
  server.answer(json(200, body));
  const result = await session.execute('GITHUB_STAR', {});
  const thrown = await rejection(failedCall(mux.tools.execute('GITHUB_STAR', { userId: 'user_1' })));
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

  it('a success with cell_failed: true is a result marked cellFailed, one without it is not', async () => {
    server.answer(json(200, { ...RESULT, cell_failed: true }));
    expect(await session.execute('GITHUB_STAR', {})).toMatchObject({ successful: true, cellFailed: true });
    server.answer(json(200, { ...RESULT, cell_failed: false }));
    expect(await session.execute('GITHUB_STAR', {})).not.toHaveProperty('cellFailed');
  });

  it('a success with an error or a code, or a failure without its error or with cell_failed, is SERVER_UNREACHABLE', async () => {
    const answers = [
      [{ ...RESULT, error: 'but it failed' }, 'a successful tool result with an "error"'],
      [{ ...RESULT, code: 'TOOL_EXECUTION_FAILED' }, 'a successful tool result with a "code"'],
      [
        { ...FAILED, error: null, code: 'TOOL_EXECUTION_FAILED' },
        'a failed tool result whose "error" is null',
      ],
      [
        { ...FAILED, cell_failed: true },
        'a failed tool result with "cell_failed": true, which only a successful workbench cell has',
      ],
      [{ ...RESULT, cell_failed: 'yes' }, '"cell_failed"'],
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

describe('remote client: the links an application follows', () => {
  const request = (fields: Record<string, unknown>) =>
    connectionRequestAnswer(server.url, { callback_url: 'https://app.example/connected', ...fields });
  /** Each call that reads a connection request, answered `body`: what it gave or threw. */
  const readsOf = (body: Record<string, unknown>) => [
    { what: 'a connection request whose "', answer: body, call: () => session.authorize('github') },
    {
      what: 'a connection request whose "',
      answer: body,
      call: () => mux.connectedAccounts.link('user_1', 'ac_1'),
    },
    { what: 'a connection request whose "', answer: body, call: () => mux.connectionRequests.get('cr_1') },
    {
      what: 'an ensure-connected answer whose "request.',
      answer: { status: 'NEEDS_USER', request: body },
      call: () => session.ensureConnected('github'),
    },
  ];
  const port = () => new URL(server.url).port;

  it('a connect link that is no absolute http(s) URL is SERVER_UNREACHABLE naming "redirect_url"', async () => {
    const links = [
      'javascript:alert(document.cookie)',
      'data:text/html,<script>alert(1)</script>',
      'file:///etc/passwd',
      '/connect/cr_1',
      `${server.url}/connect/${'x'.repeat(10_000)}`,
    ];
    for (const link of links) {
      for (const { what, answer, call } of readsOf(request({ redirect_url: link }))) {
        server.answer(json(200, answer));
        const error = await rejection(call());
        expect(error.code).toBe('SERVER_UNREACHABLE');
        expect(error.message).toContain(`${what}redirect_url"`);
        expect(error.message.length).toBeLessThan(2_000);
      }
    }
    server.answer(json(200, request({ redirect_url: 'javascript:alert(1)' })));
    expect((await rejection(session.authorize('github'))).message).toContain(
      'a connection request whose "redirect_url" "javascript:alert(1)" is a "javascript:" URL, not an http(s) one, which a toolmux server never sends',
    );
  });

  it('a connect page on any http(s) origin is read: the server names its public address, which the application may reach at another', async () => {
    for (const link of [
      `http://127.0.0.1:${port()}/connect/cr_1`,
      `http://localhost:${port()}/connect/cr_1`,
      'https://tools.example.com/connect/cr_1',
    ]) {
      for (const { answer, call } of readsOf(request({ redirect_url: link }))) {
        server.answer(json(200, answer));
        const read = (await call()) as { redirectUrl?: string; request?: { redirectUrl: string } };
        expect(read.redirectUrl ?? read.request?.redirectUrl).toBe(link);
      }
    }
  });

  it("a callback URL must be http(s) or an app's own scheme (RFC 8252), never javascript: or data:", async () => {
    for (const callback of [
      'javascript:alert(1)',
      'data:,hi',
      'file:///etc/passwd',
      'myapp://done',
      'back',
    ]) {
      server.answer(json(200, request({ callback_url: callback })));
      const error = await rejection(mux.connectionRequests.get('cr_1'));
      expect(error.code).toBe('SERVER_UNREACHABLE');
      expect(error.message).toContain('a connection request whose "callback_url"');
    }
    for (const callback of [
      'https://app.example/connected',
      'http://localhost:3000/done',
      'com.example.app:/oauth2redirect',
    ]) {
      server.answer(json(200, request({ callback_url: callback })));
      expect((await mux.connectionRequests.get('cr_1')).callbackUrl).toBe(callback);
    }
  });

  it("a session's MCP URL must be an http(s) URL, on whatever origin the server names", async () => {
    for (const url of [
      'javascript:alert(1)',
      'ftp://files.example/mcp/ses_1',
      'mcp/ses_1',
      `https://x/${'m'.repeat(9_000)}`,
    ]) {
      server.answer(json(200, { ...SESSION, mcp: { ...SESSION.mcp, url } }));
      const error = await rejection(mux.use(SESSION.session_id));
      expect(error.code).toBe('SERVER_UNREACHABLE');
      expect(error.message).toContain('a session whose "mcp.url"');
      expect(error.message.length).toBeLessThan(2_000);
    }
    // the server writes its public baseUrl, which the application may reach at another address
    const url = `https://tools.example.com/mcp/${SESSION.session_id}`;
    server.answer(json(200, { ...SESSION, mcp: { ...SESSION.mcp, url } }));
    expect((await mux.use(SESSION.session_id)).mcp.url).toBe(url);
  });
});

describe('remote client: an offloaded multi-execute result', () => {
  /** A custom tool (it runs in the client) whose result is past the workbench's offload threshold. */
  const big = defineTool({
    slug: 'LOCAL_BIG',
    description: 'Answers 30,000 characters',
    inputSchema: z.object({}),
    execute: () => ({ text: 'b'.repeat(30_000) }),
  });
  const OFFLOADED = {
    path: 'offloaded/log_1.json',
    size: 30_050,
    preview: '{"results":[',
    hint: 'The result was saved as a workbench file.',
  };
  /** The offload answered `offload`, log uploads taken: what the model receives, and the warnings. */
  async function offloadAnswered(offload: unknown) {
    const logger = recordingLogger();
    const local = new ToolMux({ baseUrl: server.url, apiKey: API_KEY, logger, requestTimeoutMs: 5_000 });
    server.answer(json(200, { ...SESSION, config: { customTools: ['LOCAL_BIG'], customToolkits: [] } }));
    const remote = await local.use(SESSION.session_id, { customTools: [big] });
    const routed: Handler = (request, response) =>
      json(200, request.url?.endsWith('/workbench/offload') ? offload : { added: 1, ids: [] })(
        request,
        response,
      );
    server.answer(routed);
    const result = await remote.execute(MetaToolSlug.MULTI_EXECUTE_TOOL, {
      tools: [{ tool_slug: 'LOCAL_BIG', arguments: {} }],
    });
    await local.close();
    return { result, warnings: logger.warnings.join('\n') };
  }

  it('is what the model receives when the server saved it', async () => {
    const { result, warnings } = await offloadAnswered({ offloaded: OFFLOADED });
    expect(result).toMatchObject({ successful: true, data: { offloaded: OFFLOADED } });
    expect(warnings).toBe('');
  });

  it("an offloaded answer of other fields (a megabyte preview, a negative size, a bad path) gives the model the result's start, not the answer, and the warning names the field", async () => {
    const answers = [
      [{ ...OFFLOADED, preview: HUGE }, '"offloaded.preview"'],
      [{ ...OFFLOADED, hint: HUGE }, '"offloaded.hint"'],
      [{ ...OFFLOADED, size: -1 }, 'whole number "offloaded.size"'],
      [{ ...OFFLOADED, path: 'p'.repeat(600) }, '"offloaded.path"'],
      [{ ...OFFLOADED, path: 'offloaded/\u0000.json' }, '"offloaded.path"'],
      [{ path: OFFLOADED.path }, '"offloaded.size"'],
      ['the result', '"offloaded"'],
    ] as const;
    for (const [offloaded, field] of answers) {
      const { result, warnings } = await offloadAnswered({ offloaded });
      // the model reads the start of the result itself (not what the server answered, nor the
      // whole result, which it did before: of any size)
      expect(result.successful).toBe(true);
      const { notOffloaded } = result.data as { notOffloaded: { size: number; preview: string } };
      expect(notOffloaded.size).toBeGreaterThan(30_000);
      expect(notOffloaded.preview).toMatch(/^\{.*"tool_slug":"LOCAL_BIG".*"b+$/);
      expect(notOffloaded.preview.length).toBeLessThanOrEqual(1_000);
      expect(warnings).toContain('an offload answer');
      expect(warnings).toContain(field);
      expect(warnings.length).toBeLessThan(3_000);
    }
  });
});

describe('remote client: statuses, failed results and messages', () => {
  it("a log entry's status is 'success' or 'error', another is SERVER_UNREACHABLE naming it", async () => {
    for (const status of ['success', 'error'] as const) {
      server.answer(json(200, { items: [{ ...LOG_ANSWER, status }], next_cursor: null }));
      expect((await session.logs()).items[0]!.status).toBe(status);
    }
    for (const status of ['pending', HUGE, 1]) {
      server.answer(json(200, { items: [{ ...LOG_ANSWER, status }], next_cursor: null }));
      const error = await rejection(session.logs());
      expect(error.code).toBe('SERVER_UNREACHABLE');
      expect(error.message).toContain(`a page's items[0]: an execution log entry`);
      expect(error.message).toContain('"status"');
      expect(error.message.length).toBeLessThan(2_000);
    }
  });

  it('a failed tool result with data is SERVER_UNREACHABLE: a failed one has none', async () => {
    for (const data of [{ partial: true }, 'some text', 0, false]) {
      const { result, thrown } = await toolCallAnswered({ ...FAILED, data });
      expect(result).toMatchObject({ successful: false, code: 'SERVER_UNREACHABLE', data: null });
      expect(result.error).toContain('a failed tool result whose "data" is');
      expect(result.error).toContain('not null: a failed one has none');
      expect(thrown.code).toBe('SERVER_UNREACHABLE');
    }
  });

  it("a tool result's error longer than 262,144 characters is SERVER_UNREACHABLE, cut", async () => {
    const long = 'E'.repeat(262_145);
    const { result, thrown } = await toolCallAnswered({ ...FAILED, error: long });
    expect(result).toMatchObject({ successful: false, code: 'SERVER_UNREACHABLE' });
    expect(result.error).toContain('a tool result whose "error" "EEEE');
    expect(result.error).toContain('is 262145 characters long, over the limit of 262144');
    expect(result.error!.length).toBeLessThan(2_000);
    expect(thrown.message.length).toBeLessThan(2_000);

    // up to the limit, it is read as it is
    const most = 'E'.repeat(262_144);
    server.answer(json(200, { ...FAILED, error: most }));
    expect((await session.execute('GITHUB_STAR', {})).error).toBe(most);
  });
});

describe("remote client: an error answer's message", () => {
  const answered = (message: string) =>
    json(404, { error: { code: 'TOOLKIT_NOT_FOUND', message, details: { slug: 'x' } } });
  /** What an embedded ToolMux's message that quotes something from outside is cut to. */
  const CUT_AT = 2 * MAX_QUOTED_CHARS;

  it('up to 32,768 characters (what a message quoting 16,384 from outside stays under) is read as it is', async () => {
    const most = `No toolkit: ${'m'.repeat(CUT_AT - 12)}`;
    server.answer(answered(most));
    const error = await rejection(mux.toolkits.get('x'));
    expect(error.toJSON()).toEqual({ code: 'TOOLKIT_NOT_FOUND', message: most, details: { slug: 'x' } });
  });

  it('a longer one keeps its code and details, and is cut as an embedded message quoting it would be', async () => {
    for (const length of [CUT_AT + 1, 262_145, 5_000_000]) {
      const message = `No toolkit: ${'m'.repeat(length - 12)}`;
      server.answer(answered(message));
      const error = await rejection(mux.toolkits.get('x'));
      // the application still branches on the server's code: it is not made SERVER_UNREACHABLE
      expect(error.code).toBe('TOOLKIT_NOT_FOUND');
      expect(error.details).toEqual({ slug: 'x' });
      expect(error.message).toBe(quotedText(message, [], CUT_AT));
      expect(error.message.startsWith('No toolkit: mmm')).toBe(true);
      expect(error.message).toMatch(new RegExp(`… \\(cut: the message had ${length} characters\\)$`));
      expect(error.message.length).toBeLessThan(CUT_AT + 100);
    }
  });

  it('a tool call answered with one gives the model a failed result of the cut message, its code kept', async () => {
    server.answer(json(409, { error: { code: 'CONNECTION_REQUIRED', message: 'C'.repeat(3_000_000) } }));
    const result = await session.execute('GITHUB_STAR', {});
    expect(result).toMatchObject({ successful: false, code: 'CONNECTION_REQUIRED', data: null });
    expect(result.error!.length).toBeLessThan(CUT_AT + 100);
    expect(result.error).toContain('(cut: the message had 3000000 characters)');
  });

  it('the API key is masked where the cut falls across it, and before it', async () => {
    for (const at of [10, CUT_AT - 5]) {
      const message = `${'a'.repeat(at)}${API_KEY}${'b'.repeat(CUT_AT)}`;
      server.answer(answered(message));
      const error = await rejection(mux.toolkits.get('x'));
      expect(error.code).toBe('TOOLKIT_NOT_FOUND');
      expect(error.message).not.toContain(API_KEY.slice(0, 10));
      expect(error.message.length).toBeLessThan(CUT_AT + 100);
    }
  });
});

/** An answer of `session.toolkits()`: the github toolkit, with `connection`. */
const sessionToolkitsAnswer = (connection: Record<string, unknown>) =>
  json(200, {
    items: [{ slug: 'github', name: 'GitHub', description: 'Repositories', no_auth: false, connection }],
    next_cursor: null,
    total: 1,
  });

describe('remote client: the statuses and kinds of an answer', () => {
  const ACCOUNT = {
    id: 'ca_1',
    user_id: 'user_1',
    toolkit: 'github',
    auth_config_id: 'ac_1',
    alias: null,
    status: 'ACTIVE',
    status_reason: null,
    connected_at: null,
    expires_at: null,
    created_at: '2024-05-01T10:00:00.000Z',
    updated_at: '2024-05-01T10:00:00.000Z',
  };

  it("a connected account's status is one of the SDK's, each read as it is", async () => {
    for (const status of ['INITIATED', 'ACTIVE', 'FAILED', 'EXPIRED', 'INACTIVE', 'REVOKED'] as const) {
      server.answer(json(200, { ...ACCOUNT, status }));
      expect((await mux.connectedAccounts.get('ca_1')).status).toBe(status);
    }
  });

  it("a connected account's status a newer server added is read as UNKNOWN: the account is handed on, and a list of accounts still lists every one", async () => {
    server.answer(
      json(200, {
        items: [
          ACCOUNT,
          { ...ACCOUNT, id: 'ca_2', status: 'SUSPENDED' },
          { ...ACCOUNT, id: 'ca_3', status: 'x'.repeat(100_000) },
          { ...ACCOUNT, id: 'ca_4', status: 'active' },
        ],
        next_cursor: null,
      }),
    );
    const { items } = await mux.connectedAccounts.list();
    expect(items.map(({ id, status }) => [id, status])).toEqual([
      ['ca_1', 'ACTIVE'],
      ['ca_2', 'UNKNOWN'],
      ['ca_3', 'UNKNOWN'],
      ['ca_4', 'UNKNOWN'],
    ]);
    expect(items[1]).toEqual({ ...items[0], id: 'ca_2', status: 'UNKNOWN' });

    server.answer(json(200, { ...ACCOUNT, status: 'SUSPENDED' }));
    expect((await mux.connectedAccounts.get('ca_1')).status).toBe('UNKNOWN');

    server.answer(
      sessionToolkitsAnswer({ is_active: false, connected_account: { id: 'ca_1', status: 'SUSPENDED' } }),
    );
    const [toolkit] = (await session.toolkits()).items;
    expect(toolkit!.connection).toEqual({
      isActive: false,
      connectedAccount: { id: 'ca_1', status: 'UNKNOWN' },
    });
  });

  it('a status, type or kind the SDK branches on and does not know is SERVER_UNREACHABLE naming the field and the value, as a wait status is', async () => {
    const answers = [
      [
        () => mux.authConfigs.get('ac_1'),
        {
          id: 'ac_1',
          toolkit: 'github',
          type: 'saml',
          created_by: 'user',
          name: null,
          client_id: null,
          scopes: null,
          has_client_secret: false,
          created_at: ACCOUNT.created_at,
          updated_at: ACCOUNT.updated_at,
        },
        'an auth config whose "type" is "saml"',
      ],
      [
        () => mux.connectionRequests.get('cr_1'),
        connectionRequestAnswer(server.url, { kind: 'device_code' }),
        'a connection request whose "kind" is "device_code"',
      ],
      [
        () => session.ensureConnected('github'),
        { status: 'CONNECTED', account: { id: 'ca_1', status: 'INITIATED', toolkit: 'github' } },
        'an ensure-connected answer whose "account.status" is "INITIATED"',
      ],
    ] as const;
    for (const [call, body, message] of answers) {
      server.answer(json(200, body));
      const error = await rejection(call());
      expect(error.code).toBe('SERVER_UNREACHABLE');
      expect(error.message).toContain(message);
      expect(error.message).toContain('a value this SDK does not know');
      expect(error.message).toContain('update @toolmux/core');
      expect(error.message.length).toBeLessThan(2_000);
    }
  });
});

describe("remote client: an execution log entry's texts", () => {
  const entry = (fields: Record<string, unknown>) =>
    json(200, { items: [{ ...LOG_ANSWER, ...fields }], next_cursor: null });

  it('input, output and error message of up to 8,192 characters (what the server takes from a client) are read as they are', async () => {
    const most = 'i'.repeat(8_192);
    server.answer(
      entry({ status: 'error', input: most, output: most, error_message: most, error_code: 'C'.repeat(64) }),
    );
    const [read] = (await session.logs()).items;
    expect(read).toMatchObject({ input: most, output: most, errorMessage: most, errorCode: 'C'.repeat(64) });
  });

  it('a longer one (a megabyte) is SERVER_UNREACHABLE naming the entry and the field, cut', async () => {
    for (const field of ['input', 'output', 'error_message', 'error_code'] as const) {
      for (const read of [() => session.logs(), () => mux.logs.list()]) {
        server.answer(entry({ status: 'error', [field]: HUGE }));
        const error = await rejection(read());
        expect(error.code).toBe('SERVER_UNREACHABLE');
        expect(error.message).toContain(`a page's items[0]: an execution log entry whose "${field}" "XXX`);
        expect(error.message).toContain('is 1000000 characters long, over the limit of');
        expect(error.message.length).toBeLessThan(2_000);
      }
    }
  });
});

describe('remote client: fields the SDK does not know', () => {
  /** A field no toolmux server sends, which the model or the application would read if it were handed on. */
  const EXTRA = { injected: HUGE };
  /** A tool a search found. */
  const FOUND = { tool_slug: 'GITHUB_STAR', toolkit: 'github', description: 'Stars', input_schema: {} };

  it('are not handed on from a search, a proxy answer, an account, a toolkit or a session', async () => {
    server.answer(
      json(200, {
        results: [
          {
            use_case: 'star',
            tools: [{ ...FOUND, ...EXTRA }],
            ...EXTRA,
          },
        ],
        toolkit_connections: [{ toolkit: 'github', connected: true, ...EXTRA }],
        next_steps: 'Call GITHUB_STAR',
        ...EXTRA,
      }),
    );
    const search = await session.search({ query: 'star' });
    expect(search).toEqual({
      results: [
        {
          use_case: 'star',
          tools: [FOUND],
        },
      ],
      toolkit_connections: [{ toolkit: 'github', connected: true }],
      next_steps: 'Call GITHUB_STAR',
    });

    server.answer(json(200, { status: 200, headers: {}, data: { id: 1 }, ...EXTRA }));
    expect(await session.proxyExecute({ toolkit: 'github', endpoint: '/user' })).toEqual({
      status: 200,
      headers: {},
      data: { id: 1 },
    });

    server.answer(
      json(200, {
        status: 'CONNECTED',
        account: { id: 'ca_1', status: 'ACTIVE', toolkit: 'github', ...EXTRA },
      }),
    );
    expect(await session.ensureConnected('github')).toEqual({
      status: 'CONNECTED',
      account: { id: 'ca_1', status: 'ACTIVE', toolkit: 'github' },
    });

    server.answer(
      sessionToolkitsAnswer({
        is_active: true,
        connected_account: { id: 'ca_1', status: 'ACTIVE', ...EXTRA },
        auth_config: { id: 'ac_1', type: 'oauth2', managed: false, ...EXTRA },
      }),
    );
    const [toolkit] = (await session.toolkits()).items;
    expect(toolkit!.connection).toEqual({
      isActive: true,
      connectedAccount: { id: 'ca_1', status: 'ACTIVE' },
      authConfig: { id: 'ac_1', type: 'oauth2', managed: false },
    });

    server.answer(
      json(200, {
        slug: 'github',
        name: 'GitHub',
        description: 'Repositories',
        no_auth: false,
        auth_schemes: ['oauth2'],
        categories: [],
        tool_count: 1,
        tools: [{ slug: 'GITHUB_STAR', name: 'Star', description: 'Stars', ...EXTRA }],
      }),
    );
    expect((await mux.toolkits.get('github')).tools).toEqual([
      { slug: 'GITHUB_STAR', name: 'Star', description: 'Stars' },
    ]);

    server.answer(
      json(200, {
        ...SESSION,
        mcp: { ...SESSION.mcp, headers: { ...SESSION.mcp.headers, 'X-Injected': 'x' } },
      }),
    );
    expect((await mux.use(SESSION.session_id)).mcp.headers).toEqual(SESSION.mcp.headers);
  });

  it("a session's config nested past any stack is SERVER_UNREACHABLE naming it", async () => {
    const deep = `${'['.repeat(5_000)}${']'.repeat(5_000)}`;
    server.answer(json(200, JSON.stringify(SESSION).replace('"config":{', `"config":{"toolkits":${deep},`)));
    const error = await rejection(mux.use(SESSION.session_id));
    expect(error.code).toBe('SERVER_UNREACHABLE');
    expect(error.message).toContain(
      'a session whose "config" nests objects and arrays more than 1024 levels deep',
    );
  });
});
