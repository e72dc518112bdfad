import { z } from 'zod';
import { defineTool, defineToolkit } from '../catalog/define.js';
import type { ToolContext, Toolkit } from '../catalog/types.js';

/** One recorded handler call of the sample toolkits. */
export interface RecordedCall {
  slug: string;
  input: unknown;
  context: Pick<ToolContext, 'userId' | 'sessionId' | 'callId' | 'credentials'>;
}

/**
 * Sample toolkits for tests of toolmux and its providers. Handlers record every call in `calls`, so
 * a test can assert that a handler ran once with the arguments the model sent.
 *
 * - `tasks` (no auth): create / list / get / delete tasks in memory, a tool that throws, a tool that
 *   waits for its signal (to prove aborts), a slow tool that ignores its signal (to prove timeouts).
 * - `notes` (no auth): search and create notes, with optional and nested fields.
 * - `mail` (API key): send an email; needs a connected account.
 */
export function createSampleToolkits(options: { slowToolTimeoutMs?: number } = {}): {
  toolkits: Toolkit[];
  calls: RecordedCall[];
  tasks: Map<string, { id: string; title: string; done: boolean; priority?: string | undefined }>;
} {
  const calls: RecordedCall[] = [];
  const tasks = new Map<
    string,
    { id: string; title: string; done: boolean; priority?: string | undefined }
  >();
  const record = (slug: string, input: unknown, context: ToolContext) =>
    calls.push({
      slug,
      input,
      context: {
        userId: context.userId,
        sessionId: context.sessionId,
        callId: context.callId,
        credentials: context.credentials,
      },
    });

  const createTask = defineTool({
    slug: 'TASKS_CREATE_TASK',
    description: 'Create a new task (a to-do item) with a title and an optional priority.',
    inputSchema: z.object({
      title: z.string().min(1).describe('What needs to be done'),
      priority: z.enum(['low', 'normal', 'high']).optional().describe('How urgent the task is'),
      labels: z.array(z.string()).optional().describe('Labels to attach'),
    }),
    outputSchema: z.object({ id: z.string(), title: z.string() }),
    annotations: { readOnlyHint: false, idempotentHint: false },
    execute: async (input, context) => {
      record('TASKS_CREATE_TASK', input, context);
      const id = `task_${tasks.size + 1}`;
      tasks.set(id, { id, title: input.title, done: false, priority: input.priority });
      return { id, title: input.title };
    },
  });
  const listTasks = defineTool({
    slug: 'TASKS_LIST_TASKS',
    description: 'List all tasks (to-do items), optionally only open ones.',
    inputSchema: z.object({ openOnly: z.boolean().optional().describe('Only tasks not done yet') }),
    annotations: { readOnlyHint: true, idempotentHint: true },
    execute: async (input, context) => {
      record('TASKS_LIST_TASKS', input, context);
      return { tasks: [...tasks.values()].filter((task) => !input.openOnly || !task.done) };
    },
  });
  const deleteTask = defineTool({
    slug: 'TASKS_DELETE_TASK',
    description: 'Delete a task permanently by its id.',
    inputSchema: z.object({ taskId: z.string().describe('The id of the task') }),
    annotations: { destructiveHint: true },
    execute: async (input, context) => {
      record('TASKS_DELETE_TASK', input, context);
      return { deleted: tasks.delete(input.taskId) };
    },
  });
  const failing = defineTool({
    slug: 'TASKS_SYNC_CALENDAR',
    description: 'Sync tasks to the calendar service.',
    inputSchema: z.object({ calendarId: z.string().describe('Calendar to sync into') }),
    execute: async (input, context) => {
      record('TASKS_SYNC_CALENDAR', input, context);
      throw new Error(`calendar ${input.calendarId} is unreachable`);
    },
  });
  const waitForSignal = defineTool({
    slug: 'TASKS_WAIT_FOR_APPROVAL',
    description: 'Wait until a manager approves the task (long running).',
    inputSchema: z.object({ taskId: z.string().describe('The task waiting for approval') }),
    execute: (input, context) => {
      record('TASKS_WAIT_FOR_APPROVAL', input, context);
      return new Promise((_, reject) => {
        context.signal.addEventListener('abort', () => reject(new Error('approval wait cancelled')), {
          once: true,
        });
      });
    },
  });
  const slow = defineTool({
    slug: 'TASKS_EXPORT_ARCHIVE',
    description: 'Export every task into an archive file (slow).',
    inputSchema: z.object({}),
    timeoutMs: options.slowToolTimeoutMs ?? 100,
    execute: (input, context) => {
      record('TASKS_EXPORT_ARCHIVE', input, context);
      return new Promise((resolve) => setTimeout(() => resolve({ archived: true }), 60_000).unref());
    },
  });

  const searchNotes = defineTool({
    slug: 'NOTES_SEARCH_NOTES',
    description: 'Search notes by text and return matching notes.',
    inputSchema: z.object({
      query: z.string().describe('Words to look for'),
      filter: z
        .object({
          tag: z.string().optional().describe('Only notes with this tag'),
          createdAfter: z.string().optional().describe('ISO date'),
        })
        .optional()
        .describe('Optional filters'),
      limit: z.number().int().min(1).max(100).default(10).describe('Most notes to return'),
    }),
    annotations: { readOnlyHint: true },
    execute: async (input, context) => {
      record('NOTES_SEARCH_NOTES', input, context);
      return { notes: [{ id: 'note_1', text: `about ${input.query}` }], limit: input.limit };
    },
  });
  const createNote = defineTool({
    slug: 'NOTES_CREATE_NOTE',
    description: 'Write a new note with a text and tags.',
    inputSchema: z.object({
      text: z.string().describe('The note text'),
      tags: z.array(z.object({ name: z.string(), color: z.string().optional() })).optional(),
    }),
    execute: async (input, context) => {
      record('NOTES_CREATE_NOTE', input, context);
      return { id: 'note_2' };
    },
  });

  const sendMail = defineTool({
    slug: 'MAIL_SEND_EMAIL',
    description: 'Send an email message to a recipient.',
    inputSchema: z.object({
      to: z.string().describe('Recipient address'),
      subject: z.string(),
      body: z.string(),
    }),
    annotations: { openWorldHint: true },
    execute: async (input, context) => {
      record('MAIL_SEND_EMAIL', input, context);
      return { sent: true };
    },
  });

  return {
    calls,
    tasks,
    toolkits: [
      defineToolkit({
        slug: 'tasks',
        name: 'Tasks',
        description: 'A to-do list: create, list and delete tasks.',
        tools: [createTask, listTasks, deleteTask, failing, waitForSignal, slow],
      }),
      defineToolkit({
        slug: 'notes',
        name: 'Notes',
        description: 'Personal notes.',
        keywords: ['memo', 'jotting'],
        tools: [searchNotes, createNote],
      }),
      defineToolkit({
        slug: 'mail',
        name: 'Mail',
        description: 'Send email.',
        tools: [sendMail],
        auth: { type: 'api_key', fields: [{ name: 'apiKey', label: 'API key', secret: true }] },
      }),
    ],
  };
}

