import { mcpOutputSchemaOf } from '@toolmux/core/internal';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FakeApi, run, startFakeApi, toolContext } from '../test/api-server.js';
import { createSlackToolkit } from './slack.js';

/** Answers as the Slack Web API documents them for each method. */
const channelFixture = {
  id: 'C012AB3CD',
  name: 'general',
  is_channel: true,
  is_group: false,
  is_im: false,
  created: 1449252889,
  creator: 'U012A3CDE',
  is_archived: false,
  is_general: true,
  unlinked: 0,
  name_normalized: 'general',
  is_shared: false,
  is_ext_shared: false,
  is_org_shared: false,
  pending_shared: [],
  is_pending_ext_shared: false,
  is_member: true,
  is_private: false,
  is_mpim: false,
  topic: { value: 'Company-wide announcements and work-based matters', creator: '', last_set: 0 },
  purpose: {
    value: 'This channel is for team-wide communication and announcements.',
    creator: '',
    last_set: 0,
  },
  previous_names: [],
  num_members: 4,
};
const userFixture = {
  id: 'W012A3CDE',
  team_id: 'T012AB3C4',
  name: 'spengler',
  deleted: false,
  color: '9f69e7',
  real_name: 'Egon Spengler',
  tz: 'America/Los_Angeles',
  tz_label: 'Pacific Daylight Time',
  tz_offset: -25200,
  profile: {
    avatar_hash: 'ge3b51ca72de',
    status_text: 'Print is dead',
    status_emoji: ':books:',
    real_name: 'Egon Spengler',
    display_name: 'spengler',
    real_name_normalized: 'Egon Spengler',
    display_name_normalized: 'spengler',
    email: 'spengler@ghostbusters.example.com',
    title: 'Parapsychologist',
    team: 'T012AB3C4',
  },
  is_admin: true,
  is_owner: false,
  is_primary_owner: false,
  is_restricted: false,
  is_ultra_restricted: false,
  is_bot: false,
  updated: 1502138686,
  is_app_user: false,
  has_2fa: false,
};
const messageFixture = {
  type: 'message',
  user: 'U123ABC456',
  text: 'I find you punny and would like to smell your nose letter',
  ts: '1512085950.000216',
  thread_ts: '1512085950.000216',
  reply_count: 2,
  reactions: [{ name: 'laughing', users: ['U222222222'], count: 1 }],
};

let api: FakeApi;
let toolkit: ReturnType<typeof createSlackToolkit>;
const context = toolContext({ accessToken: 'xoxb-test' });

