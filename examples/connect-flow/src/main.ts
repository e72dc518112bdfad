/**
 * Connecting a user's account through the toolmux server, from an application that only speaks its
 * REST API: create an auth config, create a session, ask for a connect link, let the user fill in the
 * hosted connect page, then run a tool with the user's key. The "user" here is a script that submits
 * the page's form the way a browser would, so the example runs offline.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defineTool, defineToolkit, ToolMux } from '@toolmux/core';
import { createServer } from '@toolmux/server';
import { z } from 'zod';

// A toolkit whose users connect with an API key; the handler sees it as ctx.credentials.
const weather = defineToolkit({
  slug: 'weather',
  name: 'Weather',
  description: 'Forecasts from the Weather API.',
  auth: { type: 'api_key', fields: [{ name: 'apiKey', label: 'Weather API key', secret: true }] },
  tools: [
    defineTool({
      slug: 'WEATHER_FORECAST',
      description: 'Tomorrow’s forecast for a city.',
      inputSchema: z.object({ city: z.string() }),
      execute: async ({ city }, ctx) => ({
        city,
        forecast: 'sunny',
        keyEndsWith: ctx.credentials?.apiKey?.slice(-4),
      }),
    }),
  ],
});

async function freePort(): Promise<number> {
  const probe = createNetServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as { port: number };
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

// ---- the toolmux server (normally `toolmux serve` somewhere else) ----
const directory = mkdtempSync(join(tmpdir(), 'toolmux-connect-example-'));
const port = await freePort();
const baseUrl = `http://127.0.0.1:${port}`;
const apiKey = randomBytes(24).toString('base64url');
const mux = new ToolMux({
  toolkits: [weather],
  store: `sqlite:${join(directory, 'toolmux.db')}`,
  secretKey: randomBytes(32).toString('base64'),
  baseUrl,
});
const running = await createServer({ toolmux: mux, apiKey }).serve({ port });

// ---- the application, talking REST ----
async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  const response = await fetch(`${baseUrl}/api/v1${path}`, {
    method,
    headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = await response.json();
  if (!response.ok) throw new Error(`${method} ${path}: ${JSON.stringify(json)}`);
  return json as T;
}

const config = await api<{ id: string }>('POST', '/auth-configs', { toolkit: 'weather', type: 'api_key' });
const session = await api<{ session_id: string }>('POST', '/sessions', {
  user_id: 'user_123',
  config: { toolkits: ['weather'], authConfigs: { weather: config.id } },
});
const link = await api<{ redirect_url: string }>('POST', `/sessions/${session.session_id}/authorize`, {
  toolkit: 'weather',
});
console.log(`send the user to: ${link.redirect_url}`);

// ---- the user, on the hosted connect page ----
const page = await (await fetch(link.redirect_url)).text();
console.log(
  'the page says:',
  /<p>(You are connecting[\s\S]*?)<\/p>/.exec(page)?.[1]?.replace(/<[^>]+>/g, ''),
);
const action = /<form method="post" action="([^"]+)"/.exec(page)![1]!.replaceAll('&#38;', '&');
// the form's action is relative to the page, as a browser reads it
const submitted = await fetch(new URL(action, link.redirect_url), {
  method: 'POST',
  headers: { 'content-type': 'application/x-www-form-urlencoded' },
  body: new URLSearchParams({ apiKey: 'wk_live_1234' }).toString(),
  redirect: 'manual',
});
const back = new URL(submitted.headers.get('location')!);
console.log(`back in the app: ${back.pathname}?${back.searchParams}`);

// ---- the agent's tool call now runs with the user's key ----
const result = await api<{ successful: boolean; data: unknown }>(
  'POST',
  `/sessions/${session.session_id}/execute`,
  { tool_slug: 'WEATHER_FORECAST', arguments: { city: 'Lisbon' } },
);
console.log('WEATHER_FORECAST →', JSON.stringify(result.data));

await running.close();
await mux.close();
rmSync(directory, { recursive: true, force: true });
