import { defineTool, defineToolkit, type Toolkit } from '@toolmux/core';
import { everyKeyOf, setupOptions } from '@toolmux/core/internal';
import { z } from 'zod';
import { CREATE, DESTROY, READ, UPDATE } from './annotations.js';
import { createApi, type RequestContext, readingAnswers, requireToken } from './http.js';

export interface SlackToolkitOptions {
  /** @default 'https://slack.com/api' */
  baseUrl?: string;
}

type Json = Record<string, any>;

const AUTH_ERRORS = new Set([
  'not_authed',
  'invalid_auth',
  'account_inactive',
  'token_revoked',
  'token_expired',
]);
const ACCESS_ERRORS = new Set([
  'missing_scope',
  'not_in_channel',
  'restricted_action',
  'cant_update_message',
  'cant_delete_message',
  'not_allowed_token_type',
  'no_permission',
  'ekm_access_denied',
  'is_archived',
]);
const NOT_FOUND_ERRORS = new Set([
  'channel_not_found',
  'message_not_found',
  'thread_not_found',
  'user_not_found',
  'users_not_found',
  'invalid_name',
  'no_reaction',
]);
const SERVER_ERRORS = new Set(['fatal_error', 'internal_error', 'service_unavailable', 'request_timeout']);

/** Slack answers 200 with `ok: false`; its error code decides which failure it is. */
function slackError(body: any): { status: number; detail: string } | undefined {
  if (!body || typeof body !== 'object' || body.ok !== false) return undefined;
  const code = String(body.error ?? 'unknown_error');
  const scopes = body.needed ? ` (needs scope ${body.needed}; the token has ${body.provided ?? 'none'})` : '';
  const detail = `${code}${scopes}`;
  if (AUTH_ERRORS.has(code)) return { status: 401, detail };
  if (ACCESS_ERRORS.has(code)) return { status: 403, detail };
  if (NOT_FOUND_ERRORS.has(code)) return { status: 404, detail };
  if (code === 'ratelimited') return { status: 429, detail };
  if (SERVER_ERRORS.has(code)) return { status: 500, detail };
  return { status: 400, detail };
}

const channel = z.string().min(1).describe('Channel id (C…, G… or D…), e.g. from SLACK_LIST_CHANNELS');
const ts = z.string().min(1).describe('Timestamp id of the message, e.g. "1712345678.123456"');
const cursor = z.string().optional().describe('next_cursor of the previous page');

const messageOut = z.object({
  ts: z.string(),
  user: z.string().nullable(),
  text: z.string(),
  thread_ts: z.string().nullable(),
  reply_count: z.number(),
  reactions: z.array(z.object({ name: z.string(), count: z.number() })),
});
const userOut = z.object({
  id: z.string(),
  name: z.string(),
  real_name: z.string().nullable(),
  display_name: z.string().nullable(),
  email: z.string().nullable(),
  title: z.string().nullable(),
  is_bot: z.boolean(),
  deleted: z.boolean(),
  tz: z.string().nullable(),
});
const postedOut = z.object({ channel: z.string(), ts: z.string(), text: z.string() });

const toMessage = (message: Json): z.infer<typeof messageOut> => ({
  ts: message.ts,
  user: message.user ?? message.bot_id ?? null,
  text: message.text ?? '',
  thread_ts: message.thread_ts ?? null,
  reply_count: message.reply_count ?? 0,
  reactions: (message.reactions ?? []).map((reaction: Json) => ({
    name: reaction.name,
    count: reaction.count,
  })),
});
const toUser = (user: Json): z.infer<typeof userOut> => ({
  id: user.id,
  name: user.name,
  real_name: user.real_name ?? user.profile?.real_name ?? null,
  display_name: user.profile?.display_name || null,
  email: user.profile?.email ?? null,
  title: user.profile?.title || null,
  is_bot: user.is_bot ?? false,
  deleted: user.deleted ?? false,
  tz: user.tz ?? null,
});
const nextCursor = (result: Json) => result.response_metadata?.next_cursor || null;

