// A toolkits module for the CLI tests: `sized`, whose API (at TOOLMUX_TEST_SIZED_URL) answers
// /sized/<n> with n bytes, for proxy calls.
import { defineTool, defineToolkit } from '@toolmux/core';
import { z } from 'zod';

const baseUrl = process.env.TOOLMUX_TEST_SIZED_URL;
if (!baseUrl) throw new Error('set TOOLMUX_TEST_SIZED_URL');

export const toolkits = [
  defineToolkit({
    slug: 'sized',
    description: 'An API that answers as many bytes as asked',
    baseUrl,
    auth: { type: 'none' },
    tools: [
      defineTool({
        slug: 'SIZED_PING',
        description: 'Ping.',
        inputSchema: z.object({}),
        execute: () => 'pong',
      }),
    ],
  }),
];
