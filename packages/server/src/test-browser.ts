import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Browser, chromium } from 'playwright-core';

/**
 * Chromium for the browser tests (Debian's chromium, driven by playwright-core). Not published
 * (`src/test-*.ts` stay out of the package).
 */
export const CHROMIUM = process.env.TOOLMUX_CHROMIUM ?? '/usr/bin/chromium';

/**
 * Why a browser suite cannot run here, or undefined when it can; on CI a missing Chromium is an
 * error, not a skip. `suite` names the test file in the warning printed for a skip (a skipped suite
 * shows only as "skipped" in the summary).
 */
export function chromiumSkipReason(suite: string): string | undefined {
  if (existsSync(CHROMIUM)) return undefined;
  const reason =
    `no Chromium at ${CHROMIUM}: install it (Debian/Ubuntu: apt-get install -y chromium; macOS: ` +
    'brew install --cask chromium) or set TOOLMUX_CHROMIUM to any Chromium or Chrome binary';
  const ci = process.env.CI;
  if (ci && ci !== 'false' && ci !== '0') throw new Error(`${reason}; CI must run the browser test.`);
  console.warn(`${suite}: the browser tests are SKIPPED — ${reason}.`);
  return reason;
}

/**
 * Launches headless Chromium as the browser tests run it. No host but `localhost` and 127.0.0.1 resolves:
 * the tests' servers listen on loopback, and a page that asks for anything else (oidc-provider's
 * sign-in page imports a web font) fails at once instead of waiting on a network the test must not
 * depend on.
 */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--no-sandbox',
      '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1',
      '--disable-background-networking',
      '--disable-gpu',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  });
}

/**
 * The official MCP SDK client (`Client` and `StreamableHTTPClientTransport` of
 * `@modelcontextprotocol/sdk`, the version this package depends on) bundled for a web page by
 * rolldown: a script that sets `globalThis.McpSdk`. A page loads it with `page.addScriptTag`, so the
 * browser tests run the SDK's own client code, not a copy of its requests.
 */
export async function mcpSdkBrowserBundle(): Promise<string> {
  const { rolldown } = await import('rolldown');
  const directory = mkdtempSync(join(tmpdir(), 'toolmux-mcp-bundle-'));
  try {
    const entry = join(directory, 'entry.mjs');
    const module = (specifier: string) => JSON.stringify(fileURLToPath(import.meta.resolve(specifier)));
    writeFileSync(
      entry,
      `import { Client } from ${module('@modelcontextprotocol/sdk/client/index.js')};\n` +
        `import { StreamableHTTPClientTransport } from ${module('@modelcontextprotocol/sdk/client/streamableHttp.js')};\n` +
        'globalThis.McpSdk = { Client, StreamableHTTPClientTransport };\n',
    );
    const bundle = await rolldown({ input: entry, platform: 'browser', logLevel: 'silent' });
    try {
      const { output } = await bundle.generate({ format: 'iife' });
      return output[0].code;
    } finally {
      await bundle.close();
    }
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
}

/** A web server on loopback that answers every GET with one small page, as a test's `origin`. */
export interface PageServer {
  /** `http://127.0.0.1:<port>`. */
  origin: string;
  close(): Promise<void>;
}

/**
 * Starts a {@link PageServer} whose page has `title` and `heading`: the web page a script runs in,
 * or the application a connect link returns to. A real server, not a `page.route()`: Playwright's
 * routes do not see the request a redirect leads to, so the redirect that ends a connect flow went
 * to a port nothing listens on, failed, and reached the route only when Chromium's error page
 * reloaded itself, on a schedule of its own (a second here, a test timeout on a busy machine).
 */
export async function startPageServer(title: string, heading = title): Promise<PageServer> {
  const server = createHttpServer((_, response) => {
    response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    response.end(`<!doctype html><title>${title}</title><h1>${heading}</h1>`);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
