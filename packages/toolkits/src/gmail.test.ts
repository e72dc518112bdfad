import { longestTurn, turnReport } from '@toolmux/core/test';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FakeApi, run, startFakeApi, toolContext } from '../test/api-server.js';
import { buildRawEmail, createGmailToolkit } from './gmail.js';

const b64 = (text: string) => Buffer.from(text).toString('base64url');
const headers = (values: Record<string, string>) =>
  Object.entries(values).map(([name, value]) => ({ name, value }));

/** Shapes as the Gmail API documents them (users.messages resource, format=full / metadata). */
const fullMessage = {
  id: '18c2a9e4f1b3d5a7',
  threadId: '18c2a9e4f1b3d5a7',
  labelIds: ['UNREAD', 'IMPORTANT', 'CATEGORY_PERSONAL', 'INBOX'],
  snippet: 'Hi Sam, the Q3 numbers are attached. Can you review them before Friday?',
  sizeEstimate: 58342,
  historyId: '4527961',
  internalDate: '1701354200000',
  payload: {
    partId: '',
    mimeType: 'multipart/mixed',
    filename: '',
    headers: headers({
      From: 'Alice Example <alice@example.com>',
      To: 'sam@example.com',
      Cc: 'bob@example.com',
      Subject: 'Q3 numbers',
      Date: 'Thu, 30 Nov 2023 14:23:20 +0000',
      'Message-ID': '<CAF=abc123@mail.gmail.com>',
    }),
    body: { size: 0 },
    parts: [
      {
        partId: '0',
        mimeType: 'multipart/alternative',
        filename: '',
        headers: headers({ 'Content-Type': 'multipart/alternative; boundary="000000000000a1b2c3"' }),
        body: { size: 0 },
        parts: [
          {
            partId: '0.0',
            mimeType: 'text/plain',
            filename: '',
            headers: headers({ 'Content-Type': 'text/plain; charset="UTF-8"' }),
            body: {
              size: 72,
              data: b64('Hi Sam,\r\n\r\nthe Q3 numbers are attached. Can you review them before Friday?\r\n'),
            },
          },
          {
            partId: '0.1',
            mimeType: 'text/html',
            filename: '',
            headers: headers({ 'Content-Type': 'text/html; charset="UTF-8"' }),
            body: { size: 98, data: b64('<div dir="ltr">Hi Sam,<br><br>the Q3 numbers are attached.</div>') },
          },
        ],
      },
      {
        partId: '1',
        mimeType: 'application/pdf',
        filename: 'q3-report.pdf',
        headers: headers({ 'Content-Type': 'application/pdf; name="q3-report.pdf"' }),
        body: { attachmentId: 'ANGjdJ8wXq3Pz', size: 48213 },
      },
    ],
  },
};
const metadataMessage = (id: string, subject: string) => ({
  id,
  threadId: id,
  labelIds: ['INBOX'],
  snippet: `About ${subject}`,
  sizeEstimate: 4210,
  historyId: '4527962',
  internalDate: '1701354200000',
  payload: {
    mimeType: 'multipart/alternative',
    headers: headers({
      From: 'Alice Example <alice@example.com>',
      To: 'sam@example.com',
      Cc: 'bob@example.com',
      Subject: subject,
      Date: 'Thu, 30 Nov 2023 14:23:20 +0000',
      'Message-ID': '<CAF=abc123@mail.gmail.com>',
    }),
  },
});

let api: FakeApi;
let toolkit: ReturnType<typeof createGmailToolkit>;
const context = toolContext({ accessToken: 'ya29.test-token' });
const googleError = (code: number, message: string, status: string) => ({
  status: code,
  body: {
    error: { code, message, errors: [{ message, domain: 'global', reason: status.toLowerCase() }], status },
  },
});

