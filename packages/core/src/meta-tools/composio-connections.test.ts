import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { quiet } from '../test/auth-fixtures.js';
import { octoToolkit, startTestOAuthServer, type TestOAuthServer } from '../test/oauth-server.js';
import { createSampleToolkits } from '../test/sample-toolkits.js';
import { ToolMux } from '../toolmux.js';

const redirectUri = 'http://127.0.0.1:9/auth/callback'; // never opened: callbacks go to handleCallback directly
let oauthServer: TestOAuthServer;

beforeAll(async () => {
  oauthServer = await startTestOAuthServer({ redirectUris: [redirectUri] });
});
afterAll(() => oauthServer.close());

/** A ToolMux with the sample toolkits and the OAuth toolkit `octo`, whose OAuth app is managed. */
function octoMux(): ToolMux {
  return new ToolMux({
    toolkits: [...createSampleToolkits().toolkits, octoToolkit(oauthServer).toolkit],
    store: ':memory:',
    logger: quiet,
    oauthRedirectUri: redirectUri,
    managedAuth: { octo: { clientId: oauthServer.clientId, clientSecret: oauthServer.clientSecret } },
  });
}

describe('COMPOSIO_MANAGE_CONNECTIONS with an OAuth toolkit', () => {
  it('initiates with a redirect_url, is active once connected, and initiates again with reinitiate_all', async () => {
    const mux = octoMux();
    const session = await mux.create('user_1', { toolkits: ['octo', 'tasks'], metaToolNames: 'composio' });
    type Answer = {
      message: string;
      results: Record<string, Record<string, unknown>>;
      summary: Record<string, number>;
    };
    const manage = async (reinitiate_all?: boolean) =>
      (await session.execute('COMPOSIO_MANAGE_CONNECTIONS', { toolkits: ['octo', 'tasks'], reinitiate_all }))
        .data as Answer;

    const first = await manage();
    expect(first.results.octo).toMatchObject({
      toolkit: 'octo',
      status: 'initiated',
      has_active_connection: false,
    });
    expect(String(first.results.octo!.redirect_url)).toContain(`${oauthServer.authorizationUrl}?`);
    expect(first.results.octo!.instruction).toContain('redirect_url');
    expect(first.summary).toEqual({
      total_toolkits: 2,
      active_connections: 1,
      initiated_connections: 1,
      failed_connections: 0,
    });
    expect(first.message).toContain('redirect_url');

    const callback = await oauthServer.signIn(String(first.results.octo!.redirect_url), {
      login: 'octo-user',
    });
    await mux.auth.handleCallback(new Request(callback));
    const connected = await manage();
    expect(connected.results.octo).toMatchObject({ status: 'active', has_active_connection: true });
    expect(String(connected.results.octo!.connected_account_id)).toMatch(/^ca_/);
    expect(connected.message).toBe('Every toolkit is connected.');

    const again = await manage(true);
    expect(again.results.octo).toMatchObject({ status: 'initiated', has_active_connection: true });
    expect(String(again.results.octo!.redirect_url)).toContain(`${oauthServer.authorizationUrl}?`);
    await mux.close();
  });

  it('says at its top level what each initiated entry says: call COMPOSIO_WAIT_FOR_CONNECTIONS where the session has it', async () => {
    const mux = octoMux();
    for (const waitForConnections of [true, false]) {
      const session = await mux.create(`user_wait_${waitForConnections}`, {
        toolkits: ['octo'],
        metaToolNames: 'composio',
        manageConnections: { enable: true, waitForConnections },
      });
      const { data } = await session.execute('COMPOSIO_MANAGE_CONNECTIONS', { toolkits: ['octo'] });
      const answer = data as { message: string; results: { octo: { instruction: string } } };
      const waits = (text: string) => text.includes('call COMPOSIO_WAIT_FOR_CONNECTIONS');
      expect(waits(answer.results.octo.instruction)).toBe(waitForConnections);
      expect(waits(answer.message)).toBe(waitForConnections);
      expect(answer.message.includes('once they say they are done')).toBe(!waitForConnections);
    }
    await mux.close();
  });
});

describe('the toolkit slugs of the Composio meta-tools are not case-sensitive, as Composio’s are', () => {
  it('COMPOSIO_MANAGE_CONNECTIONS and COMPOSIO_WAIT_FOR_CONNECTIONS take GitHub for github; an unknown one is named as written', async () => {
    const mux = octoMux();
    const session = await mux.create('user_case', {
      toolkits: ['octo', 'tasks'],
      metaToolNames: 'composio',
      manageConnections: { enable: true, waitForConnections: true },
    });
    type Manage = { results: Record<string, Record<string, unknown>>; summary: Record<string, number> };
    const manage = async (toolkits: string[]) =>
      (await session.execute('COMPOSIO_MANAGE_CONNECTIONS', { toolkits })).data as Manage;

    const written = await manage(['Octo', 'TASKS', 'Tasks-X']);
    expect(Object.keys(written.results).sort()).toEqual(['Tasks-X', 'octo', 'tasks']);
    expect(written.results.octo).toMatchObject({ status: 'initiated', toolkit: 'octo' });
    expect(written.results.tasks).toMatchObject({ status: 'active', has_active_connection: true });
    // a slug no toolkit of the session has, in any case: refused as the model wrote it
    expect(written.results['Tasks-X']).toMatchObject({ status: 'failed', has_active_connection: false });
    expect(String(written.results['Tasks-X']!.instruction)).toContain(
      '"Tasks-X" is not a toolkit of this session',
    );
    expect(written.summary).toEqual({
      total_toolkits: 3,
      active_connections: 1,
      initiated_connections: 1,
      failed_connections: 1,
    });

    const wait = await session.execute('COMPOSIO_WAIT_FOR_CONNECTIONS', {
      toolkits: ['TASKS', 'OcTo'],
      timeout_seconds: 0,
    });
    expect(wait.successful).toBe(true);
    const statuses = (wait.data as { toolkits: Record<string, { status: string }> }).toolkits;
    expect(
      Object.fromEntries(Object.entries(statuses).map(([toolkit, { status }]) => [toolkit, status])),
    ).toEqual({ tasks: 'CONNECTED', octo: 'PENDING' });
    await mux.close();
  });
});
