import { randomBytes } from 'node:crypto';
import { createServer as createHttpServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ToolMux } from '@toolmux/core';
import { createSampleToolkits } from '@toolmux/core/test';
import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type RunningServer } from '../server.js';
import { chromiumSkipReason, launchChromium, startPageServer } from '../test-browser.js';
import { recordingLogger, TEST_API_KEY } from '../test-helpers.js';

/**
 * The hosted connect page as deployments serve it, in Chromium: behind a proxy that mounts the server
 * under a path (`baseUrl` `…/toolmux`, the proxy strips it), where the credentials form posted to
 * `/connect/<id>` at the root, which the proxy does not serve, so the user could never connect; and
 * with an app's own scheme as `defaultCallbackUrl` (`com.example.app:/done`), which the page's CSP
 * (`form-action 'self' null`) kept the browser from reaching after the account was connected.
 */
const skip = chromiumSkipReason('connect-page-deploy.browser.test.ts');

/** A proxy on its own port that serves `prefix…` from `target` without the prefix, and 404 elsewhere. */
async function prefixProxy(prefix: string, target: () => number): Promise<{ server: Server; port: number }> {
  const server = createHttpServer((incoming, answer) => {
    if (!incoming.url?.startsWith(`${prefix}/`)) {
      answer.writeHead(404, { 'content-type': 'text/plain' }).end('not served here');
      return;
    }
    const forwarded = httpRequest(
      {
        host: '127.0.0.1',
        port: target(),
        method: incoming.method,
        path: incoming.url.slice(prefix.length),
        headers: incoming.headers,
      },
      (response) => {
        answer.writeHead(response.statusCode!, response.headers);
        response.pipe(answer);
      },
    );
    forwarded.on('error', () => answer.destroy());
    incoming.pipe(forwarded);
  });
  await new Promise<void>((listening) => server.listen(0, '127.0.0.1', listening));
  return { server, port: (server.address() as AddressInfo).port };
}

describe.skipIf(skip !== undefined)(`connect page deployments in Chromium ${skip ?? ''}`, () => {
  let browser: Browser;
  const closing: Array<() => Promise<unknown> | unknown> = [];

  beforeAll(async () => {
    browser = await launchChromium();
  }, 60_000);
  afterEach(async () => {
    for (const close of closing.splice(0).reverse()) await close();
  });
  afterAll(async () => {
    await browser?.close();
  });

  async function serve(options: { baseUrl: (port: number) => string; defaultCallbackUrl?: string }) {
    let serverPort = 0;
    const proxy = await prefixProxy('/toolmux', () => serverPort);
    closing.push(() => new Promise((closed) => proxy.server.close(closed)));
    const mux = new ToolMux({
      toolkits: createSampleToolkits().toolkits,
      store: ':memory:',
      secretKey: randomBytes(32).toString('base64'),
      baseUrl: options.baseUrl(proxy.port),
      ...(options.defaultCallbackUrl ? { defaultCallbackUrl: options.defaultCallbackUrl } : {}),
      logger: recordingLogger(),
    });
    closing.push(() => mux.close());
    const running: RunningServer = await createServer({ toolmux: mux, apiKey: TEST_API_KEY }).serve({
      port: 0,
      hostname: '127.0.0.1',
    });
    closing.push(() => running.close());
    serverPort = Number(new URL(running.url).port);
    const config = await mux.authConfigs.create('mail', { type: 'api_key' });
    const session = await mux.create('user_deploy', { toolkits: ['mail'], authConfigs: { mail: config.id } });
    return { mux, session };
  }

  /** A page that records the CSP violations Chromium reports. */
  async function watchedPage(): Promise<{ page: Page; violations: string[] }> {
    const page = await browser.newPage();
    const violations: string[] = [];
    page.on('console', (message) => {
      if (/Content Security Policy/i.test(message.text())) violations.push(message.text());
    });
    closing.push(() => page.close());
    return { page, violations };
  }

  it('a baseUrl with a path behind a proxy that strips it: the form posts back through the path and connects', async () => {
    const app = await startPageServer('App');
    closing.push(() => app.close());
    const callback = `${app.origin}/connected`;
    const { mux, session } = await serve({ baseUrl: (port) => `http://127.0.0.1:${port}/toolmux` });
    const request = await session.authorize('mail', { callbackUrl: callback });
    expect(new URL(request.redirectUrl).pathname).toBe(`/toolmux/connect/${request.id}`);
    const { page, violations } = await watchedPage();
    await page.goto(request.redirectUrl);
    await page.getByLabel('API key').fill('sk_behind_the_proxy');
    await page.getByRole('button', { name: 'Connect Mail' }).click();
    await page.waitForURL(`${callback}**`);
    expect(new URL(page.url()).searchParams.get('status')).toBe('success');
    expect((await mux.connectionRequests.get(request.id)).status).toBe('COMPLETED');
    expect(violations).toEqual([]);
  });

  it("an app's own scheme as defaultCallbackUrl: the page's CSP lets the browser go there once connected", async () => {
    const { mux, session } = await serve({
      baseUrl: (port) => `http://127.0.0.1:${port}/toolmux`,
      defaultCallbackUrl: 'com.example.app:/done',
    });
    const request = await session.authorize('mail');
    const { page, violations } = await watchedPage();
    const response = await page.goto(request.redirectUrl);
    expect(response!.headers()['content-security-policy']).toContain("form-action 'self' com.example.app:");
    // the navigation to the app's scheme, which nothing handles here
    const leaving = page.waitForRequest((sent) => sent.url().startsWith('com.example.app:'), {
      timeout: 10_000,
    });
    await page.getByLabel('API key').fill('sk_for_the_app');
    await page.getByRole('button', { name: 'Connect Mail' }).click({ noWaitAfter: true });
    await leaving.catch(() => undefined);
    for (let waited = 0; (await mux.connectionRequests.get(request.id)).status !== 'COMPLETED'; waited++) {
      if (waited > 100) throw new Error('the form was not completed');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    // Chromium reports a refused form target on the console; the code before was refused
    await page.waitForTimeout(500);
    expect(violations).toEqual([]);
  });
});