beforeAll(async () => {
  api = await startFakeApi();
  toolkit = createGmailToolkit({ baseUrl: `${api.url}/gmail/v1` });
  api.route('GET', '/gmail/v1/users/me/profile', {
    body: {
      emailAddress: 'sam@example.com',
      messagesTotal: 48213,
      threadsTotal: 21044,
      historyId: '4527961',
    },
  });
  api.route('GET', '/gmail/v1/users/me/messages', {
    body: {
      messages: [
        { id: '18c2a9e4f1b3d5a7', threadId: '18c2a9e4f1b3d5a7' },
        { id: '18c29f0d2e4a6b11', threadId: '18c29f0d2e4a6b11' },
      ],
      nextPageToken: '09876543210987654321',
      resultSizeEstimate: 2,
    },
  });
  api.route('GET', '/gmail/v1/users/me/messages/:id', (request) =>
    request.query.format === 'full'
      ? { body: fullMessage }
      : { body: metadataMessage(request.path.split('/').at(-1)!, 'Q3 numbers') },
  );
  api.route('GET', '/gmail/v1/users/me/threads/:id', {
    body: { id: '18c2a9e4f1b3d5a7', historyId: '4527961', messages: [fullMessage] },
  });
  api.route('POST', '/gmail/v1/users/me/messages/send', {
    body: { id: '18c2b0c1d2e3f4a5', threadId: '18c2a9e4f1b3d5a7', labelIds: ['SENT'] },
  });
  api.route('POST', '/gmail/v1/users/me/drafts', {
    body: {
      id: 'r-4827163958274619',
      message: { id: '18c2b1a2b3c4d5e6', threadId: '18c2b1a2b3c4d5e6', labelIds: ['DRAFT'] },
    },
  });
  api.route('GET', '/gmail/v1/users/me/drafts', {
    body: {
      drafts: [
        { id: 'r-4827163958274619', message: { id: '18c2b1a2b3c4d5e6', threadId: '18c2b1a2b3c4d5e6' } },
      ],
      resultSizeEstimate: 1,
    },
  });
  api.route('GET', '/gmail/v1/users/me/drafts/:id', {
    body: { id: 'r-4827163958274619', message: metadataMessage('18c2b1a2b3c4d5e6', 'Draft: offsite plan') },
  });
  api.route('POST', '/gmail/v1/users/me/drafts/send', {
    body: { id: '18c2b1a2b3c4d5e6', threadId: '18c2b1a2b3c4d5e6', labelIds: ['SENT'] },
  });
  api.route('GET', '/gmail/v1/users/me/labels', {
    body: {
      labels: [
        {
          id: 'INBOX',
          name: 'INBOX',
          messageListVisibility: 'hide',
          labelListVisibility: 'labelShow',
          type: 'system',
        },
        {
          id: 'Label_3',
          name: 'Clients/Acme',
          type: 'user',
          messageListVisibility: 'show',
          labelListVisibility: 'labelShow',
        },
      ],
    },
  });
  api.route('POST', '/gmail/v1/users/me/labels', {
    body: {
      id: 'Label_4',
      name: 'Receipts',
      messageListVisibility: 'show',
      labelListVisibility: 'labelShow',
      type: 'user',
    },
  });
  api.route('POST', '/gmail/v1/users/me/messages/:id/modify', {
    body: { id: '18c2a9e4f1b3d5a7', threadId: '18c2a9e4f1b3d5a7', labelIds: ['IMPORTANT', 'STARRED'] },
  });
  api.route('POST', '/gmail/v1/users/me/messages/:id/trash', {
    body: { id: '18c2a9e4f1b3d5a7', threadId: '18c2a9e4f1b3d5a7', labelIds: ['TRASH'] },
  });
  api.route('POST', '/gmail/v1/users/me/messages/:id/untrash', {
    body: { id: '18c2a9e4f1b3d5a7', threadId: '18c2a9e4f1b3d5a7', labelIds: ['INBOX'] },
  });
});

afterAll(() => api.close());

function sentMessage(): string {
  const body = api.requests.at(-1)!.body as { raw?: string; message?: { raw: string } };
  return Buffer.from(body.raw ?? body.message!.raw, 'base64url').toString('utf8');
}

