import { describe, expect, it } from 'vitest';
import {
  API_OPERATIONS,
  type ApiOperation,
  apiRef,
  configField,
  inputRef,
  renderApiRefs,
} from './api-refs.js';
import { ToolMuxError } from './errors.js';

describe('apiRef: one message, read in the SDK’s words or the REST API’s', () => {
  /** Operations that name a field (of an answer, of a request), not a call. */
  const FIELDS: readonly string[] = [
    'redirectUrl',
    'maxResponseBytes',
    'callbackUrl',
    'expectedVersion',
    'configVersion',
    'nextCursor',
    'clientId',
    'clientSecret',
    'connectedAccountId',
    'userIds',
    'sessionId',
    'parentId',
    'logId',
  ];

  /** Operations that stand for a whole way out, worded for each reader (not one call). */
  const WAYS: readonly string[] = ['use.customTools'];

  /** Operations that name a field of a session config (camelCase in the SDK and REST alike). */
  const CONFIG_FIELDS: readonly string[] = ['sessionConfig.field'];

  it.each(
    API_OPERATIONS.filter(
      (operation) =>
        !FIELDS.includes(operation) && !WAYS.includes(operation) && !CONFIG_FIELDS.includes(operation),
    ),
  )('%s names a REST route for REST and a method call for the SDK', (operation) => {
    const message = `Fix it with ${apiRef(operation, { toolkit: 'mail', authConfigId: 'ac_1', userId: 'user 1' })}.`;
    const rest = renderApiRefs(message, 'rest');
    const sdk = renderApiRefs(message, 'sdk');
    expect(rest).toMatch(/^Fix it with (GET|POST|PATCH|DELETE) \/api\/v1\/[^ ]*/);
    expect(rest).not.toMatch(/[a-z]\(/);
    expect(sdk).toMatch(/^Fix it with [a-zA-Z.]+\(.*\)\.$/);
    expect(sdk).not.toContain('/api/v1');
    for (const text of [rest, sdk]) expect(text).not.toMatch(/[\u2063⟦⟧]/);
  });

  it.each(FIELDS)('field %s is snake_case for REST and camelCase for the SDK', (field) => {
    expect(API_OPERATIONS).toContain(field);
    const message = `Hand the user its ${apiRef(field as ApiOperation)}.`;
    expect(renderApiRefs(message, 'rest')).toMatch(/^Hand the user its [a-z]+(_[a-z]+)+\.$/);
    expect(renderApiRefs(message, 'sdk')).toMatch(/^Hand the user its [a-z]+([A-Z][a-z]+)+\.$/);
  });

  it.each(
    API_OPERATIONS.filter((operation) => !FIELDS.includes(operation) && !CONFIG_FIELDS.includes(operation)),
  )(
    '%s names a route of the Composio-compatible API for its clients where it has one, else the REST one',
    (operation) => {
      const message = `Fix it with ${apiRef(operation, { toolkit: 'mail', authConfigId: 'ac_1', userId: 'user 1' })}.`;
      const composio = renderApiRefs(message, 'composio');
      if (composio.includes('/api/v3.1/')) {
        expect(composio).toMatch(
          /^Fix it with (GET|POST|PATCH|DELETE) \/api\/v3\.1\/(tool_router\/session|connected_accounts\/)/,
        );
        expect(composio).not.toContain('/api/v1');
        // a body's fields are Composio's (snake_case)
        expect(composio).not.toMatch(/"[a-z]+[A-Z]/);
      } else {
        expect(composio).toBe(renderApiRefs(message, 'rest'));
      }
    },
  );

  it('a session config field is camelCase for the SDK and REST, snake_case for a Composio client', () => {
    const message = `${configField('multiAccount.maxAccountsPerToolkit')} and ${configField('connectedAccounts.gmail')} and ${configField('manageConnections.callbackUrl')}`;
    const camel =
      'multiAccount.maxAccountsPerToolkit and connectedAccounts.gmail and manageConnections.callbackUrl';
    expect(renderApiRefs(message, 'sdk')).toBe(camel);
    expect(renderApiRefs(message, 'rest')).toBe(camel);
    expect(renderApiRefs(message, 'composio')).toBe(
      'multi_account.max_accounts_per_toolkit and connected_accounts.gmail and manage_connections.callback_url',
    );
  });

  it('use.customTools tells the SDK to pass them to use(), and an HTTP client why the server cannot', () => {
    const message = `Session x has custom tools; ${apiRef('use.customTools')}.`;
    expect(renderApiRefs(message, 'sdk')).toContain(
      'pass them again: use(sessionId, { customTools, customToolkits })',
    );
    const rest = renderApiRefs(message, 'rest');
    expect(rest).not.toContain('use(');
    expect(rest).toContain('this server cannot serve the session (REST, MCP)');
  });

  it('a ToolMuxError shows the SDK wording as its message and the REST wording on request', () => {
    const error = new ToolMuxError({
      code: 'TOOLKIT_NOT_FOUND',
      message: `Unknown toolkit "x". List them with ${apiRef('toolkits.list')}.`,
    });
    expect(error.message).toBe('Unknown toolkit "x". List them with toolkits.list().');
    expect(error.toJSON().message).toBe(error.message);
    expect(error.messageFor('sdk')).toBe(error.message);
    expect(error.messageFor('rest')).toBe('Unknown toolkit "x". List them with GET /api/v1/toolkits.');
    expect(String(error)).not.toMatch(/[\u2063⟦⟧]/);
  });

  it('arguments are quoted and escaped, and a message without references is left alone', () => {
    const message = apiRef('connectedAccounts.list', { userId: 'a "b" c' });
    expect(renderApiRefs(message, 'sdk')).toBe('connectedAccounts.list({ userIds: ["a \\"b\\" c"] })');
    expect(renderApiRefs(message, 'rest')).toBe('GET /api/v1/connected-accounts?user_ids=a%20%22b%22%20c');
    const plain = new ToolMuxError({ code: 'INVALID_REQUEST', message: 'limit must be 1–100 (got 0).' });
    expect(plain.messageFor('rest')).toBe('limit must be 1–100 (got 0).');
  });

  it('an input is shown as toolmux read it unless the reader names it, for every audience', () => {
    const message = `${inputRef('toolkit', '"github"')} is not a toolkit of this session.`;
    for (const audience of ['sdk', 'rest', 'cli', 'composio'] as const) {
      expect(renderApiRefs(message, audience)).toBe('"github" is not a toolkit of this session.');
      expect(renderApiRefs(message, audience, { toolkit: 'toolkit_slug "GITHUB"' })).toBe(
        'toolkit_slug "GITHUB" is not a toolkit of this session.',
      );
      // names of other inputs, or inherited keys, leave it as read
      expect(renderApiRefs(message, audience, { tool: 'x' })).toBe(
        '"github" is not a toolkit of this session.',
      );
      expect(renderApiRefs(message, audience, Object.create({ toolkit: 'inherited' }))).toBe(
        '"github" is not a toolkit of this session.',
      );
    }
  });
});
