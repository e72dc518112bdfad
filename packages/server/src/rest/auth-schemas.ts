import { describeZodIssue } from '@toolmux/core/internal';
import { z } from 'zod';
import { component, cursor, limit, nextCursor, timestamp, userId } from './schemas.js';

/** REST schemas of auth configs, connected accounts and connection requests. */

const STATUSES = ['INITIATED', 'ACTIVE', 'FAILED', 'EXPIRED', 'INACTIVE', 'REVOKED'] as const;
const authConfigId = z.string().min(1).max(128).describe('An auth config id (`ac_…`).');
// checked by the ToolMux (its allowlist): a malformed or empty URL is CALLBACK_URL_NOT_ALLOWED, as embedded
const callbackUrl = z
  .string()
  .max(2048)
  .optional()
  .describe('Where the user is sent back after connecting, with `status` and `connected_account_id`.');
/**
 * A comma-separated list in a query string. `exact`: the items are ids taken as given (user ids may
 * start or end with spaces); slugs and statuses are trimmed (`toolkits=mail, notes`).
 */
const list = <T extends z.ZodType>(item: T, description: string, exact = false) =>
  z
    .string()
    .optional()
    .transform((value, context) => {
      if (value === undefined) return undefined;
      const items = value
        .split(',')
        .map((entry) => (exact ? entry : entry.trim()))
        .filter(Boolean);
      if (items.length === 0) {
        // an empty list selected every row, as a missing parameter does: `user_ids=${ids.join(',')}`
        // with no ids listed every user's accounts
        context.addIssue({
          code: 'custom',
          message: `names nothing (${JSON.stringify(value.slice(0, 20))}): leave the parameter out not to filter by it, or name at least one`,
        });
        return z.NEVER;
      }
      const array = z.array(item);
      const parsed = array.safeParse(items);
      if (!parsed.success) {
        // the item by its place in the list, with the value and the values known (zod's own message,
        // "Invalid option: expected one of …", named neither the parameter's bad item nor its place)
        const issue = parsed.error.issues[0]!;
        const { path, message } = describeZodIssue(array, items, issue);
        context.addIssue({ code: 'custom', message, path: path as PropertyKey[] as (string | number)[] });
        return z.NEVER;
      }
      return parsed.data as z.output<T>[];
    })
    .describe(`${description} (comma-separated).`);

export const CreateAuthConfigBody = component(
  'CreateAuthConfigRequest',
  z.strictObject({
    toolkit: z.string().min(1).describe('The toolkit slug.'),
    type: z.enum(['oauth2', 'api_key', 'bearer', 'basic']),
    // checked by the ToolMux: an empty one is AUTH_CONFIG_INVALID naming the fix, as embedded
    client_id: z.string().optional().describe('OAuth client id (oauth2).'),
    client_secret: z.string().optional().describe('OAuth client secret; stored encrypted, never returned.'),
    scopes: z.array(z.string()).optional(),
    name: z.string().max(200).optional(),
  }),
);

export const UpdateAuthConfigBody = component(
  'UpdateAuthConfigRequest',
  z.strictObject({
    // checked by the ToolMux, as for create
    client_id: z.string().optional().describe('The OAuth client id (oauth2).'),
    client_secret: z
      .string()
      .optional()
      .describe('The new OAuth client secret (oauth2); stored encrypted, never returned.'),
    scopes: z.array(z.string()).optional().describe('The scopes new connections ask for (oauth2).'),
    name: z.string().max(200).optional(),
  }),
  'The fields to change, at least one: an oauth2 config takes all four, an api_key, bearer or basic config only name. Connected accounts stay connected; their next token refresh uses the new client.',
);

export const AuthConfigSchema = component(
  'AuthConfig',
  z.object({
    id: z.string(),
    toolkit: z.string(),
    type: z.enum(['oauth2', 'api_key', 'bearer', 'basic']),
    created_by: z.enum(['user', 'toolmux']),
    name: z.string().nullable(),
    client_id: z.string().nullable(),
    scopes: z.array(z.string()).nullable(),
    has_client_secret: z.boolean(),
    created_at: timestamp,
    updated_at: timestamp,
  }),
  'How a toolkit authenticates. The client secret is never returned.',
);

export const AuthConfigListSchema = component(
  'AuthConfigList',
  z.object({ items: z.array(AuthConfigSchema), next_cursor: nextCursor }),
);

export const ListAuthConfigsQuery = z.strictObject({
  toolkit: z.string().min(1).optional(),
  limit: limit(1000),
  cursor,
});

export const AuthConfigParams = z.object({ authConfigId });

/** The alias a new account gets (checked by core: 1 to 64 characters, not `ca_…`). */
const alias = z
  .string()
  .optional()
  .describe(
    'The alias of the new account (e.g. "work"), unique per user and toolkit (409 ALIAS_TAKEN otherwise).',
  );

export const ConnectedAccountSchema = component(
  'ConnectedAccount',
  z.object({
    id: z.string(),
    user_id: z.string(),
    toolkit: z.string(),
    auth_config_id: z.string(),
    alias: z
      .string()
      .nullable()
      .describe('The name the user and the agent call the account by; unique per user and toolkit.'),
    status: z.enum(STATUSES),
    status_reason: z.string().nullable(),
    connected_at: timestamp.nullable(),
    expires_at: timestamp.nullable(),
    created_at: timestamp,
    updated_at: timestamp,
  }),
  "One user's credentials for one auth config. The credentials are never returned.",
);

