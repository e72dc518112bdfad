// A toolkits module for the multi-instance tests: the sample toolkits plus `octo`, an OAuth toolkit
// against the test authorization server at TOOLMUX_TEST_OAUTH_ISSUER.
import { defineTool, defineToolkit } from '@toolmux/core';
import { createSampleToolkits } from '@toolmux/core/test';
import { z } from 'zod';

const issuer = process.env.TOOLMUX_TEST_OAUTH_ISSUER;
if (!issuer) throw new Error('set TOOLMUX_TEST_OAUTH_ISSUER');

const whoami = defineTool({
  slug: 'OCTO_WHOAMI',
  description: 'Who is the connected Octo user.',
  inputSchema: z.object({}),
  annotations: { readOnlyHint: true },
  execute: async (_input, context) => {
    const response = await context.fetch(`${issuer}/me`, {
      headers: { authorization: `Bearer ${context.credentials?.accessToken}` },
    });
    if (!response.ok) throw new Error(`userinfo answered ${response.status}`);
    return response.json();
  },
});

export const toolkits = [
  ...createSampleToolkits().toolkits,
  defineToolkit({
    slug: 'octo',
    name: 'Octo',
    description: 'The test OAuth provider.',
    baseUrl: issuer,
    tools: [whoami],
    auth: {
      type: 'oauth2',
      authorizationUrl: `${issuer}/auth`,
      tokenUrl: `${issuer}/token`,
      scopes: ['openid', 'repo'],
    },
  }),
];
