import type {
  AuthConfig,
  ConnectedAccount,
  ConnectionRequestInfo,
  ConnectionStatus,
  CreateAuthConfigOptions,
  Provider,
  ToolMux,
} from '@toolmux/core';
import { ToolMuxError } from '@toolmux/core';
import type { z } from 'zod';
import type { SessionCache } from '../session-cache.js';
import {
  AuthConfigListSchema,
  AuthConfigParams,
  AuthConfigSchema,
  AuthorizeBody,
  CompleteConnectionRequestBody,
  ConnectedAccountListSchema,
  ConnectedAccountParams,
  ConnectedAccountSchema,
  ConnectionRequestParams,
  ConnectionRequestSchema,
  CreateAuthConfigBody,
  CreateConnectedAccountBody,
  DeletedSchema,
  EnsureConnectedSchema,
  LinkConnectedAccountBody,
  ListAuthConfigsQuery,
  ListConnectedAccountsQuery,
  ReconnectConnectedAccountBody,
  UpdateAuthConfigBody,
  UpdateConnectedAccountBody,
} from './auth-schemas.js';
import { type Route, route } from './route.js';
import { SessionParams } from './schemas.js';

type Wire<S extends z.ZodType> = z.input<S>;

function authConfigJson(config: AuthConfig): Wire<typeof AuthConfigSchema> {
  return {
    id: config.id,
    toolkit: config.toolkit,
    type: config.type,
    created_by: config.createdBy,
    name: config.name ?? null,
    client_id: config.clientId ?? null,
    scopes: config.scopes ?? null,
    has_client_secret: config.hasClientSecret,
    created_at: config.createdAt.toISOString(),
    updated_at: config.updatedAt.toISOString(),
  };
}

function connectedAccountJson(account: ConnectedAccount): Wire<typeof ConnectedAccountSchema> {
  return {
    id: account.id,
    user_id: account.userId,
    toolkit: account.toolkit,
    auth_config_id: account.authConfigId,
    alias: account.alias,
    // the server's own (embedded) accounts: UNKNOWN is only what a remote client reads of a newer server
    status: account.status as ConnectionStatus,
    status_reason: account.statusReason,
    connected_at: account.connectedAt?.toISOString() ?? null,
    expires_at: account.expiresAt?.toISOString() ?? null,
    created_at: account.createdAt.toISOString(),
    updated_at: account.updatedAt.toISOString(),
  };
}

function connectionRequestJson(request: ConnectionRequestInfo): Wire<typeof ConnectionRequestSchema> {
  return {
    id: request.id,
    kind: request.kind,
    user_id: request.userId,
    toolkit: request.toolkit,
    auth_config_id: request.authConfigId,
    connected_account_id: request.connectedAccountId,
    status: request.status,
    callback_url: request.callbackUrl,
    redirect_url: request.redirectUrl,
    expires_at: request.expiresAt.toISOString(),
    replaced_by_newer_requests: request.replacedByNewerRequests === true,
    reconnect_of: request.reconnectOf ?? null,
  };
}

export interface AuthRouteContext {
  toolmux: ToolMux<Provider<unknown>>;
  sessions: SessionCache;
}

