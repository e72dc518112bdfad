import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { z } from 'zod';
import { defineTool, defineToolkit } from '../catalog/define.js';
import type { AuthScheme, Toolkit } from '../catalog/types.js';
import { freePort } from './ports.js';

/**
 * A toolkit whose API is at `baseUrl`, with one tool `<SLUG>_PING` (it answers "pong" without calling
 * the API): for tests of `proxyExecute` against that API.
 */
export function pingToolkit(options: {
  slug: string;
  baseUrl: string;
  /** @default `${slug} API` */
  description?: string;
  /** @default { type: 'none' } */
  auth?: AuthScheme;
}): Toolkit {
  const { slug } = options;
  return defineToolkit({
    slug,
    description: options.description ?? `${slug} API`,
    baseUrl: options.baseUrl,
    auth: options.auth ?? { type: 'none' },
    tools: [
      defineTool({
        slug: `${slug.toUpperCase()}_PING`,
        description: 'Ping.',
        inputSchema: z.object({}),
        execute: () => 'pong',
      }),
    ],
  });
}

/**
 * A toolkit `gone` (no auth, one tool GONE_PING) whose `baseUrl` is a loopback port nothing listens
 * on, so that a call to its API is refused (ECONNREFUSED). `origin` is that base URL's origin, as
 * error messages name it.
 */
export async function unreachableApiToolkit(): Promise<{ toolkit: Toolkit; origin: string }> {
  const origin = `http://127.0.0.1:${await freePort()}`;
  return {
    toolkit: pingToolkit({ slug: 'gone', baseUrl: `${origin}/api`, description: 'An API that is not there' }),
    origin,
  };
}

/**
 * An API on a loopback port that answers `GET /sized/<n>` with n bytes of text: for tests of how much
 * of an answer a proxy call reads. `url` has no trailing slash.
 */
export async function startSizedApi(): Promise<{ url: string; close(): Promise<void> }> {
  const server = createServer((request, response) => {
    const bytes = Number(/^\/sized\/(\d+)$/.exec(request.url ?? '')?.[1] ?? 0);
    response.writeHead(200, { 'content-type': 'text/plain' });
    response.end(Buffer.alloc(bytes, 'a'));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