/** The options of createSlackToolkit() (a misspelt one, `baseURL` for `baseUrl`, sent the calls to the default API). */
const SLACK_OPTION_NAMES = everyKeyOf<SlackToolkitOptions>()(['baseUrl']);

/** Slack: channels, messages, threads, users, reactions and search, over the Slack Web API. */
export function createSlackToolkit(options: SlackToolkitOptions = {}): Toolkit {
  setupOptions(options, 'createSlackToolkit()', SLACK_OPTION_NAMES, { code: 'TOOL_DEFINITION_INVALID' });
  const baseUrl = options.baseUrl ?? 'https://slack.com/api';
  const api = createApi({
    service: 'Slack',
    baseUrl,
    headers: (credentials) => ({ Authorization: `Bearer ${requireToken(credentials, 'Slack')}` }),
    bodyError: slackError,
  });
  const post = (method: string, body: Json, resource: string, context: RequestContext) =>
    api.request(context, {
      method: 'POST',
      path: `/${method}`,
      body,
      headers: { 'Content-Type': 'application/json; charset=utf-8' },
      resource,
    });

  const tools = [
    defineTool({
      slug: 'SLACK_LIST_CHANNELS',
      description:
        'List the Slack channels of the workspace (public and private ones the app can see) with their ids, topics and member counts. Use it to find a channel id by name.',
      inputSchema: z.object({
        types: z
          .string()
          .default('public_channel,private_channel')
          .describe('Comma-separated: public_channel, private_channel, mpim, im'),
        exclude_archived: z.boolean().default(true).describe('Leave out archived channels'),
        limit: z.number().int().min(1).max(1000).default(200).describe('Most channels to return'),
        cursor,
      }),
      outputSchema: z.object({
        channels: z.array(
          z.object({
            id: z.string(),
            name: z.string().nullable().describe('Null for a direct message (see user)'),
            user: z.string().nullable().describe('For a direct message (im): the id of the other user'),
            is_im: z.boolean(),
            is_mpim: z.boolean(),
            is_private: z.boolean(),
            is_member: z.boolean(),
            num_members: z.number().nullable(),
            topic: z.string(),
            purpose: z.string(),
          }),
        ),
        next_cursor: z.string().nullable(),
      }),
      annotations: READ,
      execute: async (query, context) => {
        const result = await api.request(context, {
          path: '/conversations.list',
          query,
          resource: 'channels',
        });
        return {
          // a direct message (im) has no name, topic, purpose or is_member, but the user it is with
          channels: (result.channels ?? []).map((entry: Json) => ({
            id: entry.id,
            name: entry.name ?? null,
            user: entry.user ?? null,
            is_im: entry.is_im ?? false,
            is_mpim: entry.is_mpim ?? false,
            is_private: entry.is_private ?? Boolean(entry.is_im || entry.is_mpim),
            is_member: entry.is_member ?? Boolean(entry.is_im),
            num_members: entry.num_members ?? null,
            topic: entry.topic?.value ?? '',
            purpose: entry.purpose?.value ?? '',
          })),
          next_cursor: nextCursor(result),
        };
      },
    }),
    defineTool({
      slug: 'SLACK_POST_MESSAGE',
      description:
        'Send a message to a Slack channel, or reply in a thread by giving thread_ts. Text supports Slack mrkdwn (*bold*, <@U123> mentions, <https://url|links>).',
      inputSchema: z.object({
        channel: channel.describe('Channel id (or a user id to message them in the app’s DM)'),
        text: z.string().min(1).describe('Message text in Slack mrkdwn'),
        thread_ts: z.string().optional().describe('ts of the parent message to reply in its thread'),
        reply_broadcast: z.boolean().optional().describe('Also show a thread reply in the channel'),
        unfurl_links: z.boolean().optional().describe('Show link previews'),
      }),
      outputSchema: postedOut,
      annotations: CREATE,
      execute: async (input, context) => {
        const result = await post('chat.postMessage', input, `channel ${input.channel}`, context);
        return { channel: result.channel, ts: result.ts, text: result.message?.text ?? input.text };
      },
    }),
    defineTool({
      slug: 'SLACK_SEND_DIRECT_MESSAGE',
      description:
        'Send a direct message (DM) to a Slack user by user id; opens the DM conversation if needed.',
      inputSchema: z.object({
        user: z
          .string()
          .min(1)
          .describe('User id (U…), e.g. from SLACK_FIND_USER_BY_EMAIL or SLACK_LIST_USERS'),
        text: z.string().min(1).describe('Message text in Slack mrkdwn'),
      }),
      outputSchema: postedOut,
      annotations: CREATE,
      execute: async ({ user, text }, context) => {
        const opened = await post('conversations.open', { users: user }, `user ${user}`, context);
        const result = await post(
          'chat.postMessage',
          { channel: opened.channel.id, text },
          `user ${user}`,
          context,
        );
        return { channel: result.channel, ts: result.ts, text: result.message?.text ?? text };
      },
    }),
    defineTool({
      slug: 'SLACK_UPDATE_MESSAGE',
      description: 'Edit the text of a message the app posted earlier.',
      inputSchema: z.object({ channel, ts, text: z.string().min(1).describe('The new message text') }),
      outputSchema: postedOut,
      annotations: DESTROY,
      execute: async (input, context) => {
        const result = await post(
          'chat.update',
          input,
          `message ${input.ts} in channel ${input.channel}`,
          context,
        );
        return { channel: result.channel, ts: result.ts, text: result.text ?? input.text };
      },
    }),
    defineTool({
      slug: 'SLACK_DELETE_MESSAGE',
      description:
        'Delete (remove) a message from a Slack channel; the app can delete the messages it posted.',
      inputSchema: z.object({ channel, ts }),
      outputSchema: z.object({ channel: z.string(), ts: z.string(), deleted: z.literal(true) }),
      annotations: DESTROY,
      execute: async (input, context) => {
        const result = await post(
          'chat.delete',
          input,
          `message ${input.ts} in channel ${input.channel}`,
          context,
        );
        return { channel: result.channel, ts: result.ts, deleted: true as const };
      },
    }),
    defineTool({
      slug: 'SLACK_SCHEDULE_MESSAGE',
      description: 'Schedule a message to be posted to a channel at a later time.',
      inputSchema: z.object({
        channel,
        text: z.string().min(1).describe('Message text in Slack mrkdwn'),
        post_at: z.number().int().describe('When to post, as Unix time in seconds (up to 120 days ahead)'),
        thread_ts: z.string().optional().describe('ts of the parent message to reply in its thread'),
      }),
      outputSchema: z.object({ channel: z.string(), scheduled_message_id: z.string(), post_at: z.number() }),
      annotations: CREATE,
      execute: async (input, context) => {
        const result = await post('chat.scheduleMessage', input, `channel ${input.channel}`, context);
        return {
          channel: result.channel,
          scheduled_message_id: result.scheduled_message_id,
          post_at: Number(result.post_at),
        };
      },
    }),
    defineTool({
      slug: 'SLACK_GET_CHANNEL_HISTORY',
      description:
        'Read the latest messages of a channel (newest first), optionally within a time window. Use SLACK_GET_THREAD_REPLIES for the replies of a thread.',
      inputSchema: z.object({
        channel,
        limit: z.number().int().min(1).max(200).default(30).describe('Most messages to return'),
        oldest: z.string().optional().describe('Only messages after this ts (Unix seconds)'),
        latest: z.string().optional().describe('Only messages before this ts (Unix seconds)'),
        cursor,
      }),
      outputSchema: z.object({
        messages: z.array(messageOut),
        has_more: z.boolean(),
        next_cursor: z.string().nullable(),
      }),
      annotations: READ,
      execute: async (query, context) => {
        const result = await api.request(context, {
          path: '/conversations.history',
          query,
          resource: `channel ${query.channel}`,
        });
        return {
          messages: (result.messages ?? []).map(toMessage),
          has_more: result.has_more ?? false,
          next_cursor: nextCursor(result),
        };
      },
    }),
    defineTool({
      slug: 'SLACK_GET_THREAD_REPLIES',
      description: 'Read a message thread: the parent message and its replies, oldest first.',
      inputSchema: z.object({
        channel,
        ts: ts.describe('ts of the thread’s parent message'),
        limit: z.number().int().min(1).max(200).default(50).describe('Most messages to return'),
        cursor,
      }),
      outputSchema: z.object({
        messages: z.array(messageOut),
        has_more: z.boolean(),
        next_cursor: z.string().nullable(),
      }),
      annotations: READ,
      execute: async (query, context) => {
        const result = await api.request(context, {
          path: '/conversations.replies',
          query,
          resource: `thread ${query.ts} in channel ${query.channel}`,
        });
        return {
          messages: (result.messages ?? []).map(toMessage),
          has_more: result.has_more ?? false,
          next_cursor: nextCursor(result),
        };
      },
    }),
    defineTool({
      slug: 'SLACK_LIST_USERS',
      description: 'List the members of the Slack workspace with their ids, names, titles and time zones.',
      inputSchema: z.object({
        limit: z.number().int().min(1).max(1000).default(200).describe('Most users to return'),
        cursor,
      }),
      outputSchema: z.object({ users: z.array(userOut), next_cursor: z.string().nullable() }),
      annotations: READ,
      execute: async (query, context) => {
        const result = await api.request(context, { path: '/users.list', query, resource: 'users' });
        return { users: (result.members ?? []).map(toUser), next_cursor: nextCursor(result) };
      },
    }),
    defineTool({
      slug: 'SLACK_GET_USER_INFO',
      description: 'Get the profile of one Slack user by user id (name, title, email, time zone).',
      inputSchema: z.object({ user: z.string().min(1).describe('User id (U…)') }),
      outputSchema: userOut,
      annotations: READ,
      execute: async ({ user }, context) =>
        toUser(
          (await api.request(context, { path: '/users.info', query: { user }, resource: `user ${user}` }))
            .user,
        ),
    }),
    defineTool({
      slug: 'SLACK_FIND_USER_BY_EMAIL',
      description: 'Find a Slack user by their email address, e.g. to mention or message them.',
      inputSchema: z.object({ email: z.string().min(3).describe('Email address of the user') }),
      outputSchema: userOut,
      annotations: READ,
      execute: async ({ email }, context) =>
        toUser(
          (
            await api.request(context, {
              path: '/users.lookupByEmail',
              query: { email },
              resource: `user with email ${email}`,
            })
          ).user,
        ),
    }),
    defineTool({
      slug: 'SLACK_ADD_REACTION',
      description: 'Add an emoji reaction to a message, e.g. "thumbsup" or "white_check_mark".',
      inputSchema: z.object({
        channel,
        timestamp: ts,
        name: z.string().min(1).describe('Emoji name without colons, e.g. "eyes"'),
      }),
      outputSchema: z.object({ ok: z.literal(true) }),
      annotations: UPDATE,
      execute: async (input, context) => {
        await post('reactions.add', input, `message ${input.timestamp} in channel ${input.channel}`, context);
        return { ok: true as const };
      },
    }),
    defineTool({
      slug: 'SLACK_REMOVE_REACTION',
      description: 'Remove an emoji reaction the app added to a message.',
      inputSchema: z.object({
        channel,
        timestamp: ts,
        name: z.string().min(1).describe('Emoji name without colons'),
      }),
      outputSchema: z.object({ ok: z.literal(true) }),
      annotations: UPDATE,
      execute: async (input, context) => {
        await post(
          'reactions.remove',
          input,
          `reaction ${input.name} on message ${input.timestamp}`,
          context,
        );
        return { ok: true as const };
      },
    }),
    defineTool({
      slug: 'SLACK_SEARCH_MESSAGES',
      description:
        'Search messages across the workspace with Slack search syntax, e.g. "deploy in:#ops from:@alice after:2024-01-01". Needs a user token with the search:read scope.',
      inputSchema: z.object({
        query: z.string().min(1).describe('Search text with modifiers such as in:, from:, before:, after:'),
        count: z.number().int().min(1).max(100).default(20).describe('Results per page'),
        sort: z.enum(['score', 'timestamp']).default('score').describe('Sort by relevance or time'),
        sort_dir: z.enum(['asc', 'desc']).default('desc').describe('Sort direction'),
        page: z.number().int().min(1).default(1).describe('Page number, starting at 1'),
      }),
      outputSchema: z.object({
        total: z.number(),
        matches: z.array(
          z.object({
            channel: z.string().nullable(),
            channel_name: z.string().nullable(),
            user: z.string().nullable(),
            username: z.string().nullable(),
            ts: z.string(),
            text: z.string(),
            permalink: z.string().nullable(),
          }),
        ),
      }),
      annotations: READ,
      execute: async (query, context) => {
        const result = await api.request(context, {
          path: '/search.messages',
          query,
          resource: 'message search',
        });
        return {
          total: result.messages?.total ?? 0,
          matches: (result.messages?.matches ?? []).map((match: Json) => ({
            channel: match.channel?.id ?? null,
            channel_name: match.channel?.name ?? null,
            user: match.user ?? null,
            username: match.username ?? null,
            ts: match.ts,
            text: match.text ?? '',
            permalink: match.permalink ?? null,
          })),
        };
      },
    }),
    defineTool({
      slug: 'SLACK_JOIN_CHANNEL',
      description: 'Join a public channel so the app can read and post in it (fixes "not_in_channel").',
      inputSchema: z.object({ channel }),
      outputSchema: z.object({ id: z.string(), name: z.string() }),
      annotations: UPDATE,
      execute: async (input, context) => {
        const result = await post('conversations.join', input, `channel ${input.channel}`, context);
        return { id: result.channel.id, name: result.channel.name };
      },
    }),
  ];

  return defineToolkit({
    slug: 'slack',
    name: 'Slack',
    description:
      'Slack workspace messaging: channels, posting and editing messages, threads, DMs, users, reactions and search.',
    categories: ['communication', 'chat'],
    keywords: ['chat', 'channel', 'DM', 'direct message'],
    baseUrl,
    auth: {
      type: 'oauth2',
      authorizationUrl: 'https://slack.com/oauth/v2/authorize',
      tokenUrl: 'https://slack.com/api/oauth.v2.access',
      scopes: [
        'channels:read',
        'groups:read',
        'channels:history',
        'groups:history',
        'channels:join',
        'chat:write',
        'im:write',
        'users:read',
        'users:read.email',
        'reactions:write',
      ],
      scopeSeparator: ',',
      // oauth.v2.access answers `"token_type": "bot"` for the bot token (a Bearer token)
      bearerTokenTypes: ['bot', 'user'],
      // oauth.v2.access's own error codes (answered with HTTP 200 and `ok: false`): a refresh token
      // that is no longer valid; a client id or secret it does not know
      refreshTokenDeadErrors: ['invalid_refresh_token'],
      clientRejectedErrors: ['invalid_client_id', 'bad_client_secret'],
    },
    tools: readingAnswers(api.service, tools),
  });
}

/** Slack against slack.com/api. */
export const slack: Toolkit = createSlackToolkit();
