import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuthScheme } from '../catalog/types.js';
import { pingToolkit } from '../test/api-toolkits.js';
import { quiet, rejection } from '../test/auth-fixtures.js';
import { ToolMux } from '../toolmux.js';

/**
 * A credential the auth scheme sends in a header (an API key placed in a header, a bearer token) must
 * be text a header can carry. The server fuzz found the class: an API key of "\udc00" was stored, and
 * every proxy call of the account then failed inside `Headers` with a TypeError (a 500 over REST).
 */
let server: Server;
let baseUrl: string;
let requests = 0;
const directory = mkdtempSync(join(tmpdir(), 'toolmux-header-credentials-'));

beforeAll(async () => {
  server = createServer((_request, response) => {
    requests++;
    response.writeHead(200, { 'content-type': 'application/json' }).end('{}');
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api`;
});
afterAll(async () => {
  await new Promise<void>((done) => server.close(() => done()));
  rmSync(directory, { recursive: true, force: true });
});

/** Values no HTTP header carries: lone surrogates, NUL, line breaks, text outside Latin-1. */
const UNSENDABLE = ['\udc00', 'key\ud800', 'key\u0000', 'key\r\nX-Injected: 1', 'ключ-123', '🔑-123'];

const SCHEMES: Record<string, AuthScheme> = {
  header_key: {
    type: 'api_key',
    fields: [{ name: 'apiKey' }],
    placement: { in: 'header', name: 'X-API-Key' },
  },
  default_key: { type: 'api_key', fields: [{ name: 'apiKey' }] },
  bearer: { type: 'bearer' },
  query_key: { type: 'api_key', fields: [{ name: 'apiKey' }], placement: { in: 'query', name: 'api_key' } },
  basic: { type: 'basic' },
};

function open(store: string, schemes: Record<string, AuthScheme> = SCHEMES): ToolMux {
  return new ToolMux({
    toolkits: Object.entries(schemes).map(([slug, auth]) => pingToolkit({ slug, baseUrl, auth })),
    store,
    logger: quiet,
  });
}

describe('credentials an HTTP header cannot carry', () => {
  it('are refused when an account is connected with them, naming the field and the header, never the value', async () => {
    const mux = open(':memory:');
    try {
      for (const [slug, type, field, header] of [
        ['header_key', 'api_key', 'apiKey', 'X-API-Key'],
        ['default_key', 'api_key', 'apiKey', 'Authorization'],
        ['bearer', 'bearer', 'token', 'Authorization'],
      ] as const) {
        const config = await mux.authConfigs.create(slug, { type });
        for (const value of UNSENDABLE) {
          // directly, and by completing a connection link (the hosted form, POST …/complete)
          const direct = await rejection(
            mux.connectedAccounts.create('user_1', config.id, { [field]: value }),
            'CONNECTED_ACCOUNT_INVALID',
          );
          const request = await mux.connectedAccounts.link('user_1', config.id);
          const completed = await rejection(
            mux.connectionRequests.complete(request.id, { [field]: value }),
            'CONNECTED_ACCOUNT_INVALID',
          );
          for (const error of [direct, completed]) {
            expect(error.message).toContain(`Credential field "${field}"`);
            expect(error.message).toContain(`the ${header} header`);
            expect(error.message).not.toContain(value);
          }
        }
      }
      expect((await mux.connectedAccounts.list({ userIds: ['user_1'] })).items).toEqual([]);
      // where the value does not go into a header as it is, any text is kept
      const queried = await mux.authConfigs.create('query_key', { type: 'api_key' });
      const basic = await mux.authConfigs.create('basic', { type: 'basic' });
      for (const value of UNSENDABLE.filter(
        (each) => !each.includes('\u0000') && !/[\ud800-\udfff]/.test(each),
      )) {
        await mux.connectedAccounts.create(`user_${value.length}`, queried.id, { apiKey: value });
        await mux.connectedAccounts.create(`user_${value.length}`, basic.id, {
          username: 'alice',
          password: value,
        });
      }
    } finally {
      await mux.close();
    }
  });

  it('stored before (the scheme since moved the key into a header): a proxy call is CONNECTED_ACCOUNT_INVALID, and nothing is sent', async () => {
    const store = join(directory, 'moved.db');
    const secretKey = Buffer.alloc(32, 7).toString('base64');
    const before = new ToolMux({
      toolkits: [pingToolkit({ slug: 'moved', baseUrl, auth: SCHEMES.query_key! })],
      store,
      secretKey,
      logger: quiet,
    });
    const config = await before.authConfigs.create('moved', { type: 'api_key' });
    const account = await before.connectedAccounts.create('user_1', config.id, { apiKey: 'ключ-123' });
    await before.close();
    const after = new ToolMux({
      toolkits: [pingToolkit({ slug: 'moved', baseUrl, auth: SCHEMES.header_key! })],
      store,
      secretKey,
      logger: quiet,
    });
    try {
      const session = await after.create('user_1', { authConfigs: { moved: config.id } });
      const sent = requests;
      const error = await rejection(
        session.proxyExecute({ toolkit: 'moved', endpoint: '/ping' }),
        'CONNECTED_ACCOUNT_INVALID',
      );
      expect(error.message).toBe(
        `Credential field "apiKey" holds characters an HTTP header cannot carry (Latin-1 text without control characters), and the auth scheme sends it in the X-API-Key header: connect account ${account.id} again with the credential as the API issued it.`,
      );
      expect(requests).toBe(sent);
    } finally {
      await after.close();
    }
  });
});
