import { z } from 'zod';
import { defineTool, defineToolkit } from '../catalog/define.js';
import type { Toolkit } from '../catalog/types.js';
import { freePort } from './ports.js';

/**
 * A toolkit `gone` (no auth, one tool GONE_PING) whose `baseUrl` is a loopback port nothing listens
 * on, so that a call to its API is refused (ECONNREFUSED). `origin` is that base URL's origin, as
 * error messages name it.
 */
export async function unreachableApiToolkit(): Promise<{ toolkit: Toolkit; origin: string }> {
  const origin = `http://127.0.0.1:${await freePort()}`;
  const toolkit = defineToolkit({
    slug: 'gone',
    description: 'An API that is not there',
    baseUrl: `${origin}/api`,
    auth: { type: 'none' },
    tools: [
      defineTool({
        slug: 'GONE_PING',
        description: 'Ping.',
        inputSchema: z.object({}),
        execute: () => 'pong',
      }),
    ],
  });
  return { toolkit, origin };
}
