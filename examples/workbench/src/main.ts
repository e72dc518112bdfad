/**
 * toolmux workbench: a session whose "model" writes JavaScript instead of reading every record.
 * A CRM toolkit holds 500 contacts; the agent must find the 3 overdue enterprise accounts. With
 * direct calls it would read all 500; with TOOLMUX_WORKBENCH its code does the filtering and the
 * model reads only the answer. The next call goes on from the state the first one left. Runs
 * offline on an in-memory store: the "model" is a script of tool calls.
 */
import { defineTool, defineToolkit, MetaToolSlug, ToolMux } from '@toolmux/core';
import { z } from 'zod';

const contacts = Array.from({ length: 500 }, (_, index) => ({
  id: `c_${index + 1}`,
  company: `Company ${index + 1}`,
  tier: index % 7 === 0 ? 'enterprise' : 'smb',
  overdueDays: [42, 133, 350].includes(index) ? 30 + index : 0,
}));

const crm = defineToolkit({
  slug: 'crm',
  name: 'CRM',
  description: 'Contacts and reminders.',
  tools: [
    defineTool({
      slug: 'CRM_LIST_CONTACTS',
      description: 'List contacts, 100 per page.',
      inputSchema: z.object({ page: z.number().int().min(1).describe('Page number, from 1') }),
      annotations: { readOnlyHint: true },
      execute: async ({ page }) => ({
        contacts: contacts.slice((page - 1) * 100, page * 100),
        hasMore: page * 100 < contacts.length,
      }),
    }),
    defineTool({
      slug: 'CRM_CREATE_REMINDER',
      description: 'Create a reminder to follow up with a contact.',
      inputSchema: z.object({ contactId: z.string(), note: z.string() }),
      execute: async ({ contactId, note }) => ({ id: `r_${contactId}`, note }),
    }),
  ],
});

const mux = new ToolMux({ toolkits: [crm], store: ':memory:' });
const session = await mux.create('user_123', { toolkits: ['crm'], workbench: {} });

// Turn 1: the model writes code that pages through every contact and returns only the matches.
const first = await session.execute(MetaToolSlug.WORKBENCH, {
  thought: 'find overdue enterprise accounts without reading all contacts',
  code: `
    const all = [];
    for (let page = 1; ; page++) {
      const { data } = await toolmux.execute('CRM_LIST_CONTACTS', { page });
      all.push(...data.contacts);
      if (!data.hasMore) break;
    }
    globalThis.overdue = all.filter((c) => c.tier === 'enterprise' && c.overdueDays > 0);
    console.log('scanned', all.length, 'contacts');
    return globalThis.overdue.map((c) => ({ id: c.id, company: c.company, overdueDays: c.overdueDays }));
  `,
});
console.log('turn 1:', JSON.stringify(first.data));

// Turn 2: the model acts on the state its first cell left in globalThis.
const second = await session.execute(MetaToolSlug.WORKBENCH, {
  code: `
    const made = await Promise.all(globalThis.overdue.map((c) =>
      toolmux.execute('CRM_CREATE_REMINDER', { contactId: c.id, note: 'Invoice overdue ' + c.overdueDays + ' days' })));
    await toolmux.files.write('reminders.json', made.map((r) => r.data));
    return { reminders: made.filter((r) => r.successful).length, saved: (await toolmux.files.list()).map((f) => f.path) };
  `,
});
console.log('turn 2:', JSON.stringify(second.data));

// Every tool call the code made is in the execution log, marked with the workbench call's log id.
const logs = (await session.logs({ limit: 50 })).items;
const inner = logs.filter((log) => log.callId?.startsWith(`${first.logId}/`));
console.log(`turn 1 made ${inner.length} tool calls: ${inner.map((log) => log.toolSlug).join(', ')}`);

const direct = JSON.stringify(contacts).length;
const viaWorkbench = JSON.stringify(first.data).length;
console.log(`characters the model read: ${viaWorkbench} with the workbench, ${direct} with direct calls`);
await mux.close();
