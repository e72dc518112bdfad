import { defineTool, defineToolkit, type Toolkit } from '@toolmux/core';
import { everyKeyOf, setupOptions } from '@toolmux/core/internal';
import { z } from 'zod';
import { parseAddressList } from './address-list.js';
import { CREATE, DESTROY, READ, UPDATE } from './annotations.js';
import { type Api, createApi, type RequestContext, readingAnswers, requireToken } from './http.js';

export interface GmailToolkitOptions {
  /** @default 'https://gmail.googleapis.com/gmail/v1' */
  baseUrl?: string;
}

type Json = Record<string, any>;

const messageId = z.string().min(1).describe('Gmail message id (from a list or search result)');
const maxResults = z.number().int().min(1).max(50).default(10).describe('Most messages to return (1-50)');
const pageToken = z.string().optional().describe('nextPageToken of the previous page');
const recipients = z.array(z.string().min(3)).describe('Email addresses');
const composeFields = {
  to: recipients.min(1).describe('Recipient email addresses'),
  cc: recipients.optional().describe('Cc email addresses'),
  bcc: recipients.optional().describe('Bcc email addresses'),
  subject: z.string().describe('Subject line'),
  body: z.string().describe('Message text (plain text, or HTML when isHtml is true)'),
  isHtml: z.boolean().default(false).describe('Send the body as HTML instead of plain text'),
};

const summaryOut = z.object({
  id: z.string(),
  threadId: z.string(),
  labelIds: z.array(z.string()),
  from: z.string().nullable(),
  to: z.string().nullable(),
  subject: z.string().nullable(),
  date: z.string().nullable(),
  snippet: z.string(),
});
const messageOut = summaryOut.extend({
  cc: z.string().nullable(),
  messageIdHeader: z.string().nullable(),
  bodyText: z.string(),
  attachments: z.array(
    z.object({
      filename: z.string(),
      mimeType: z.string(),
      size: z.number(),
      attachmentId: z.string().nullable(),
    }),
  ),
});
const listOut = z.object({
  messages: z.array(summaryOut),
  nextPageToken: z.string().nullable(),
  resultSizeEstimate: z.number(),
});
const labelOut = z.object({
  id: z.string(),
  name: z.string(),
  type: z.string(),
  messagesUnread: z.number().optional(),
  messagesTotal: z.number().optional(),
});

const SUMMARY_HEADERS = ['From', 'To', 'Subject', 'Date'];

function header(payload: Json | undefined, name: string): string | null {
  const found = (payload?.headers ?? []).find(
    (entry: Json) => entry.name.toLowerCase() === name.toLowerCase(),
  );
  return found ? found.value : null;
}

function decodeBase64Url(data: string | undefined): string {
  return data ? Buffer.from(data, 'base64url').toString('utf8') : '';
}

/**
 * `html` without its `<script>` and `<style>` elements (from `<script` to the first `</script>` after
 * it, any case), in time linear in its length: an element without its end is left as it is, and once
 * an end is not found after one place it is not looked for again (it is not after any later one).
 */
function withoutScriptsAndStyles(html: string): string {
  const opening = /<(script|style)/gi;
  const endless = new Set<string>();
  let text = '';
  let position = 0;
  for (let match = opening.exec(html); match !== null; match = opening.exec(html)) {
    const element = match[1]!.toLowerCase();
    if (endless.has(element)) continue;
    const end = new RegExp(`</${element}>`, 'gi');
    end.lastIndex = opening.lastIndex;
    if (end.exec(html) === null) {
      endless.add(element);
      opening.lastIndex = match.index + 1;
      continue;
    }
    text += html.slice(position, match.index);
    position = end.lastIndex;
    opening.lastIndex = position;
  }
  return text + html.slice(position);
}

/**
 * The text of an e-mail's HTML, in time linear in its length. Anyone can send the user an e-mail:
 * its HTML went through regular expressions that scanned the rest of it again at every `<` without a
 * `>` after it, and at every `<style` or `<script` without its end, so 400 KB of `<a` held the event
 * loop for 50 s, and a message of a few megabytes stopped the server for hours, when
 * GMAIL_GET_MESSAGE read it. A tag can only end at a `>`: no `<` after the last one starts a tag.
 */
