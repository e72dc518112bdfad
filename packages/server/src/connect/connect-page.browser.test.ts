import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ToolMux } from '@toolmux/core';
import { createSampleToolkits } from '@toolmux/core/test';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type RunningServer } from '../server.js';
import { chromiumSkipReason, launchChromium, type PageServer, startPageServer } from '../test-browser.js';
import { recordingLogger, TEST_API_KEY } from '../test-helpers.js';
import { freePort, startTestOAuthServer, type TestOAuthServer } from '../test-oauth.js';

/**
 * The hosted connect page in a real browser (Debian's chromium, driven by playwright-core): a user
 * opens the link the application got, sees which app and which user, and either signs in at the
 * OAuth provider or fills in an API key, and lands back on the application's callback URL.
 */
const OUTPUT = fileURLToPath(new URL('../../test-output/', import.meta.url));

const skip = chromiumSkipReason('connect-page.browser.test.ts');

describe.skipIf(skip !== undefined)(`connect page in Chromium ${skip ?? ''}`, () => {
  let oauth: TestOAuthServer;
  let mux: ToolMux;
  let running: RunningServer;
  let baseUrl: string;
  let browser: Browser;
  /** The application the connect links return to. */
  let app: PageServer;
  let APP_CALLBACK: string;

  beforeAll(async () => {
    mkdirSync(OUTPUT, { recursive: true });
    app = await startPageServer('App', 'Back in the app');
    APP_CALLBACK = `${app.origin}/connected`;
    const port = await freePort();
    baseUrl = `http://127.0.0.1:${port}`;
    oauth = await startTestOAuthServer({ redirectUris: [`${baseUrl}/auth/callback`] });
    mux = new ToolMux({
      toolkits: [...createSampleToolkits().toolkits, oauth.toolkit],
      store: ':memory:',
      secretKey: randomBytes(32).toString('base64'),
      baseUrl,
      logger: recordingLogger(),
    });
    running = await createServer({ toolmux: mux, apiKey: TEST_API_KEY }).serve({ port });
    browser = await launchChromium();
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await running?.close();
    await mux?.close();
    await oauth?.close();
    await app?.close();
  });

  async function authorize(userId: string, toolkit: string, authConfigId: string): Promise<string> {
    const session = await mux.create(userId, {
      toolkits: [toolkit],
      authConfigs: { [toolkit]: authConfigId },
    });
    const response = await fetch(`${baseUrl}/api/v1/sessions/${session.sessionId}/authorize`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TEST_API_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ toolkit, callback_url: APP_CALLBACK }),
    });
    expect(response.status).toBe(201);
    const { id, redirect_url } = (await response.json()) as { id: string; redirect_url: string };
    expect(redirect_url).toBe(`${baseUrl}/connect/${id}`);
    return redirect_url;
  }

  function newPage(): Promise<Page> {
    return browser.newPage();
  }

  /** Continues from the hosted page to the provider, signs in, consents, and lands on the app's callback. */
  async function continueAndSignIn(page: Page, login = 'browser-user'): Promise<void> {
    await page.getByRole('button', { name: 'Continue to Octo' }).click();
    await signInAtProvider(page, login);
  }

  /** At the provider's sign-in page: signs in as `login`, consents, and follows the redirect back. */
  async function signInAtProvider(page: Page, login: string, landing = `${APP_CALLBACK}**`): Promise<void> {
    await page.waitForURL(`${oauth.issuer}/**`);
    await page.locator('input[name="login"]').fill(login);
    await page.locator('input[name="password"]').fill('any');
    await page.getByRole('button', { name: 'Sign-in' }).click();
    // the consent page's own button: clicking "the submit button" could hit the sign-in page's again
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.waitForURL(landing);
  }

  it('OAuth: shows app and user, continues to the provider, and returns to the app connected', async () => {
    const config = await mux.authConfigs.create('octo', {
      type: 'oauth2',
      clientId: oauth.clientId,
      clientSecret: oauth.clientSecret,
    });
    const link = await authorize('user_browser', 'octo', config.id);
    const page = await newPage();
    await page.goto(link);

    expect(await page.getAttribute('html', 'lang')).toBe('en');
    await expect(page.title()).resolves.toBe('Connect Octo · toolmux');
    expect(await page.getByRole('heading', { level: 1 }).textContent()).toBe('Connect Octo');
    const snapshot = await page.locator('main').ariaSnapshot();
    expect(snapshot).toContain('heading "Connect Octo" [level=1]');
    expect(snapshot).toContain('user_browser');
    await page.screenshot({ path: `${OUTPUT}connect-oauth.png`, fullPage: true });

    await continueAndSignIn(page);

    const back = new URL(page.url());
    expect(back.searchParams.get('status')).toBe('success');
    const accountId = back.searchParams.get('connected_account_id')!;
    expect(await mux.connectedAccounts.get(accountId)).toMatchObject({
      status: 'ACTIVE',
      userId: 'user_browser',
    });
    await page.screenshot({ path: `${OUTPUT}connect-oauth-done.png` });
    await page.close();
  });

  it('OAuth from session.authorize() of the served ToolMux: its link is the hosted page', async () => {
    const config = await mux.authConfigs.create('octo', {
      type: 'oauth2',
      clientId: oauth.clientId,
      clientSecret: oauth.clientSecret,
    });
    const session = await mux.create('user_sdk_browser', {
      toolkits: ['octo'],
      authConfigs: { octo: config.id },
    });
    const request = await session.authorize('octo', { callbackUrl: APP_CALLBACK });
    expect(request.redirectUrl).toBe(`${baseUrl}/connect/${request.id}`);
    const waiting = request.waitForConnection(30_000);
    const page = await newPage();
    await page.goto(request.redirectUrl);
    expect(await page.getByRole('heading', { level: 1 }).textContent()).toBe('Connect Octo');
    expect(await page.locator('main').ariaSnapshot()).toContain('user_sdk_browser');

    await continueAndSignIn(page);
    const back = new URL(page.url());
    expect(back.searchParams.get('status')).toBe('success');
    expect(await waiting).toEqual({ id: request.connectedAccountId, status: 'ACTIVE', toolkit: 'octo' });
    expect((await mux.connectionRequests.get(request.id)).status).toBe('COMPLETED');

    // the link, opened again, says it is done and leads back to the app
    await page.goto(request.redirectUrl);
    expect(await page.getByRole('heading', { level: 1 }).textContent()).toBe('Octo is connected');
    await page.getByRole('link', { name: 'Back to the application' }).click();
    await page.waitForURL(`${APP_CALLBACK}**`);
    expect(new URL(page.url()).searchParams.get('connected_account_id')).toBe(request.connectedAccountId);
    await page.close();
  });

  it('connection fixation: the provider URL behind "Continue", opened in another browser, connects nothing there; the rightful user still finishes', async () => {
    const config = await mux.authConfigs.create('octo', {
      type: 'oauth2',
      clientId: oauth.clientId,
      clientSecret: oauth.clientSecret,
    });
    const link = await authorize('user_attacker_browser', 'octo', config.id);
    const requestId = new URL(link).pathname.split('/').pop()!;
    // the attacker opens their own connect page: it shows no provider URL; "Continue" leads there
    const attacker = await newPage();
    await attacker.goto(link);
    expect(await attacker.content()).not.toContain(oauth.issuer);
    const leaving = attacker.waitForRequest((request) => request.url().startsWith(`${oauth.issuer}/auth?`));
    await attacker.getByRole('button', { name: 'Continue to Octo' }).click();
    const copied = (await leaving).url();
    // the victim, in another browser (context), opens the copied URL and signs in as themselves
    const victim = await newPage();
    await victim.goto(copied);
    await signInAtProvider(victim, 'victim-user', `${baseUrl}/auth/callback**`);
    await expect(victim.title()).resolves.toBe('Connection failed');
    const refusal = (await victim.locator('body').textContent()) ?? '';
    expect(refusal).toContain('CONNECTION_BROWSER_MISMATCH');
    expect(refusal).toContain('did not open its connect page');
    await victim.screenshot({ path: `${OUTPUT}connect-oauth-other-browser.png`, fullPage: true });
    const request = await mux.connectionRequests.get(requestId);
    expect(request.status).toBe('PENDING');
    expect((await mux.connectedAccounts.get(request.connectedAccountId!)).status).toBe('INITIATED');
    await victim.close();

    // the attacker's own browser (the rightful user of the request) still connects, as itself
    await attacker.goto(link);
    await continueAndSignIn(attacker, 'attacker-user');
    expect(new URL(attacker.url()).searchParams.get('status')).toBe('success');
    const session = await mux.create('user_attacker_browser', {
      toolkits: ['octo'],
      authConfigs: { octo: config.id },
    });
    expect((await session.execute('OCTO_WHOAMI', {})).data).toEqual({ sub: 'attacker-user' });
    await attacker.close();
  });

  it('API key: a labelled form that creates the account and returns to the app', async () => {
    const config = await mux.authConfigs.create('mail', { type: 'api_key' });
    const link = await authorize('user_form_browser', 'mail', config.id);
    const page = await newPage();
    await page.goto(link);

    expect(await page.getByRole('heading', { level: 1 }).textContent()).toBe('Connect Mail');
    const field = page.getByLabel('API key');
    expect(await field.getAttribute('type')).toBe('password');
    expect(await field.getAttribute('required')).not.toBeNull();
    await page.screenshot({ path: `${OUTPUT}connect-api-key.png`, fullPage: true });

    // The browser's own validation keeps an empty required field from being sent.
    await page.getByRole('button', { name: 'Connect Mail' }).click();
    expect(page.url()).toBe(link);

    await field.fill('sk_typed_in_the_browser');
    await page.getByRole('button', { name: 'Connect Mail' }).click();
    await page.waitForURL(`${APP_CALLBACK}**`);
    const back = new URL(page.url());
    expect(back.searchParams.get('status')).toBe('success');
    const accountId = back.searchParams.get('connected_account_id')!;
    expect(await mux.connectedAccounts.get(accountId)).toMatchObject({
      status: 'ACTIVE',
      userId: 'user_form_browser',
      toolkit: 'mail',
    });

    // used once: going back and sending the form again is refused
    await page.goto(link);
    expect(await page.getByRole('heading', { level: 1 }).textContent()).toBe('Mail is connected');
    await page.close();
  });
});