beforeAll(async () => {
  api = await startFakeApi();
  toolkit = createSlackToolkit({ baseUrl: `${api.url}/api` });
  api.route('GET', '/api/conversations.list', {
    body: {
      ok: true,
      channels: [channelFixture],
      response_metadata: { next_cursor: 'dGVhbTpDMDYxRkE1UEI=' },
    },
  });
  api.route('POST', '/api/chat.postMessage', (request) => ({
    body: {
      ok: true,
      channel: (request.body as { channel: string }).channel,
      ts: '1503435956.000247',
      message: {
        text: (request.body as { text: string }).text,
        username: 'ecto1',
        bot_id: 'B123ABC456',
        type: 'message',
        subtype: 'bot_message',
        ts: '1503435956.000247',
      },
    },
  }));
  api.route('POST', '/api/conversations.open', { body: { ok: true, channel: { id: 'D069C7QFK' } } });
  api.route('POST', '/api/chat.update', {
    body: {
      ok: true,
      channel: 'C123ABC456',
      ts: '1401383885.000061',
      text: 'Updated text you carefully authored',
      message: { text: 'Updated text you carefully authored', user: 'U34567890' },
    },
  });
  api.route('POST', '/api/chat.delete', {
    body: { ok: true, channel: 'C123ABC456', ts: '1401383885.000061' },
  });
  api.route('POST', '/api/chat.scheduleMessage', {
    body: {
      ok: true,
      channel: 'C1H9RESGL',
      scheduled_message_id: 'Q1298393284',
      post_at: '1562180400',
      message: { text: 'Here is a message for you in the future' },
    },
  });
  api.route('GET', '/api/conversations.history', {
    body: {
      ok: true,
      messages: [messageFixture],
      has_more: true,
      pin_count: 0,
      response_metadata: { next_cursor: 'bmV4dF90czoxNTEyMDg1ODYxMDAwNTQz' },
    },
  });
  api.route('GET', '/api/conversations.replies', {
    body: {
      ok: true,
      messages: [
        messageFixture,
        {
          type: 'message',
          user: 'U061F7AUR',
          text: 'island',
          ts: '1482960137.003543',
          thread_ts: '1512085950.000216',
          parent_user_id: 'U123ABC456',
        },
      ],
      has_more: false,
    },
  });
  api.route('GET', '/api/users.list', {
    body: { ok: true, members: [userFixture], cache_ts: 1498777272, response_metadata: { next_cursor: '' } },
  });
  api.route('GET', '/api/users.info', { body: { ok: true, user: userFixture } });
  api.route('GET', '/api/users.lookupByEmail', { body: { ok: true, user: userFixture } });
  api.route('POST', '/api/reactions.add', { body: { ok: true } });
  api.route('POST', '/api/reactions.remove', { body: { ok: true } });
  api.route('GET', '/api/search.messages', {
    body: {
      ok: true,
      query: 'The meaning of life the universe and everything',
      messages: {
        matches: [
          {
            channel: {
              id: 'C12345678',
              is_ext_shared: false,
              is_mpim: false,
              is_org_shared: false,
              is_pending_ext_shared: false,
              is_private: false,
              is_shared: false,
              name: 'general',
              pending_shared: [],
            },
            iid: 'cb64bdaa-c1e8-4631-8a91-0f78080113e9',
            permalink: 'https://hitchhikers.slack.com/archives/C12345678/p1508284197000015',
            team: 'T12345678',
            text: 'The meaning of life the universe and everything is 42.',
            ts: '1508284197.000015',
            type: 'message',
            user: 'U2U85N1RV',
            username: 'roach',
          },
        ],
        pagination: { first: 1, last: 1, page: 1, page_count: 1, per_page: 20, total_count: 1 },
        paging: { count: 20, page: 1, pages: 1, total: 1 },
        total: 1,
      },
    },
  });
  api.route('POST', '/api/conversations.join', {
    body: { ok: true, channel: { ...channelFixture, id: 'C061EG9SL', name: 'random' } },
  });
});

afterAll(() => api.close());