function htmlToText(html: string): string {
  const lines = withoutScriptsAndStyles(html).replace(/<br\s*\/?>|<\/(p|div|li|tr|h\d)>/gi, '\n');
  const lastEnd = lines.lastIndexOf('>') + 1;
  return (lines.slice(0, lastEnd).replace(/<[^>]+>/g, '') + lines.slice(lastEnd))
    .replace(/&nbsp;/g, ' ')
    .replace(/&amp;/g, '&')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/\n{3,}/g, '\n\n')
    .trim();
}

/** The readable text of a message: its text/plain part, else its HTML part as text. */
function bodyText(payload: Json | undefined): string {
  const parts: Json[] = [];
  const walk = (part: Json | undefined) => {
    if (!part) return;
    parts.push(part);
    for (const child of part.parts ?? []) walk(child);
  };
  walk(payload);
  const plain = parts.find((part) => part.mimeType === 'text/plain' && part.body?.data);
  if (plain) return decodeBase64Url(plain.body.data);
  const html = parts.find((part) => part.mimeType === 'text/html' && part.body?.data);
  return html ? htmlToText(decodeBase64Url(html.body.data)) : '';
}

function attachments(payload: Json | undefined): z.infer<typeof messageOut>['attachments'] {
  const found: z.infer<typeof messageOut>['attachments'] = [];
  const walk = (part: Json | undefined) => {
    if (!part) return;
    if (part.filename) {
      found.push({
        filename: part.filename,
        mimeType: part.mimeType,
        size: part.body?.size ?? 0,
        attachmentId: part.body?.attachmentId ?? null,
      });
    }
    for (const child of part.parts ?? []) walk(child);
  };
  walk(payload);
  return found;
}

const toSummary = (message: Json): z.infer<typeof summaryOut> => ({
  id: message.id,
  threadId: message.threadId,
  labelIds: message.labelIds ?? [],
  from: header(message.payload, 'From'),
  to: header(message.payload, 'To'),
  subject: header(message.payload, 'Subject'),
  date: header(message.payload, 'Date'),
  snippet: message.snippet ?? '',
});

const toMessage = (message: Json): z.infer<typeof messageOut> => {
  const text = bodyText(message.payload);
  return {
    ...toSummary(message),
    cc: header(message.payload, 'Cc'),
    messageIdHeader: header(message.payload, 'Message-ID'),
    bodyText: text.length > 50_000 ? `${text.slice(0, 50_000)}…` : text,
    attachments: attachments(message.payload),
  };
};

/** A header value with line breaks removed, so input cannot add headers of its own. */
const headerValue = (value: string) => value.replace(/[\r\n]+/g, ' ').trim();

/** RFC 2047 encoded-word for non-ASCII header text. */
const encodeWord = (value: string) =>
  /^[\x20-\x7e]*$/.test(value) ? value : `=?UTF-8?B?${Buffer.from(value, 'utf8').toString('base64')}?=`;

/** An RFC 2822 message, base64url-encoded as Gmail's `raw` field wants it. */
export function buildRawEmail(message: {
  to: string[];
  cc?: string[] | undefined;
  bcc?: string[] | undefined;
  subject: string;
  body: string;
  isHtml?: boolean | undefined;
  inReplyTo?: string | undefined;
  references?: string | undefined;
}): string {
  const lines = [
    `To: ${headerValue(message.to.join(', '))}`,
    message.cc?.length ? `Cc: ${headerValue(message.cc.join(', '))}` : undefined,
    message.bcc?.length ? `Bcc: ${headerValue(message.bcc.join(', '))}` : undefined,
    `Subject: ${encodeWord(headerValue(message.subject))}`,
    message.inReplyTo ? `In-Reply-To: ${headerValue(message.inReplyTo)}` : undefined,
    message.references ? `References: ${headerValue(message.references)}` : undefined,
    'MIME-Version: 1.0',
    `Content-Type: ${message.isHtml ? 'text/html' : 'text/plain'}; charset="UTF-8"`,
    'Content-Transfer-Encoding: base64',
  ].filter((line) => line !== undefined);
  const body = Buffer.from(message.body, 'utf8')
    .toString('base64')
    .replace(/(.{76})/g, '$1\r\n');
  return Buffer.from(`${lines.join('\r\n')}\r\n\r\n${body}`, 'utf8').toString('base64url');
}