describe('gmail tools', () => {
  it('gets the profile with the bearer token', async () => {
    expect(await run(toolkit, 'GMAIL_GET_PROFILE', {}, context)).toEqual({
      emailAddress: 'sam@example.com',
      messagesTotal: 48213,
      threadsTotal: 21044,
    });
    expect(api.requests.at(-1)!.headers.authorization).toBe('Bearer ya29.test-token');
  });

  it('searches and lists messages with their headers', async () => {
    const found = await run(
      toolkit,
      'GMAIL_SEARCH_MESSAGES',
      { q: 'from:alice is:unread', maxResults: 2 },
      context,
    );
    expect(found.nextPageToken).toBe('09876543210987654321');
    expect(found.messages[0]).toMatchObject({
      from: 'Alice Example <alice@example.com>',
      subject: 'Q3 numbers',
    });
    const list = api.requests.find((request) => request.path === '/gmail/v1/users/me/messages');
    expect(list!.query).toMatchObject({ q: 'from:alice is:unread', maxResults: '2' });
    const metadata = api.requests.at(-1)!;
    expect(metadata.query.format).toBe('metadata');

    await run(toolkit, 'GMAIL_LIST_MESSAGES', { labelIds: ['INBOX', 'UNREAD'] }, context);
    const listUrl = api.requests.filter((request) => request.path === '/gmail/v1/users/me/messages').at(-1)!;
    expect(listUrl.query).toMatchObject({ maxResults: '10', includeSpamTrash: 'false' });
  });

  it('reads a message body and attachments, and a thread', async () => {
    const message = await run(toolkit, 'GMAIL_GET_MESSAGE', { messageId: '18c2a9e4f1b3d5a7' }, context);
    expect(message.bodyText).toContain('the Q3 numbers are attached');
    expect(message.attachments).toEqual([
      { filename: 'q3-report.pdf', mimeType: 'application/pdf', size: 48213, attachmentId: 'ANGjdJ8wXq3Pz' },
    ]);
    expect(message.messageIdHeader).toBe('<CAF=abc123@mail.gmail.com>');
    const thread = await run(toolkit, 'GMAIL_GET_THREAD', { threadId: '18c2a9e4f1b3d5a7' }, context);
    expect(thread.messages).toHaveLength(1);
  });

  it("reads an HTML-only message as text in time linear in its size: a sender's `<` without `>` and `<style` without its end hold no turn of the event loop", async () => {
    const hostile = `<div><style>p { color: red }</style><p>Hello <b>Sam</b>,</p>see &amp; reply<br>thanks</div>${'<a'.repeat(60_000)}${'<style '.repeat(10_000)}`;
    api.route('GET', '/gmail/v1/users/me/messages/hostile-html', {
      body: {
        ...fullMessage,
        id: 'hostile-html',
        payload: {
          mimeType: 'text/html',
          headers: fullMessage.payload.headers,
          body: { data: b64(hostile) },
        },
      },
    });
    const measured = await longestTurn(
      () => run(toolkit, 'GMAIL_GET_MESSAGE', { messageId: 'hostile-html' }, context),
      150,
    );
    // the text of the tags, then the rest as it is (no tag ends there), cut to 50,000 characters
    expect(measured.value.bodyText).toMatch(/^Hello Sam,\n+see & reply\nthanks\n<a<a<a/);
    expect(measured.value.bodyText.length).toBe(50_001);
    // the regular expressions took 3–15 s for this message, 50 s for 400 KB of `<a`
    expect(measured.turnMs, turnReport(measured)).toBeLessThanOrEqual(150);
  }, 120_000);

  it('sends an RFC 2822 message and replies in the thread', async () => {
    await run(
      toolkit,
      'GMAIL_SEND_EMAIL',
      { to: ['bob@example.com'], subject: 'Grüße', body: 'Hello Bob', cc: ['carol@example.com'] },
      context,
    );
    const raw = sentMessage();
    expect(raw).toContain('To: bob@example.com\r\n');
    expect(raw).toContain('Cc: carol@example.com\r\n');
    expect(raw).toContain(`Subject: =?UTF-8?B?${Buffer.from('Grüße').toString('base64')}?=`);
    expect(raw).toContain(Buffer.from('Hello Bob').toString('base64'));

    const reply = await run(
      toolkit,
      'GMAIL_REPLY_TO_MESSAGE',
      { messageId: '18c2a9e4f1b3d5a7', body: 'Will do', replyAll: true },
      context,
    );
    expect(reply.threadId).toBe('18c2a9e4f1b3d5a7');
    expect((api.requests.at(-1)!.body as { threadId: string }).threadId).toBe('18c2a9e4f1b3d5a7');
    const replyRaw = sentMessage();
    expect(replyRaw).toContain('To: Alice Example <alice@example.com>\r\n');
    // The connected user (sam@example.com) is left out of a reply-all.
    expect(replyRaw).toContain('Cc: bob@example.com\r\n');
    expect(replyRaw).toContain('Subject: Re: Q3 numbers\r\n');
    expect(replyRaw).toContain('In-Reply-To: <CAF=abc123@mail.gmail.com>\r\n');
  });

  it('reply-all copies each other recipient whole, once, by address: a quoted name with a comma stays one mailbox, and only the user is left out', async () => {
    api.route('GET', '/gmail/v1/users/me/messages/listed', {
      body: {
        id: 'listed',
        threadId: 'listed',
        payload: {
          headers: headers({
            From: 'Carol <carol@example.com>',
            To: '"Example, Sam" <SAM@example.com>, joesam@example.com, "Lee, Bob" <bob@example.com>',
            Cc: 'Team: bob@example.com (Bob, again), carol@example.com, sam@example.com.au;',
            Subject: 'plan',
            'Message-ID': '<plan@mail>',
          }),
        },
      },
    });
    await run(
      toolkit,
      'GMAIL_REPLY_TO_MESSAGE',
      { messageId: 'listed', body: 'ok', replyAll: true },
      context,
    );
    const raw = sentMessage();
    expect(raw).toContain('To: Carol <carol@example.com>\r\n');
    expect(raw).toContain('Cc: joesam@example.com, "Lee, Bob" <bob@example.com>, sam@example.com.au\r\n');
  });

  it('keeps line breaks in fields from adding headers', () => {
    const raw = Buffer.from(
      buildRawEmail({ to: ['a@example.com'], subject: 'Hi\r\nBcc: attacker@example.com', body: 'x' }),
      'base64url',
    ).toString('utf8');
    expect(raw).not.toMatch(/^Bcc:/m);
    expect(raw).toContain('Subject: Hi Bcc: attacker@example.com\r\n');
  });

  it('creates, lists and sends drafts', async () => {
    expect(
      await run(
        toolkit,
        'GMAIL_CREATE_DRAFT',
        { to: ['team@example.com'], subject: 'Offsite plan', body: 'Agenda…' },
        context,
      ),
    ).toEqual({ draftId: 'r-4827163958274619', messageId: '18c2b1a2b3c4d5e6' });
    expect(sentMessage()).toContain('Subject: Offsite plan');
    const drafts = await run(toolkit, 'GMAIL_LIST_DRAFTS', {}, context);
    expect(drafts.drafts[0]).toMatchObject({
      draftId: 'r-4827163958274619',
      message: { subject: 'Draft: offsite plan' },
    });
    expect(await run(toolkit, 'GMAIL_SEND_DRAFT', { draftId: 'r-4827163958274619' }, context)).toMatchObject({
      labelIds: ['SENT'],
    });
    expect(api.requests.at(-1)!.body).toEqual({ id: 'r-4827163958274619' });
  });

  it('lists and creates labels, modifies labels, trashes and untrashes', async () => {
    const labels = await run(toolkit, 'GMAIL_LIST_LABELS', {}, context);
    expect(labels.labels.map((label: { name: string }) => label.name)).toEqual(['INBOX', 'Clients/Acme']);
    expect(await run(toolkit, 'GMAIL_CREATE_LABEL', { name: 'Receipts' }, context)).toMatchObject({
      id: 'Label_4',
    });
    await run(
      toolkit,
      'GMAIL_MODIFY_MESSAGE_LABELS',
      { messageId: '18c2a9e4f1b3d5a7', addLabelIds: ['STARRED'], removeLabelIds: ['UNREAD', 'INBOX'] },
      context,
    );
    expect(api.requests.at(-1)!.body).toEqual({
      addLabelIds: ['STARRED'],
      removeLabelIds: ['UNREAD', 'INBOX'],
    });
    expect(await run(toolkit, 'GMAIL_TRASH_MESSAGE', { messageId: '18c2a9e4f1b3d5a7' }, context)).toEqual({
      id: '18c2a9e4f1b3d5a7',
      labelIds: ['TRASH'],
    });
    expect(api.requests.at(-1)!.path).toBe('/gmail/v1/users/me/messages/18c2a9e4f1b3d5a7/trash');
    await run(toolkit, 'GMAIL_UNTRASH_MESSAGE', { messageId: '18c2a9e4f1b3d5a7' }, context);
  });
});