/**
 * A Gmail-like toolkit for several accounts per toolkit: `gmail` connects with an app password (an
 * API key), and each call answers from the mailbox of the account it ran with. `mailboxes` maps an
 * account's API key to its address (the key itself never shows in a result); `sent` records every
 * message with the mailbox it went from.
 */
export function createGmailLikeToolkit(mailboxes: Record<string, string>): {
  toolkit: Toolkit;
  sent: Array<{ from: string; to: string; subject: string }>;
} {
  const sent: Array<{ from: string; to: string; subject: string }> = [];
  const mailboxOf = (context: ToolContext) => {
    const key = context.credentials?.apiKey;
    return (key && mailboxes[key]) || 'unknown mailbox';
  };
  const sendEmail = defineTool({
    slug: 'GMAIL_SEND_EMAIL',
    description: "Send an email from the user's Gmail mailbox.",
    inputSchema: z.object({
      to: z.string().describe('Recipient address'),
      subject: z.string().describe('Subject line'),
      body: z.string().describe('Plain-text body'),
    }),
    annotations: { openWorldHint: true },
    execute: async (input, context) => {
      const from = mailboxOf(context);
      sent.push({ from, to: input.to, subject: input.subject });
      return { sent: true, from };
    },
  });
  const getProfile = defineTool({
    slug: 'GMAIL_GET_PROFILE',
    description: 'Get the email address of the Gmail mailbox.',
    inputSchema: z.object({}),
    annotations: { readOnlyHint: true },
    execute: async (_input, context) => ({ emailAddress: mailboxOf(context) }),
  });
  return {
    sent,
    toolkit: defineToolkit({
      slug: 'gmail',
      name: 'Gmail',
      description: 'Read and send email with Gmail.',
      tools: [sendEmail, getProfile],
      auth: { type: 'api_key', fields: [{ name: 'apiKey', label: 'App password', secret: true }] },
    }),
  };
}