async function listMessages(
  api: Api,
  context: RequestContext,
  query: {
    q?: string | undefined;
    labelIds?: string[] | undefined;
    maxResults: number;
    pageToken?: string | undefined;
    includeSpamTrash?: boolean | undefined;
  },
): Promise<z.infer<typeof listOut>> {
  const list = await api.request(context, { path: '/users/me/messages', query, resource: 'mailbox' });
  const messages = await Promise.all(
    (list.messages ?? []).map((entry: Json) =>
      api.request(context, {
        path: `/users/me/messages/${encodeURIComponent(entry.id)}`,
        query: { format: 'metadata', metadataHeaders: SUMMARY_HEADERS },
        resource: `message ${entry.id}`,
      }),
    ),
  );
  return {
    messages: messages.map(toSummary),
    nextPageToken: list.nextPageToken ?? null,
    resultSizeEstimate: list.resultSizeEstimate ?? messages.length,
  };
}

/** The options of createGmailToolkit() (a misspelt one, `baseURL` for `baseUrl`, sent the calls to the default API). */
const GMAIL_OPTION_NAMES = everyKeyOf<GmailToolkitOptions>()(['baseUrl']);

/**
 * Gmail: search and read mail, send and reply, drafts, labels and trash, over the Gmail REST API.
 */