describe('slack tools', () => {
  it('lists channels with the bot token', async () => {
    const result = await run(toolkit, 'SLACK_LIST_CHANNELS', {}, context);
    expect(result).toEqual({
      channels: [
        {
          id: 'C012AB3CD',
          name: 'general',
          user: null,
          is_im: false,
          is_mpim: false,
          is_private: false,
          is_member: true,
          num_members: 4,
          topic: 'Company-wide announcements and work-based matters',
          purpose: 'This channel is for team-wide communication and announcements.',
        },
      ],
      next_cursor: 'dGVhbTpDMDYxRkE1UEI=',
    });
    expect(api.requests.at(-1)!.headers.authorization).toBe('Bearer xoxb-test');
    expect(api.requests.at(-1)!.query).toMatchObject({
      types: 'public_channel,private_channel',
      exclude_archived: 'true',
    });
  });

  it('lists channels of every kind as the output schema says (the MCP endpoint checks it): a direct message has no name, and gives the user it is with', async () => {
    // conversations.list's im and mpim objects as Slack documents them
    const im = {
      id: 'D0C0F7S8Y',
      created: 1498500348,
      is_im: true,
      is_org_shared: false,
      user: 'U0BS9U4SV',
      is_user_deleted: false,
      priority: 0,
    };
    const mpim = {
      id: 'G0AKFJBEU',
      name: 'mpdm-mr.banks--slactions-jackson--beforebot-1',
      is_channel: false,
      is_group: true,
      is_im: false,
      is_mpim: true,
      is_private: true,
      created: 1493657761,
      is_archived: false,
      is_member: true,
      topic: { value: 'Group messaging', creator: 'U061F7AUR', last_set: 1493657761 },
      purpose: {
        value: 'Group messaging with: @mr.banks @slactions-jackson @beforebot',
        creator: '',
        last_set: 0,
      },
      num_members: 3,
    };
    api.route('GET', '/api/conversations.list', (request) => ({
      body: {
        ok: true,
        channels: request.query.types === 'im,mpim' ? [im, mpim] : [channelFixture],
        response_metadata: { next_cursor: '' },
      },
    }));
    const result = await run(toolkit, 'SLACK_LIST_CHANNELS', { types: 'im,mpim' }, context);
    expect(result.channels).toEqual([
      {
        id: 'D0C0F7S8Y',
        name: null,
        user: 'U0BS9U4SV',
        is_im: true,
        is_mpim: false,
        is_private: true,
        is_member: true,
        num_members: null,
        topic: '',
        purpose: '',
      },
      expect.objectContaining({
        id: 'G0AKFJBEU',
        user: null,
        is_mpim: true,
        is_private: true,
        num_members: 3,
      }),
    ]);
    const tool = toolkit.tools.find((candidate) => candidate.slug === 'SLACK_LIST_CHANNELS')!;
    const schema = await mcpOutputSchemaOf(tool, (reason) => {
      throw new Error(reason);
    });
    expect(await schema!.validator(result)).toEqual({ success: true });
  });

  it('posts, replies in threads, DMs, updates, schedules and deletes messages', async () => {
    expect(
      await run(
        toolkit,
        'SLACK_POST_MESSAGE',
        { channel: 'C123ABC456', text: 'Deploy done :rocket:', thread_ts: '1512085950.000216' },
        context,
      ),
    ).toEqual({
      channel: 'C123ABC456',
      ts: '1503435956.000247',
      text: 'Deploy done :rocket:',
    });
    expect(api.requests.at(-1)).toMatchObject({
      method: 'POST',
      path: '/api/chat.postMessage',
      body: { channel: 'C123ABC456', text: 'Deploy done :rocket:', thread_ts: '1512085950.000216' },
    });
    expect(api.requests.at(-1)!.headers['content-type']).toBe('application/json; charset=utf-8');
    const dm = await run(toolkit, 'SLACK_SEND_DIRECT_MESSAGE', { user: 'W012A3CDE', text: 'hi' }, context);
    expect(dm.channel).toBe('D069C7QFK');
    expect(api.requests.at(-2)!.body).toEqual({ users: 'W012A3CDE' });
    expect(
      (
        await run(
          toolkit,
          'SLACK_UPDATE_MESSAGE',
          { channel: 'C123ABC456', ts: '1401383885.000061', text: 'Updated text you carefully authored' },
          context,
        )
      ).text,
    ).toBe('Updated text you carefully authored');
    expect(
      await run(
        toolkit,
        'SLACK_SCHEDULE_MESSAGE',
        { channel: 'C1H9RESGL', text: 'Here is a message for you in the future', post_at: 1562180400 },
        context,
      ),
    ).toEqual({
      channel: 'C1H9RESGL',
      scheduled_message_id: 'Q1298393284',
      post_at: 1562180400,
    });
    expect(
      await run(toolkit, 'SLACK_DELETE_MESSAGE', { channel: 'C123ABC456', ts: '1401383885.000061' }, context),
    ).toEqual({
      channel: 'C123ABC456',
      ts: '1401383885.000061',
      deleted: true,
    });
  });

  it('reads history and threads', async () => {
    const history = await run(
      toolkit,
      'SLACK_GET_CHANNEL_HISTORY',
      { channel: 'C123ABC456', limit: 5 },
      context,
    );
    expect(history.messages[0]).toEqual({
      ts: '1512085950.000216',
      user: 'U123ABC456',
      text: 'I find you punny and would like to smell your nose letter',
      thread_ts: '1512085950.000216',
      reply_count: 2,
      reactions: [{ name: 'laughing', count: 1 }],
    });
    expect(history.has_more).toBe(true);
    expect(api.requests.at(-1)!.query).toMatchObject({ channel: 'C123ABC456', limit: '5' });
    const thread = await run(
      toolkit,
      'SLACK_GET_THREAD_REPLIES',
      { channel: 'C123ABC456', ts: '1512085950.000216' },
      context,
    );
    expect(thread.messages).toHaveLength(2);
  });

  it('lists, gets and finds users', async () => {
    const users = await run(toolkit, 'SLACK_LIST_USERS', {}, context);
    expect(users.users[0]).toEqual({
      id: 'W012A3CDE',
      name: 'spengler',
      real_name: 'Egon Spengler',
      display_name: 'spengler',
      email: 'spengler@ghostbusters.example.com',
      title: 'Parapsychologist',
      is_bot: false,
      deleted: false,
      tz: 'America/Los_Angeles',
    });
    expect(users.next_cursor).toBeNull();
    expect((await run(toolkit, 'SLACK_GET_USER_INFO', { user: 'W012A3CDE' }, context)).name).toBe('spengler');
    await run(toolkit, 'SLACK_FIND_USER_BY_EMAIL', { email: 'spengler@ghostbusters.example.com' }, context);
    expect(api.requests.at(-1)!.query).toEqual({ email: 'spengler@ghostbusters.example.com' });
  });

  it('reacts, searches and joins channels', async () => {
    expect(
      await run(
        toolkit,
        'SLACK_ADD_REACTION',
        { channel: 'C123', timestamp: '1512085950.000216', name: 'eyes' },
        context,
      ),
    ).toEqual({ ok: true });
    expect(api.requests.at(-1)!.body).toEqual({
      channel: 'C123',
      timestamp: '1512085950.000216',
      name: 'eyes',
    });
    await run(
      toolkit,
      'SLACK_REMOVE_REACTION',
      { channel: 'C123', timestamp: '1512085950.000216', name: 'eyes' },
      context,
    );
    const found = await run(
      toolkit,
      'SLACK_SEARCH_MESSAGES',
      { query: 'meaning of life in:#general' },
      context,
    );
    expect(found.matches[0]).toMatchObject({
      channel_name: 'general',
      username: 'roach',
      ts: '1508284197.000015',
    });
    expect(await run(toolkit, 'SLACK_JOIN_CHANNEL', { channel: 'C061EG9SL' }, context)).toEqual({
      id: 'C061EG9SL',
      name: 'random',
    });
  });
});