export const ConnectedAccountListSchema = component(
  'ConnectedAccountList',
  z.object({ items: z.array(ConnectedAccountSchema), next_cursor: nextCursor }),
);

export const ListConnectedAccountsQuery = z.strictObject({
  // exact: trimmed, `user_ids=%20u1` listed the accounts of "u1", another user than " u1"
  user_ids: list(z.string().min(1), 'Only accounts of these users', true),
  'user_ids[]': z
    .array(z.string().min(1))
    .optional()
    .describe(
      'Only accounts of these users, one user id per parameter, taken as is (repeat it for several): for an id that holds a comma, which `user_ids` would split.',
    ),
  toolkits: list(z.string().min(1), 'Only accounts of these toolkits'),
  statuses: list(z.enum(STATUSES), 'Only accounts in these statuses'),
  auth_config_ids: list(z.string().min(1), 'Only accounts of these auth configs'),
  limit: limit(1000),
  cursor,
});

export const ConnectedAccountParams = z.object({
  connectedAccountId: z.string().min(1).max(128).describe('A connected account id (`ca_…`).'),
});

export const CreateConnectedAccountBody = component(
  'CreateConnectedAccountRequest',
  z.strictObject({
    user_id: userId,
    auth_config_id: authConfigId,
    credentials: z
      .record(z.string(), z.string())
      .describe('The fields of the auth scheme, e.g. { "apiKey": "…" }; stored encrypted.'),
    alias,
  }),
);

export const UpdateConnectedAccountBody = component(
  'UpdateConnectedAccountRequest',
  z.strictObject({
    alias: z
      .string()
      .nullable()
      .describe(
        'The new alias (unique per user and toolkit: 409 ALIAS_TAKEN otherwise), or null to remove it.',
      ),
  }),
);

export const LinkConnectedAccountBody = component(
  'LinkConnectedAccountRequest',
  z.strictObject({ user_id: userId, auth_config_id: authConfigId, callback_url: callbackUrl, alias }),
);

export const ReconnectConnectedAccountBody = component(
  'ReconnectConnectedAccountRequest',
  z.strictObject({ callback_url: callbackUrl }).optional(),
);

export const AuthorizeBody = component(
  'AuthorizeRequest',
  z.strictObject({ toolkit: z.string().min(1), callback_url: callbackUrl, alias }),
);

export const ConnectionRequestSchema = component(
  'ConnectionRequest',
  z.object({
    id: z.string(),
    kind: z
      .enum(['oauth2', 'fields'])
      .describe(
        'oauth2: the user signs in at the provider; fields: the user gives an API key, token or password.',
      ),
    user_id: z.string(),
    toolkit: z.string(),
    auth_config_id: z.string(),
    connected_account_id: z
      .string()
      .nullable()
      .describe(
        'oauth2: the INITIATED account the callback fills. fields: null until completed, then the new account.',
      ),
    status: z
      .enum(['PENDING', 'COMPLETED', 'FAILED', 'EXPIRED'])
      .describe(
        'PENDING until the user finishes (EXPIRED after expires_at); COMPLETED once the account is connected.',
      ),
    callback_url: z.string().describe('Where the user is sent back after connecting.'),
    redirect_url: z.string().describe('The hosted connect page the user opens.'),
    expires_at: timestamp,
    replaced_by_newer_requests: z
      .boolean()
      .describe(
        'true for an EXPIRED request that newer requests of the same user and auth config replaced before the user finished (at most 10 stay pending), rather than one whose time ran out.',
      ),
    reconnect_of: z
      .string()
      .nullable()
      .describe(
        'The connected account this request reconnects in place (POST /connected-accounts/{id}/reconnect): its completion gives that account new credentials, no new account is made. null: a new connection.',
      ),
  }),
  'A connection: send the user to redirect_url, then poll GET /connection-requests/{id} until it is COMPLETED. Never carries the provider URL or a secret.',
);

export const ConnectionRequestParams = z.object({
  connectionRequestId: z.string().min(1).max(128).describe('A connection request id (`cr_…`).'),
});

export const CompleteConnectionRequestBody = component(
  'CompleteConnectionRequestRequest',
  z.strictObject({
    credentials: z
      .record(z.string(), z.string())
      .describe('The fields of the auth scheme, e.g. { "apiKey": "…" }; stored encrypted.'),
  }),
);

export const EnsureConnectedSchema = component(
  'EnsureConnectedResult',
  z.discriminatedUnion('status', [
    z.object({
      status: z.literal('CONNECTED'),
      account: z
        .object({ id: z.string(), status: z.literal('ACTIVE'), toolkit: z.string() })
        .nullable()
        .describe(
          'The account the session’s calls of the toolkit use; null for a toolkit that needs none, and where each call must name one (account_selection_required).',
        ),
      account_selection_required: z
        .literal(true)
        .optional()
        .describe(
          'With multiAccount.requireExplicitSelection and several ACTIVE accounts: no call runs without naming one of accounts.',
        ),
      accounts: z
        .array(z.object({ id: z.string(), alias: z.string().nullable(), is_default: z.boolean() }))
        .optional()
        .describe('With account_selection_required: the accounts a call may name (by id or alias).'),
    }),
    z.object({
      status: z.literal('NEEDS_USER'),
      request: ConnectionRequestSchema.describe(
        'The connection the user must finish: send them to redirect_url.',
      ),
    }),
  ]),
);

export const DeletedSchema = component('Deleted', z.object({ id: z.string(), deleted: z.literal(true) }));
