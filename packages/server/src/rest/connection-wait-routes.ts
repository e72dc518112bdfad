import type { Provider, ToolMux } from '@toolmux/core';
import { embeddedSession } from '@toolmux/core/internal';
import { z } from 'zod';
import type { SessionCache } from '../session-cache.js';
import { type Route, route } from './route.js';
import { component, SessionParams } from './schemas.js';

export const WaitForConnectionsBody = component(
  'WaitForConnectionsRequest',
  z.strictObject({
    toolkits: z
      .array(z.string().min(1).max(128))
      .min(1)
      .max(20)
      .describe('Toolkit slugs of the session the user is connecting.'),
    timeout_seconds: z
      .number()
      .min(0)
      .max(120)
      .optional()
      .describe('How long to wait at most (0 to 120 seconds; default 60). 0 only reads the status.'),
  }),
);

const ToolkitWaitStateSchema = z.object({
  status: z
    .enum(['CONNECTED', 'PENDING', 'FAILED', 'EXPIRED', 'NOT_STARTED'])
    .describe(
      'CONNECTED: the session has an ACTIVE account (or needs none). PENDING: the user has not finished. FAILED / EXPIRED: the last attempt failed or its link expired. NOT_STARTED: no connection was started.',
    ),
  connected_account_id: z.string().optional(),
  account_selection_required: z
    .literal(true)
    .optional()
    .describe(
      'CONNECTED with multiAccount.requireExplicitSelection and several ACTIVE accounts: no call runs without naming one of accounts (and there is no connected_account_id).',
    ),
  accounts: z
    .array(z.object({ id: z.string(), alias: z.string().nullable(), is_default: z.boolean() }))
    .optional()
    .describe('With account_selection_required: the accounts a call may name (by id or alias).'),
  connection_request_id: z
    .string()
    .optional()
    .describe("The user's newest connection request of the toolkit."),
  expires_at: z.string().optional().describe('Until when the link of a PENDING request works (ISO 8601).'),
  message: z.string().describe('What to do next, in words.'),
});

export const WaitForConnectionsResultSchema = component(
  'WaitForConnectionsResult',
  z.object({
    toolkits: z.record(z.string(), ToolkitWaitStateSchema),
    timed_out: z
      .boolean()
      .describe(
        'The wait ended with a toolkit still PENDING: at its timeout, or before it because the server began shutting down (next_steps says which). Wait again: a new request goes to an instance that runs.',
      ),
    next_steps: z.string(),
  }),
);

/**
 * `POST /sessions/:id/wait-for-connections` (session.waitForConnections): holds the request until the
 * user finished connecting, on any instance sharing the store, or the timeout. A client that goes
 * away ends the wait; a server that begins to shut down answers it at once (see `RunningServer.close`).
 */
export function connectionWaitRoutes(context: {
  toolmux: ToolMux<Provider<unknown>>;
  sessions: SessionCache;
}): Route[] {
  return [
    route({
      method: 'post',
      path: '/sessions/:sessionId/wait-for-connections',
      operationId: 'waitForConnections',
      summary:
        'Wait until the user finished connecting toolkits, or the timeout (session.waitForConnections; at most 120 s).',
      tag: 'sessions',
      params: SessionParams,
      body: WaitForConnectionsBody,
      response: WaitForConnectionsResultSchema,
      handle: async ({ params, body, signal, audience }) => {
        const { session } = await context.sessions.get(params.sessionId);
        return embeddedSession(session).waitForConnectionsFor(audience, body.toolkits, {
          timeoutMs: (body.timeout_seconds ?? 60) * 1000,
          signal,
        });
      },
    }),
  ];
}
