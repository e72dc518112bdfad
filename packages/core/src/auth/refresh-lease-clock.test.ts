import { spawn } from 'node:child_process';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  linkOcto,
  octoToolkit,
  startTestOAuthServerWithCallback,
  type TestOAuthServerWithCallback,
} from '../test/oauth-server.js';
import { createTestPostgresUrl, postgresSkipReason } from '../test/postgres.js';
import { recordingLogger } from '../test/recording-logger.js';
import { ToolMux } from '../toolmux.js';

/**
 * Instances on one PostgreSQL database whose clocks disagree: the refresh lease one instance holds
 * must keep another from spending the same refresh token, whatever the other's clock says. The other
 * instance is a real process whose `Date` runs ahead (a host without time sync), started from the
 * build, as a deploy would run it.
 */

const dist = resolve(import.meta.dirname, '../../dist');
const secretKey = Buffer.alloc(32, 13).toString('base64');
const skipReason = await postgresSkipReason();

let oauthServer: TestOAuthServerWithCallback;
beforeAll(async () => {
  oauthServer = await startTestOAuthServerWithCallback();
});
afterAll(() => oauthServer.close());

/** The other instance: refreshes account ACCOUNT with its clock CLOCK_AHEAD_MS ahead, says what it got. */
const otherInstance = `
  const ahead = Number(process.env.CLOCK_AHEAD_MS);
  const RealDate = Date;
  globalThis.Date = class extends RealDate {
    constructor(...args) { if (args.length === 0) super(RealDate.now() + ahead); else super(...args); }
    static now() { return RealDate.now() + ahead; }
  };
  const { ToolMux, defineTool, defineToolkit } = await import(${JSON.stringify(join(dist, 'index.js'))});
  const { z } = await import('zod');
  const octo = defineToolkit({ slug: 'octo', name: 'Octo', description: 'x',
    tools: [defineTool({ slug: 'OCTO_WHOAMI', description: 'x', inputSchema: z.object({}), execute: () => null })],
    auth: { type: 'oauth2', authorizationUrl: process.env.AUTH_URL, tokenUrl: process.env.TOKEN_URL } });
  const mux = new ToolMux({ toolkits: [octo], store: process.env.STORE, secretKey: process.env.KEY,
    logger: { debug() {}, warn() {}, error() {} } });
  await mux.connectedAccounts.get(process.env.ACCOUNT);
  console.log('refreshing');
  try {
    const account = await mux.connectedAccounts.refresh(process.env.ACCOUNT);
    console.log(JSON.stringify({ expiresAt: account.expiresAt }));
  } catch (error) {
    console.log(JSON.stringify({ code: error.code, message: error.message }));
  }
  await mux.close();
`;

describe.skipIf(skipReason !== undefined)(skipReason ? `skipped: ${skipReason}` : 'refresh lease', () => {
  it('an instance whose clock runs a minute ahead waits for the lease another instance holds', async () => {
    const database = await createTestPostgresUrl();
    /** Opens the refresh token requests of this instance once it is told to (the lease is held meanwhile). */
    let arrived!: () => void;
    const refreshArrived = new Promise<void>((done) => (arrived = done));
    let release!: () => void;
    const released = new Promise<void>((done) => (release = done));
    const logger = recordingLogger();
    const mux = new ToolMux({
      toolkits: [octoToolkit(oauthServer).toolkit],
      store: database.url,
      secretKey,
      logger,
      oauthRedirectUri: oauthServer.redirectUri,
      fetch: async (input, init) => {
        const url = String(input instanceof Request ? input.url : input);
        if (url === oauthServer.tokenUrl && String(init?.body).includes('grant_type=refresh_token')) {
          arrived();
          await released;
        }
        return fetch(input, init);
      },
    });
    const child = { process: undefined as ReturnType<typeof spawn> | undefined };
    try {
      oauthServer.current = mux;
      const { accountId, authConfigId } = await linkOcto(mux, oauthServer, 'user_1');
      const before = oauthServer.tokenRequests.refresh_token;

      // this instance takes the lease (45 s: 30 s of oauthRequestTimeoutMs and 15 s), its token request held
      const refreshing = mux.connectedAccounts.refresh(accountId);
      await refreshArrived;

      const other = spawn(process.execPath, ['--input-type=module', '-e', otherInstance], {
        cwd: resolve(import.meta.dirname, '../..'),
        env: {
          ...process.env,
          STORE: database.url,
          KEY: secretKey,
          ACCOUNT: accountId,
          CLOCK_AHEAD_MS: '60000',
          AUTH_URL: oauthServer.authorizationUrl,
          TOKEN_URL: oauthServer.tokenUrl,
        },
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      child.process = other;
      let output = '';
      const exited = new Promise<void>((done) => other.once('exit', () => done()));
      const started = new Promise<void>((done) =>
        other.stdout!.on('data', (chunk: Buffer) => {
          output += chunk.toString();
          if (output.includes('refreshing')) done();
        }),
      );
      await Promise.race([started, exited]);
      // the other instance waits for the lease (it may not finish before it ends), or, on the code
      // before, refreshed with the same refresh token at once
      await Promise.race([exited, new Promise((done) => setTimeout(done, 1_500))]);
      release();
      const ours = await refreshing;
      await exited;
      const theirs = JSON.parse(output.trim().split('\n').at(-1)!);
      // one token request for the two refreshes: the other instance took this one's result
      expect(oauthServer.tokenRequests.refresh_token - before).toBe(1);
      expect(theirs).toEqual({ expiresAt: ours.expiresAt!.toISOString() });
      // on the code before, the provider saw its refresh token spent twice and revoked the grant: the
      // next call found the account EXPIRED (invalid_grant), the user had to connect again
      const session = await mux.create('user_1', { toolkits: ['octo'], authConfigs: { octo: authConfigId } });
      expect(await session.execute('OCTO_WHOAMI', {})).toMatchObject({ successful: true });
      expect(await mux.connectedAccounts.get(accountId)).toMatchObject({ status: 'ACTIVE' });
      expect(logger.warnings).toEqual([]);
    } finally {
      child.process?.kill();
      release();
      await mux.close();
      await database.cleanup();
    }
    // a child process that imports the engine: seconds on a loaded machine
  }, 60_000);
});