describe('gmail errors', () => {
  it('401 asks for a reconnect', async () => {
    api.failNext(
      googleError(
        401,
        'Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.',
        'UNAUTHENTICATED',
      ),
    );
    await expect(run(toolkit, 'GMAIL_GET_PROFILE', {}, context)).rejects.toThrow(
      /Gmail rejected the credentials.*reconnect the Gmail account/,
    );
  });

  it('404 names the message', async () => {
    api.failNext(googleError(404, 'Requested entity was not found.', 'NOT_FOUND'));
    await expect(run(toolkit, 'GMAIL_GET_MESSAGE', { messageId: 'nope' }, context)).rejects.toThrow(
      /Gmail found no message nope \(404 Not Found: Requested entity was not found\./,
    );
  });

  it('429 retries once after a short Retry-After, and reports a long one', async () => {
    api.failNext({
      ...googleError(429, 'Too many concurrent requests for user', 'RESOURCE_EXHAUSTED'),
      headers: { 'retry-after': '0' },
    });
    expect(await run(toolkit, 'GMAIL_GET_PROFILE', {}, context)).toMatchObject({
      emailAddress: 'sam@example.com',
    });
    api.failNext({
      ...googleError(429, 'User-rate limit exceeded.', 'RESOURCE_EXHAUSTED'),
      headers: { 'retry-after': '90' },
    });
    await expect(run(toolkit, 'GMAIL_GET_PROFILE', {}, context)).rejects.toThrow(
      /rate limit reached.*Retry after 90 seconds/,
    );
  });

  it('403 mentions scopes', async () => {
    api.failNext(googleError(403, 'Request had insufficient authentication scopes.', 'PERMISSION_DENIED'));
    await expect(
      run(toolkit, 'GMAIL_SEND_EMAIL', { to: ['a@b.co'], subject: 's', body: 'b' }, context),
    ).rejects.toThrow(/insufficient authentication scopes.*lacks a required scope/);
  });
});