describe('slack errors (HTTP 200 with ok: false, and HTTP 429)', () => {
  it('invalid_auth is a 401: reconnect', async () => {
    api.failNext({ body: { ok: false, error: 'invalid_auth' } });
    await expect(run(toolkit, 'SLACK_LIST_CHANNELS', {}, context)).rejects.toThrow(
      /Slack rejected the credentials \(401: invalid_auth\).*reconnect the Slack account/,
    );
  });

  it('channel_not_found is a 404 naming the channel', async () => {
    api.failNext({ body: { ok: false, error: 'channel_not_found' } });
    await expect(
      run(toolkit, 'SLACK_POST_MESSAGE', { channel: 'C999', text: 'hi' }, context),
    ).rejects.toThrow(/Slack found no channel C999 \(404: channel_not_found\)/);
  });

  it('missing_scope is a 403 naming the scope', async () => {
    api.failNext({
      body: {
        ok: false,
        error: 'missing_scope',
        needed: 'search:read',
        provided: 'chat:write,channels:read',
      },
    });
    await expect(run(toolkit, 'SLACK_SEARCH_MESSAGES', { query: 'x' }, context)).rejects.toThrow(
      /missing_scope \(needs scope search:read; the token has chat:write,channels:read\)/,
    );
  });

  it('429 honours Retry-After: retried when short, reported when long', async () => {
    api.failNext({ status: 429, headers: { 'retry-after': '1' }, body: { ok: false, error: 'ratelimited' } });
    expect((await run(toolkit, 'SLACK_LIST_USERS', {}, context)).users).toHaveLength(1);
    api.failNext({
      status: 429,
      headers: { 'retry-after': '30' },
      body: { ok: false, error: 'ratelimited' },
    });
    await expect(run(toolkit, 'SLACK_LIST_USERS', {}, context)).rejects.toThrow(
      /Slack rate limit reached \(429 Too Many Requests: ratelimited\)\. Retry after 30 seconds/,
    );
  });
});