export function createGmailToolkit(options: GmailToolkitOptions = {}): Toolkit {
  setupOptions(options, 'createGmailToolkit()', GMAIL_OPTION_NAMES, { code: 'TOOL_DEFINITION_INVALID' });
  const baseUrl = options.baseUrl ?? 'https://gmail.googleapis.com/gmail/v1';
  const api = createApi({
    service: 'Gmail',
    baseUrl,
    headers: (credentials) => ({ Authorization: `Bearer ${requireToken(credentials, 'Gmail')}` }),
  });
  const message = (context: RequestContext, id: string, format = 'full') =>
    api.request(context, {
      path: `/users/me/messages/${encodeURIComponent(id)}`,
      query: { format },
      resource: `message ${id}`,
    });

  const tools = [
    defineTool({
      slug: 'GMAIL_GET_PROFILE',
      description: 'Get the email address and message / thread counts of the connected Gmail account.',
      inputSchema: z.object({}),
      outputSchema: z.object({
        emailAddress: z.string(),
        messagesTotal: z.number(),
        threadsTotal: z.number(),
      }),
      annotations: READ,
      execute: async (_input, context) => {
        const profile = await api.request(context, {
          path: '/users/me/profile',
          resource: 'mailbox profile',
        });
        return {
          emailAddress: profile.emailAddress,
          messagesTotal: profile.messagesTotal,
          threadsTotal: profile.threadsTotal,
        };
      },
    }),
    defineTool({
      slug: 'GMAIL_LIST_MESSAGES',
      description:
        'List recent emails in the mailbox, newest first, optionally only those with given labels (e.g. INBOX, UNREAD, STARRED). Returns sender, subject, date and snippet of each.',
      inputSchema: z.object({
        labelIds: z
          .array(z.string())
          .optional()
          .describe('Only messages with all these label ids, e.g. ["INBOX", "UNREAD"]'),
        maxResults,
        pageToken,
        includeSpamTrash: z.boolean().default(false).describe('Include messages in Spam and Trash'),
      }),
      outputSchema: listOut,
      annotations: READ,
      execute: (input, context) => listMessages(api, context, input),
    }),
    defineTool({
      slug: 'GMAIL_SEARCH_MESSAGES',
      description:
        'Search emails with Gmail search syntax, e.g. "from:alice@example.com is:unread newer_than:7d" or "subject:invoice has:attachment". Returns sender, subject, date and snippet of each match.',
      inputSchema: z.object({
        q: z.string().min(1).describe('Gmail search query, the same syntax as the Gmail search box'),
        maxResults,
        pageToken,
      }),
      outputSchema: listOut,
      annotations: READ,
      execute: (input, context) => listMessages(api, context, input),
    }),
    defineTool({
      slug: 'GMAIL_GET_MESSAGE',
      description: 'Read one email by id: headers, full body text and the list of attachments.',
      inputSchema: z.object({ messageId }),
      outputSchema: messageOut,
      annotations: READ,
      execute: async ({ messageId }, context) => toMessage(await message(context, messageId)),
    }),
    defineTool({
      slug: 'GMAIL_GET_THREAD',
      description: 'Read a whole email conversation (thread) by thread id, every message with its body text.',
      inputSchema: z.object({ threadId: z.string().min(1).describe('Gmail thread id') }),
      outputSchema: z.object({ id: z.string(), messages: z.array(messageOut) }),
      annotations: READ,
      execute: async ({ threadId }, context) => {
        const thread = await api.request(context, {
          path: `/users/me/threads/${encodeURIComponent(threadId)}`,
          query: { format: 'full' },
          resource: `thread ${threadId}`,
        });
        return { id: thread.id, messages: (thread.messages ?? []).map(toMessage) };
      },
    }),
    defineTool({
      slug: 'GMAIL_SEND_EMAIL',
      description: 'Send a new email from the connected Gmail account to one or more recipients.',
      inputSchema: z.object(composeFields),
      outputSchema: z.object({ id: z.string(), threadId: z.string(), labelIds: z.array(z.string()) }),
      annotations: CREATE,
      execute: async (input, context) => {
        const sent = await api.request(context, {
          method: 'POST',
          path: '/users/me/messages/send',
          body: { raw: buildRawEmail(input) },
          resource: 'outgoing message',
        });
        return { id: sent.id, threadId: sent.threadId, labelIds: sent.labelIds ?? [] };
      },
    }),
    defineTool({
      slug: 'GMAIL_REPLY_TO_MESSAGE',
      description:
        'Reply to an email in its thread (to the sender, or to everyone with replyAll). Subject and threading headers are set from the original.',
      inputSchema: z.object({
        messageId: messageId.describe('Id of the message to reply to'),
        body: composeFields.body,
        isHtml: composeFields.isHtml,
        replyAll: z.boolean().default(false).describe('Also reply to the other To and Cc recipients'),
      }),
      outputSchema: z.object({ id: z.string(), threadId: z.string(), labelIds: z.array(z.string()) }),
      annotations: CREATE,
      execute: async ({ messageId, body, isHtml, replyAll }, context) => {
        const [original, profile] = await Promise.all([
          message(context, messageId, 'metadata'),
          replyAll
            ? api.request(context, { path: '/users/me/profile', resource: 'mailbox profile' })
            : undefined,
        ]);
        const from = header(original.payload, 'Reply-To') ?? header(original.payload, 'From') ?? '';
        const subject = header(original.payload, 'Subject') ?? '';
        const messageIdHeader = header(original.payload, 'Message-ID') ?? undefined;
        // reply-all copies the other recipients once each: not the user, nor whom the reply goes to
        const left = new Set(
          [String(profile?.emailAddress ?? ''), ...parseAddressList(from).map((mailbox) => mailbox.address)]
            .map((address) => address.toLowerCase())
            .filter(Boolean),
        );
        const others = replyAll
          ? [header(original.payload, 'To'), header(original.payload, 'Cc')]
              .flatMap((value) => parseAddressList(value ?? ''))
              .filter(({ address }) => {
                const key = address.toLowerCase();
                if (left.has(key)) return false;
                left.add(key);
                return true;
              })
              .map((mailbox) => mailbox.text)
          : [];
        const sent = await api.request(context, {
          method: 'POST',
          path: '/users/me/messages/send',
          body: {
            threadId: original.threadId,
            raw: buildRawEmail({
              to: [from],
              cc: others.length > 0 ? others : undefined,
              subject: /^re:/i.test(subject) ? subject : `Re: ${subject}`,
              body,
              isHtml,
              inReplyTo: messageIdHeader,
              references:
                [header(original.payload, 'References'), messageIdHeader].filter(Boolean).join(' ') ||
                undefined,
            }),
          },
          resource: `reply to message ${messageId}`,
        });
        return { id: sent.id, threadId: sent.threadId, labelIds: sent.labelIds ?? [] };
      },
    }),
    defineTool({
      slug: 'GMAIL_CREATE_DRAFT',
      description:
        'Save an email as a draft (not sent) for the user to review; send it later with GMAIL_SEND_DRAFT.',
      inputSchema: z.object({
        ...composeFields,
        threadId: z.string().optional().describe('Thread to put the draft in, for a reply draft'),
      }),
      outputSchema: z.object({ draftId: z.string(), messageId: z.string() }),
      annotations: CREATE,
      execute: async ({ threadId, ...input }, context) => {
        const draft = await api.request(context, {
          method: 'POST',
          path: '/users/me/drafts',
          body: { message: { raw: buildRawEmail(input), threadId } },
          resource: 'draft',
        });
        return { draftId: draft.id, messageId: draft.message?.id };
      },
    }),
    defineTool({
      slug: 'GMAIL_LIST_DRAFTS',
      description: 'List saved email drafts with their subject and recipients.',
      inputSchema: z.object({
        maxResults,
        pageToken,
        q: z.string().optional().describe('Only drafts matching this Gmail search query'),
      }),
      outputSchema: z.object({
        drafts: z.array(z.object({ draftId: z.string(), message: summaryOut })),
        nextPageToken: z.string().nullable(),
      }),
      annotations: READ,
      execute: async (query, context) => {
        const list = await api.request(context, { path: '/users/me/drafts', query, resource: 'drafts' });
        const drafts = await Promise.all(
          (list.drafts ?? []).map((entry: Json) =>
            api.request(context, {
              path: `/users/me/drafts/${encodeURIComponent(entry.id)}`,
              query: { format: 'metadata' },
              resource: `draft ${entry.id}`,
            }),
          ),
        );
        return {
          drafts: drafts.map((draft: Json) => ({ draftId: draft.id, message: toSummary(draft.message) })),
          nextPageToken: list.nextPageToken ?? null,
        };
      },
    }),
    defineTool({
      slug: 'GMAIL_SEND_DRAFT',
      description: 'Send an existing draft by its draft id.',
      inputSchema: z.object({
        draftId: z.string().min(1).describe('Id of the draft (from GMAIL_CREATE_DRAFT or GMAIL_LIST_DRAFTS)'),
      }),
      outputSchema: z.object({ id: z.string(), threadId: z.string(), labelIds: z.array(z.string()) }),
      annotations: CREATE,
      execute: async ({ draftId }, context) => {
        const sent = await api.request(context, {
          method: 'POST',
          path: '/users/me/drafts/send',
          body: { id: draftId },
          resource: `draft ${draftId}`,
        });
        return { id: sent.id, threadId: sent.threadId, labelIds: sent.labelIds ?? [] };
      },
    }),
    defineTool({
      slug: 'GMAIL_LIST_LABELS',
      description:
        'List the mailbox labels (system labels like INBOX, UNREAD, STARRED and the user’s own) with their ids.',
      inputSchema: z.object({}),
      outputSchema: z.object({ labels: z.array(labelOut) }),
      annotations: READ,
      execute: async (_input, context) => {
        const result = await api.request(context, { path: '/users/me/labels', resource: 'labels' });
        return {
          labels: (result.labels ?? []).map((label: Json) => ({
            id: label.id,
            name: label.name,
            type: label.type,
            messagesUnread: label.messagesUnread,
            messagesTotal: label.messagesTotal,
          })),
        };
      },
    }),
    defineTool({
      slug: 'GMAIL_CREATE_LABEL',
      description: 'Create a new label (folder) in the mailbox.',
      inputSchema: z.object({
        name: z.string().min(1).describe('Label name; use "/" for nesting, e.g. "Clients/Acme"'),
      }),
      outputSchema: labelOut,
      annotations: CREATE,
      execute: async ({ name }, context) => {
        const label = await api.request(context, {
          method: 'POST',
          path: '/users/me/labels',
          body: { name, labelListVisibility: 'labelShow', messageListVisibility: 'show' },
          resource: `label "${name}"`,
        });
        return { id: label.id, name: label.name, type: label.type ?? 'user' };
      },
    }),
    defineTool({
      slug: 'GMAIL_MODIFY_MESSAGE_LABELS',
      description:
        'Add or remove labels on an email: mark read (remove UNREAD) or unread (add UNREAD), archive (remove INBOX), star (add STARRED), or file it under a label id.',
      inputSchema: z.object({
        messageId,
        addLabelIds: z.array(z.string()).default([]).describe('Label ids to add, e.g. ["STARRED"]'),
        removeLabelIds: z
          .array(z.string())
          .default([])
          .describe('Label ids to remove, e.g. ["UNREAD", "INBOX"]'),
      }),
      outputSchema: z.object({ id: z.string(), labelIds: z.array(z.string()) }),
      annotations: UPDATE,
      execute: async ({ messageId, ...body }, context) => {
        const result = await api.request(context, {
          method: 'POST',
          path: `/users/me/messages/${encodeURIComponent(messageId)}/modify`,
          body,
          resource: `message ${messageId}`,
        });
        return { id: result.id, labelIds: result.labelIds ?? [] };
      },
    }),
    defineTool({
      slug: 'GMAIL_TRASH_MESSAGE',
      description:
        'Move an email to the Trash (deleted for good after 30 days; undo with GMAIL_UNTRASH_MESSAGE).',
      inputSchema: z.object({ messageId }),
      outputSchema: z.object({ id: z.string(), labelIds: z.array(z.string()) }),
      annotations: DESTROY,
      execute: async ({ messageId }, context) => {
        const result = await api.request(context, {
          method: 'POST',
          path: `/users/me/messages/${encodeURIComponent(messageId)}/trash`,
          resource: `message ${messageId}`,
        });
        return { id: result.id, labelIds: result.labelIds ?? [] };
      },
    }),
    defineTool({
      slug: 'GMAIL_UNTRASH_MESSAGE',
      description: 'Restore an email from the Trash.',
      inputSchema: z.object({ messageId }),
      outputSchema: z.object({ id: z.string(), labelIds: z.array(z.string()) }),
      annotations: UPDATE,
      execute: async ({ messageId }, context) => {
        const result = await api.request(context, {
          method: 'POST',
          path: `/users/me/messages/${encodeURIComponent(messageId)}/untrash`,
          resource: `message ${messageId}`,
        });
        return { id: result.id, labelIds: result.labelIds ?? [] };
      },
    }),
  ];

  return defineToolkit({
    slug: 'gmail',
    name: 'Gmail',
    description:
      'Gmail email for the connected Google account: search, read, send, reply, drafts, labels and trash.',
    categories: ['email', 'communication'],
    keywords: ['email', 'mail', 'inbox', 'mailbox'],
    baseUrl,
    auth: {
      type: 'oauth2',
      authorizationUrl: 'https://accounts.google.com/o/oauth2/v2/auth',
      tokenUrl: 'https://oauth2.googleapis.com/token',
      // Google's RFC 7009 endpoint: deleting the account ends the user's grant.
      revocationUrl: 'https://oauth2.googleapis.com/revoke',
      // and so would revoking the tokens a reconnect replaces, with the new ones: they are left to expire
      revocationEndsGrant: true,
      scopes: ['https://www.googleapis.com/auth/gmail.modify'],
      // Without these Google issues no refresh token, and the account expires after an hour.
      authorizationParams: { access_type: 'offline', prompt: 'consent' },
    },
    tools: readingAnswers(api.service, tools),
  });
}

/** Gmail against gmail.googleapis.com. */
export const gmail: Toolkit = createGmailToolkit();