/** REST routes of auth configs, connected accounts and connection requests (`mux.authConfigs`, …). */
export function authRoutes({ toolmux, sessions }: AuthRouteContext): Route[] {
  /** A request core just made, as `GET /connection-requests/:id` shows it. */
  const madeRequest = async (request: { id: string }) =>
    connectionRequestJson(await toolmux.connectionRequests.get(request.id));

  return [
    route({
      method: 'post',
      path: '/auth-configs',
      operationId: 'createAuthConfig',
      summary: 'Create an auth config for a toolkit (mux.authConfigs.create).',
      tag: 'auth',
      body: CreateAuthConfigBody,
      response: AuthConfigSchema,
      status: 201,
      handle: async ({ body }) => {
        if (body.type !== 'oauth2') {
          // an OAuth client's fields on another type were dropped: a config made without them
          const given = (['client_id', 'client_secret', 'scopes'] as const).find(
            (field) => body[field] !== undefined,
          );
          if (given !== undefined) {
            throw new ToolMuxError({
              code: 'AUTH_CONFIG_INVALID',
              message: `body.${given} is for oauth2 auth configs only; ${body.type === 'api_key' ? 'an' : 'a'} ${body.type} auth config takes toolkit, type and name: leave ${given} out (the user's credentials come when they connect an account).`,
              details: { field: `body.${given}` },
            });
          }
        }
        const options: CreateAuthConfigOptions =
          body.type === 'oauth2'
            ? {
                type: 'oauth2',
                clientId: body.client_id ?? '',
                clientSecret: body.client_secret,
                scopes: body.scopes,
                name: body.name,
              }
            : { type: body.type, name: body.name };
        return authConfigJson(await toolmux.authConfigs.create(body.toolkit, options));
      },
    }),
    route({
      method: 'get',
      path: '/auth-configs',
      operationId: 'listAuthConfigs',
      summary: 'Auth configs, newest first (mux.authConfigs.list).',
      tag: 'auth',
      query: ListAuthConfigsQuery,
      response: AuthConfigListSchema,
      handle: async ({ query }) => {
        const page = await toolmux.authConfigs.list(query);
        return { items: page.items.map(authConfigJson), next_cursor: page.nextCursor ?? null };
      },
    }),
    route({
      method: 'get',
      path: '/auth-configs/:authConfigId',
      operationId: 'getAuthConfig',
      summary: 'One auth config (mux.authConfigs.get).',
      tag: 'auth',
      params: AuthConfigParams,
      response: AuthConfigSchema,
      handle: async ({ params }) => authConfigJson(await toolmux.authConfigs.get(params.authConfigId)),
    }),
    route({
      method: 'patch',
      path: '/auth-configs/:authConfigId',
      operationId: 'updateAuthConfig',
      summary:
        "Change an auth config in place, e.g. its OAuth app's rotated client secret; connected accounts stay connected (mux.authConfigs.update).",
      tag: 'auth',
      params: AuthConfigParams,
      body: UpdateAuthConfigBody,
      response: AuthConfigSchema,
      handle: async ({ params, body }) =>
        authConfigJson(
          await toolmux.authConfigs.update(params.authConfigId, {
            clientId: body.client_id,
            clientSecret: body.client_secret,
            scopes: body.scopes,
            name: body.name,
          }),
        ),
    }),
    route({
      method: 'delete',
      path: '/auth-configs/:authConfigId',
      operationId: 'deleteAuthConfig',
      summary: 'Delete an auth config and every account connected through it (mux.authConfigs.delete).',
      tag: 'auth',
      params: AuthConfigParams,
      response: DeletedSchema,
      handle: async ({ params }) => {
        await toolmux.authConfigs.delete(params.authConfigId);
        return { id: params.authConfigId, deleted: true as const };
      },
    }),
    route({
      method: 'post',
      path: '/connected-accounts',
      operationId: 'createConnectedAccount',
      summary:
        "Store a user's API key / token / password as an ACTIVE account (mux.connectedAccounts.create).",
      tag: 'auth',
      body: CreateConnectedAccountBody,
      response: ConnectedAccountSchema,
      status: 201,
      handle: async ({ body }) =>
        connectedAccountJson(
          await toolmux.connectedAccounts.create(body.user_id, body.auth_config_id, body.credentials, {
            ...(body.alias !== undefined ? { alias: body.alias } : {}),
          }),
        ),
    }),
    route({
      method: 'post',
      path: '/connected-accounts/link',
      operationId: 'linkConnectedAccount',
      summary:
        'A hosted page where the user connects an account of an auth config: OAuth sign-in, or a credentials form (mux.connectedAccounts.link).',
      tag: 'auth',
      body: LinkConnectedAccountBody,
      response: ConnectionRequestSchema,
      status: 201,
      handle: async ({ body }) =>
        madeRequest(
          await toolmux.connectedAccounts.link(body.user_id, body.auth_config_id, {
            callbackUrl: body.callback_url,
            ...(body.alias !== undefined ? { alias: body.alias } : {}),
          }),
        ),
    }),
    route({
      method: 'get',
      path: '/connected-accounts',
      operationId: 'listConnectedAccounts',
      summary: 'Connected accounts, newest first (mux.connectedAccounts.list).',
      tag: 'auth',
      query: ListConnectedAccountsQuery,
      response: ConnectedAccountListSchema,
      handle: async ({ query }) => {
        const page = await toolmux.connectedAccounts.list({
          userIds:
            query['user_ids[]'] === undefined
              ? query.user_ids
              : [...(query.user_ids ?? []), ...query['user_ids[]']],
          toolkits: query.toolkits,
          statuses: query.statuses,
          authConfigIds: query.auth_config_ids,
          limit: query.limit,
          cursor: query.cursor,
        });
        return { items: page.items.map(connectedAccountJson), next_cursor: page.nextCursor ?? null };
      },
    }),
    route({
      method: 'get',
      path: '/connected-accounts/:connectedAccountId',
      operationId: 'getConnectedAccount',
      summary:
        'One connected account; poll its status while a connection is in flight (mux.connectedAccounts.get).',
      tag: 'auth',
      params: ConnectedAccountParams,
      response: ConnectedAccountSchema,
      handle: async ({ params }) =>
        connectedAccountJson(await toolmux.connectedAccounts.get(params.connectedAccountId)),
    }),
    route({
      method: 'patch',
      path: '/connected-accounts/:connectedAccountId',
      operationId: 'updateConnectedAccount',
      summary:
        'Rename a connected account: a new alias, or null to remove it (mux.connectedAccounts.update).',
      tag: 'auth',
      params: ConnectedAccountParams,
      body: UpdateConnectedAccountBody,
      response: ConnectedAccountSchema,
      handle: async ({ params, body }) =>
        connectedAccountJson(
          await toolmux.connectedAccounts.update(params.connectedAccountId, { alias: body.alias }),
        ),
    }),
    route({
      method: 'delete',
      path: '/connected-accounts/:connectedAccountId',
      operationId: 'deleteConnectedAccount',
      summary: 'Delete a connected account and its credentials (mux.connectedAccounts.delete).',
      tag: 'auth',
      params: ConnectedAccountParams,
      response: DeletedSchema,
      handle: async ({ params }) => {
        await toolmux.connectedAccounts.delete(params.connectedAccountId);
        return { id: params.connectedAccountId, deleted: true as const };
      },
    }),
    route({
      method: 'post',
      path: '/connected-accounts/:connectedAccountId/refresh',
      operationId: 'refreshConnectedAccount',
      summary: "Refresh an OAuth account's access token now (mux.connectedAccounts.refresh).",
      tag: 'auth',
      params: ConnectedAccountParams,
      response: ConnectedAccountSchema,
      // a client that goes away stops waiting (for another instance's refresh); a token request
      // already sent still stores its tokens
      handle: async ({ params, signal }) =>
        connectedAccountJson(await toolmux.connectedAccounts.refresh(params.connectedAccountId, { signal })),
    }),
    route({
      method: 'post',
      path: '/connected-accounts/:connectedAccountId/reconnect',
      operationId: 'reconnectConnectedAccount',
      summary:
        'A hosted page where the user connects an account again in place: the new credentials go to the same account id, ACTIVE again, with its alias (mux.connectedAccounts.reconnect).',
      tag: 'auth',
      params: ConnectedAccountParams,
      body: ReconnectConnectedAccountBody,
      response: ConnectionRequestSchema,
      status: 201,
      handle: async ({ params, body }) =>
        madeRequest(
          await toolmux.connectedAccounts.reconnect(params.connectedAccountId, {
            ...(body?.callback_url !== undefined ? { callbackUrl: body.callback_url } : {}),
          }),
        ),
    }),
    route({
      method: 'post',
      path: '/connected-accounts/:connectedAccountId/disable',
      operationId: 'disableConnectedAccount',
      summary:
        'Stop using an ACTIVE account: it becomes INACTIVE, keeps its credentials, and no call runs with it (mux.connectedAccounts.disable).',
      tag: 'auth',
      params: ConnectedAccountParams,
      response: ConnectedAccountSchema,
      handle: async ({ params }) =>
        connectedAccountJson(await toolmux.connectedAccounts.disable(params.connectedAccountId)),
    }),
    route({
      method: 'post',
      path: '/connected-accounts/:connectedAccountId/enable',
      operationId: 'enableConnectedAccount',
      summary: 'Use an INACTIVE account again: it becomes ACTIVE (mux.connectedAccounts.enable).',
      tag: 'auth',
      params: ConnectedAccountParams,
      response: ConnectedAccountSchema,
      handle: async ({ params }) =>
        connectedAccountJson(await toolmux.connectedAccounts.enable(params.connectedAccountId)),
    }),
    route({
      method: 'post',
      path: '/sessions/:sessionId/authorize',
      operationId: 'authorizeSessionToolkit',
      summary:
        "Start connecting one of the session's toolkits for its user (session.authorize): send the user to redirect_url.",
      tag: 'sessions',
      params: SessionParams,
      body: AuthorizeBody,
      response: ConnectionRequestSchema,
      status: 201,
      handle: async ({ params, body }) => {
        const { session } = await sessions.get(params.sessionId);
        return madeRequest(
          await session.authorize(body.toolkit, {
            callbackUrl: body.callback_url,
            ...(body.alias !== undefined ? { alias: body.alias } : {}),
          }),
        );
      },
    }),
    route({
      method: 'post',
      path: '/sessions/:sessionId/ensure-connected',
      operationId: 'ensureSessionToolkitConnected',
      summary:
        "The account the session's calls of a toolkit use if it is connected, else a new connection request for its user (session.ensureConnected).",
      tag: 'sessions',
      params: SessionParams,
      body: AuthorizeBody,
      response: EnsureConnectedSchema,
      handle: async ({ params, body }) => {
        const { session } = await sessions.get(params.sessionId);
        const result = await session.ensureConnected(body.toolkit, {
          callbackUrl: body.callback_url,
          ...(body.alias !== undefined ? { alias: body.alias } : {}),
        });
        if (result.status === 'NEEDS_USER')
          return { status: result.status, request: await madeRequest(result.request) };
        return {
          status: result.status,
          account: result.account,
          ...(result.accountSelectionRequired
            ? {
                account_selection_required: true as const,
                accounts: (result.accounts ?? []).map(({ id, alias, isDefault }) => ({
                  id,
                  alias,
                  is_default: isDefault,
                })),
              }
            : {}),
        };
      },
    }),
    route({
      method: 'get',
      path: '/connection-requests/:connectionRequestId',
      operationId: 'getConnectionRequest',
      summary:
        'How a connection request stands: PENDING, COMPLETED (with its account), FAILED or EXPIRED; poll it while the user connects (mux.connectionRequests.get).',
      tag: 'auth',
      params: ConnectionRequestParams,
      response: ConnectionRequestSchema,
      handle: async ({ params }) =>
        connectionRequestJson(await toolmux.connectionRequests.get(params.connectionRequestId)),
    }),
    route({
      method: 'post',
      path: '/connection-requests/:connectionRequestId/complete',
      operationId: 'completeConnectionRequest',
      summary:
        "Complete a credentials request (kind fields) with the user's API key / token / password, once: the account is stored ACTIVE (mux.connectionRequests.complete).",
      tag: 'auth',
      params: ConnectionRequestParams,
      body: CompleteConnectionRequestBody,
      response: ConnectedAccountSchema,
      handle: async ({ params, body }) =>
        connectedAccountJson(
          await toolmux.connectionRequests.complete(params.connectionRequestId, body.credentials),
        ),
    }),
  ];
}
