import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineTool, defineToolkit } from '../catalog/define.js';
import { ToolMuxError } from '../errors.js';
import { createSampleToolkits } from '../test/sample-toolkits.js';
import { ToolMux } from '../toolmux.js';
import { MAX_CONFIG_ENTRIES } from './session-config.js';

function mux() {
  const { toolkits } = createSampleToolkits();
  return new ToolMux({ toolkits, store: ':memory:', logger: { debug() {}, warn() {}, error() {} } });
}

async function rejection(promise: Promise<unknown>): Promise<ToolMuxError> {
  try {
    await promise;
  } catch (error) {
    if (ToolMuxError.isInstance(error)) return error;
    throw error;
  }
  throw new Error('expected a ToolMuxError');
}

async function visibleSlugs(config: Parameters<ToolMux['create']>[1]): Promise<string[]> {
  const session = await mux().create('user_1', { ...config, sessionPreset: 'DIRECT_TOOLS' });
  return (await session.tools()).map((tool) => tool.name).sort();
}

describe('session config rules', () => {
  it('enables every toolkit by default', async () => {
    expect(await visibleSlugs({})).toHaveLength(9);
  });

  it('accepts toolkits as a list, { enable } and { disable }', async () => {
    expect(await visibleSlugs({ toolkits: ['notes'] })).toEqual(['NOTES_CREATE_NOTE', 'NOTES_SEARCH_NOTES']);
    expect(await visibleSlugs({ toolkits: { enable: ['notes'] } })).toEqual([
      'NOTES_CREATE_NOTE',
      'NOTES_SEARCH_NOTES',
    ]);
    const allButTasks = await visibleSlugs({ toolkits: { disable: ['tasks'] } });
    expect(allButTasks).toEqual(['MAIL_SEND_EMAIL', 'NOTES_CREATE_NOTE', 'NOTES_SEARCH_NOTES']);
  });

  it('rejects an unknown toolkit with a suggestion', async () => {
    const error = await rejection(mux().create('user_1', { toolkits: ['taks'] }));
    expect(error.code).toBe('TOOLKIT_NOT_FOUND');
    expect(error.message).toContain('"taks"');
    expect(error.message).toContain('Did you mean "tasks"');
  });

  it('rejects enable and disable together', async () => {
    const error = await rejection(
      mux().create('user_1', { toolkits: { enable: ['tasks'], disable: ['notes'] } as never }),
    );
    expect(error.code).toBe('CONFIG_CONFLICT');
    expect(error.message).toMatch(/both "enable" and "disable"/);
    const perTool = await rejection(
      mux().create('user_1', {
        tools: { tasks: { enable: ['TASKS_LIST_TASKS'], disable: ['TASKS_DELETE_TASK'] } as never },
      }),
    );
    expect(perTool.code).toBe('CONFIG_CONFLICT');
    expect(perTool.message).toContain('tools.tasks');
  });

  it('filters tools per toolkit by list, enable, disable and tags', async () => {
    expect(await visibleSlugs({ toolkits: ['tasks'], tools: { tasks: ['TASKS_LIST_TASKS'] } })).toEqual([
      'TASKS_LIST_TASKS',
    ]);
    const withoutDelete = await visibleSlugs({
      toolkits: ['tasks'],
      tools: { tasks: { disable: ['TASKS_DELETE_TASK'] } },
    });
    expect(withoutDelete).not.toContain('TASKS_DELETE_TASK');
    expect(withoutDelete).toHaveLength(5);
    expect(await visibleSlugs({ toolkits: ['tasks'], tools: { tasks: { tags: ['readOnlyHint'] } } })).toEqual(
      ['TASKS_LIST_TASKS'],
    );
  });

  it('rejects a tool slug of another toolkit and an unknown tool', async () => {
    const other = await rejection(mux().create('user_1', { tools: { tasks: ['NOTES_CREATE_NOTE'] } }));
    expect(other.code).toBe('CONFIG_INVALID');
    expect(other.message).toContain('belongs to toolkit "notes"');
    const unknown = await rejection(mux().create('user_1', { tools: { tasks: ['TASKS_LIST_TASK'] } }));
    expect(unknown.code).toBe('TOOL_NOT_FOUND');
    expect(unknown.message).toContain('Did you mean "TASKS_LIST_TASKS"');
  });

  it('rejects a tool filter for a toolkit the session does not enable', async () => {
    const error = await rejection(
      mux().create('user_1', { toolkits: ['notes'], tools: { tasks: ['TASKS_LIST_TASKS'] } }),
    );
    expect(error.code).toBe('CONFIG_CONFLICT');
    expect(error.message).toContain('tools.tasks');
  });

  it('filters by MCP annotation tags', async () => {
    const noDestructive = await visibleSlugs({ tags: { disable: ['destructiveHint'] } });
    expect(noDestructive).not.toContain('TASKS_DELETE_TASK');
    expect(noDestructive).toContain('TASKS_LIST_TASKS');
    expect(await visibleSlugs({ tags: ['readOnlyHint'] })).toEqual([
      'NOTES_SEARCH_NOTES',
      'TASKS_LIST_TASKS',
    ]);
  });

  it('rejects unknown tags and a tag both enabled and disabled', async () => {
    const unknown = await rejection(mux().create('user_1', { tags: ['readonlyHint' as never] }));
    expect(unknown.code).toBe('CONFIG_INVALID');
    expect(unknown.message).toContain('Did you mean "readOnlyHint"');
    const both = await rejection(
      mux().create('user_1', { tags: { enable: ['readOnlyHint'], disable: ['readOnlyHint'] } }),
    );
    expect(both.code).toBe('CONFIG_CONFLICT');
  });

  it(`refuses a list or map of over ${MAX_CONFIG_ENTRIES} entries before checking them, naming where`, async () => {
    const many = (n: number) => Array.from({ length: n }, (_, i) => ['tasks', 'notes'][i % 2]!);
    const keys = <T>(n: number, value: T): Record<string, T> =>
      Object.fromEntries(Array.from({ length: n }, (_, i) => [`toolkit${i}`, value]));
    const cases: Array<[string, Parameters<ToolMux['create']>[1]]> = [
      ['toolkits', { toolkits: many(MAX_CONFIG_ENTRIES + 1) }],
      ['toolkits.disable', { toolkits: { disable: many(100_000) } }],
      ['tools', { tools: keys(MAX_CONFIG_ENTRIES + 1, ['TASKS_LIST_TASKS']) }],
      ['tools.tasks', { tools: { tasks: Array(MAX_CONFIG_ENTRIES + 1).fill('TASKS_LIST_TASKS') } }],
      [
        'tools.tasks.tags.enable',
        { tools: { tasks: { tags: { enable: Array(5_000).fill('readOnlyHint') } } } },
      ],
      ['tags.disable', { tags: { disable: Array(40_000).fill('destructiveHint') } }],
      ['authConfigs', { authConfigs: keys(MAX_CONFIG_ENTRIES + 1, 'ac_1') }],
      ['connectedAccounts', { connectedAccounts: keys(50_000, 'ca_1') }],
      [
        'connectedAccounts.tasks',
        { connectedAccounts: { tasks: Array(MAX_CONFIG_ENTRIES + 1).fill('ca_1') } },
      ],
      ['preload.tools', { preload: { tools: Array(MAX_CONFIG_ENTRIES + 1).fill('TASKS_LIST_TASKS') } }],
      ['metadata', { metadata: Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`k${i}`, 'v'])) }],
    ];
    for (const [path, config] of cases) {
      const refused = await rejection(mux().create('user_1', config));
      expect([path, refused.code]).toEqual([path, 'CONFIG_INVALID']);
      expect(refused.message).toContain(`Invalid session config at ${path}: `);
      expect(refused.message).toContain(`at most ${MAX_CONFIG_ENTRIES.toLocaleString('en')} entries`);
    }
    // as many as the limit: the entries are checked as before (repeats are one)
    expect(await visibleSlugs({ toolkits: many(MAX_CONFIG_ENTRIES) })).toHaveLength(
      (await visibleSlugs({ toolkits: ['tasks', 'notes'] })).length,
    );
    const session = await mux().create('user_1', {
      tags: { enable: Array(MAX_CONFIG_ENTRIES).fill('readOnlyHint') },
      metadata: Object.fromEntries(Array.from({ length: 64 }, (_, i) => [`k${i}`, 'v'])),
    });
    expect(session.config.tags).toEqual({ enable: ['readOnlyHint'], disable: [] });
  });

  it('checks preload tools exist and are visible', async () => {
    const unknown = await rejection(mux().create('user_1', { preload: { tools: ['TASKS_NOPE'] } }));
    expect(unknown.code).toBe('TOOL_NOT_FOUND');
    expect(unknown.message).toContain('preload.tools');
    const hidden = await rejection(
      mux().create('user_1', { toolkits: ['notes'], preload: { tools: ['TASKS_LIST_TASKS'] } }),
    );
    expect(hidden.code).toBe('CONFIG_CONFLICT');
    expect(hidden.message).toContain('TASKS_LIST_TASKS');
  });

  it('rejects malformed shapes, unknown keys and bad account ids, naming the field', async () => {
    const cases: Array<[unknown, string, string]> = [
      [{ toolkits: 'tasks' }, 'CONFIG_INVALID', 'toolkits'],
      [{ sessionPreset: 'ALL_TOOLS' }, 'CONFIG_INVALID', 'sessionPreset'],
      [{ toolkitz: ['tasks'] }, 'CONFIG_INVALID', '"toolkitz"'],
      [{ manageConnections: 'yes' }, 'CONFIG_INVALID', 'manageConnections'],
      [{ authConfigs: { mail: 'mail-config' } }, 'CONFIG_INVALID', 'authConfigs.mail'],
      [{ connectedAccounts: { mail: ['acct_1'] } }, 'CONFIG_INVALID', 'connectedAccounts.mail'],
      [{ connectedAccounts: { nope: 'ca_1' } }, 'TOOLKIT_NOT_FOUND', 'connectedAccounts.nope'],
      [{ authConfigs: { nope: 'ac_1' } }, 'TOOLKIT_NOT_FOUND', 'authConfigs.nope'],
      [{ metadata: { bot: 42 } }, 'CONFIG_INVALID', 'metadata.bot'],
      [{ tools: { tasks: { tags: ['fastHint'] } } }, 'CONFIG_INVALID', 'fastHint'],
    ];
    for (const [config, code, mention] of cases) {
      const error = await rejection(mux().create('user_1', config as never));
      expect(error.code, JSON.stringify(config)).toBe(code);
      expect(error.message, JSON.stringify(config)).toContain(mention);
    }
  });

  it('rejects a bad user id and warns for "default"', async () => {
    const error = await rejection(mux().create('', {}));
    expect(error.code).toBe('USER_ID_INVALID');
    const warnings: string[] = [];
    const { toolkits } = createSampleToolkits();
    const shared = new ToolMux({
      toolkits,
      store: ':memory:',
      logger: { debug() {}, warn: (m) => warnings.push(m), error() {} },
    });
    await shared.create('default', {});
    expect(warnings.join()).toContain('"default"');
  });

  it('adds custom tools and toolkits, and rejects slugs that clash with the catalog', async () => {
    const custom = defineTool({
      slug: 'CRM_FIND_CONTACT',
      description: 'Find a contact in the CRM by name.',
      inputSchema: z.object({ name: z.string() }),
      execute: async ({ name }) => ({ name, phone: '555' }),
    });
    const session = await mux().create('user_1', {
      sessionPreset: 'DIRECT_TOOLS',
      experimental: { customTools: [custom] },
    });
    const result = await session.execute('CRM_FIND_CONTACT', { name: 'Ada' });
    expect(result).toMatchObject({ successful: true, data: { name: 'Ada', phone: '555' } });
    const clash = defineToolkit({ slug: 'tasks', description: 'mine', tools: [] });
    const error = await rejection(mux().create('user_1', { experimental: { customToolkits: [clash] } }));
    expect(error.code).toBe('CONFIG_CONFLICT');
    expect(error.message).toContain('"tasks"');
  });
});

describe('config shape errors name the bad key and the fix', () => {
  it('an unknown key suggests the closest known key and lists them all', async () => {
    const error = await rejection(mux().create('user_1', { tagz: ['readOnlyHint'] } as never));
    expect(error.code).toBe('CONFIG_INVALID');
    expect(error.message).toBe(
      'Invalid session config at (config): unknown key "tagz". Did you mean "tags"? Known keys: toolkits, tools, tags, authConfigs, connectedAccounts, preload, sessionPreset, manageConnections, workbench, multiAccount, metaToolNames, metadata, experimental.',
    );
  });

  it('an unknown key in a nested object lists that object’s keys', async () => {
    const error = await rejection(mux().create('user_1', { preload: { tool: [] } } as never));
    expect(error.message).toBe(
      'Invalid session config at preload: unknown key "tool". Did you mean "tools"? Known keys: tools.',
    );
  });

  it('a filter of the wrong type names the forms it accepts', async () => {
    const error = await rejection(mux().create('user_1', { toolkits: 'tasks' } as never));
    expect(error.message).toBe(
      'Invalid session config at toolkits: is a string: send an array or an object.',
    );
  });
});
