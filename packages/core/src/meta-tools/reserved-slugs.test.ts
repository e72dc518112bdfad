import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineTool, defineToolkit } from '../catalog/define.js';
import type { Tool } from '../catalog/types.js';
import { ToolMuxError } from '../errors.js';
import { createSampleToolkits } from '../test/sample-toolkits.js';
import { ToolMux } from '../toolmux.js';
import { ALL_META_TOOL_SLUGS, ComposioMetaToolSlug, MetaToolSlug } from './meta-tools.js';

/**
 * The meta-tools' names, in both naming styles, are no tool's: a tool of that name shadowed the
 * meta-tool in search, was run as the meta-tool when called, and was handed to a provider twice
 * beside it (DIRECT_TOOLS with the workbench).
 */

const quiet = { debug() {}, warn() {}, error() {} };

const tool = (slug: string): Tool =>
  defineTool({
    slug,
    description: `The application's own ${slug}: looks up an order by id.`,
    inputSchema: z.object({ order_id: z.string() }),
    execute: async () => ({ mine: slug }),
  });

function refusal(make: () => unknown): { code: string; message: string } | undefined {
  try {
    make();
  } catch (error) {
    if (ToolMuxError.isInstance(error)) return { code: error.code, message: error.message };
    throw error;
  }
  return undefined;
}

async function rejection(promise: Promise<unknown>): Promise<{ code: string; message: string } | undefined> {
  try {
    await promise;
  } catch (error) {
    if (ToolMuxError.isInstance(error)) return { code: error.code, message: error.message };
    throw error;
  }
  return undefined;
}

const META_SLUGS = [...ALL_META_TOOL_SLUGS];

describe('meta-tool names are reserved', () => {
  it('covers both naming styles', () => {
    expect(META_SLUGS).toEqual(
      expect.arrayContaining([...Object.values(MetaToolSlug), ...Object.values(ComposioMetaToolSlug)]),
    );
    expect(META_SLUGS).toHaveLength(12);
  });

  it.each(META_SLUGS)(
    'a catalog toolkit with a tool named %s is refused when the ToolMux is made',
    (slug) => {
      const toolkit = slug.startsWith('COMPOSIO_') ? 'composio' : 'toolmux';
      expect(
        refusal(
          () =>
            new ToolMux({
              toolkits: [defineToolkit({ slug: toolkit, description: 'k', tools: [tool(slug)] })],
              store: ':memory:',
              logger: quiet,
            }),
        ),
      ).toEqual({
        code: 'TOOL_DEFINITION_INVALID',
        message: `Tool "${slug}" of toolkit "${toolkit}" has the name of a meta-tool (every meta-tool name, TOOLMUX_… and COMPOSIO_… alike, is reserved in every session whatever its metaToolNames); give the tool another slug.`,
      });
    },
  );

  it.each(META_SLUGS)('a custom tool or a custom toolkit tool named %s is CONFIG_CONFLICT', async (slug) => {
    const mux = new ToolMux({ toolkits: createSampleToolkits().toolkits, store: ':memory:', logger: quiet });
    try {
      for (const metaToolNames of ['toolmux', 'composio'] as const) {
        expect(
          await rejection(
            mux.create('user_1', { metaToolNames, experimental: { customTools: [tool(slug)] } }),
          ),
        ).toEqual({
          code: 'CONFIG_CONFLICT',
          message: `Custom tool "${slug}" has the name of a meta-tool (every meta-tool name, TOOLMUX_… and COMPOSIO_… alike, is reserved in every session whatever its metaToolNames); give the tool another slug.`,
        });
        // a toolkit's tools carry its prefix: only a toolkit `toolmux` or `composio` has such a tool
        const kitSlug = slug.startsWith('COMPOSIO_') ? 'composio' : 'toolmux';
        const kit = defineToolkit({ slug: kitSlug, description: 'k', tools: [tool(slug)] });
        expect(
          await rejection(mux.create('user_1', { metaToolNames, experimental: { customToolkits: [kit] } })),
        ).toMatchObject({
          code: 'CONFIG_CONFLICT',
          message: expect.stringContaining(
            `"${slug}" of custom toolkit "${kitSlug}" has the name of a meta-tool`,
          ),
        });
      }
      expect((await mux.sessions.list()).items).toEqual([]);
    } finally {
      await mux.close();
    }
  });

  it("a custom tool with the slug of a catalog tool names that tool's toolkit once; a slug twice in one toolkit says so", async () => {
    const mux = new ToolMux({ toolkits: createSampleToolkits().toolkits, store: ':memory:', logger: quiet });
    try {
      expect(
        await rejection(mux.create('user_1', { experimental: { customTools: [tool('TASKS_CREATE_TASK')] } })),
      ).toEqual({
        code: 'TOOL_DEFINITION_INVALID',
        message:
          'Custom tool TASKS_CREATE_TASK has the slug of a tool of the catalog (toolkit "tasks"); a custom tool adds to the catalog and cannot replace one of its tools: give it another slug.',
      });
      expect(
        await rejection(
          mux.create('user_1', { experimental: { customTools: [tool('LOOKUP_X'), tool('LOOKUP_X')] } }),
        ),
      ).toEqual({
        code: 'TOOL_DEFINITION_INVALID',
        message: 'Tool slug LOOKUP_X is defined twice in toolkit "custom"; tool slugs must be unique.',
      });
    } finally {
      await mux.close();
    }
  });

  it("a meta-tool inside a multi-execute is refused in the words of the session's own names", async () => {
    const mux = new ToolMux({ toolkits: createSampleToolkits().toolkits, store: ':memory:', logger: quiet });
    try {
      const errors = async (metaToolNames: 'toolmux' | 'composio') => {
        const session = await mux.create('user_1', { metaToolNames });
        const multi =
          metaToolNames === 'toolmux'
            ? MetaToolSlug.MULTI_EXECUTE_TOOL
            : ComposioMetaToolSlug.MULTI_EXECUTE_TOOL;
        const result = await session.execute(multi, {
          tools: [MetaToolSlug.SEARCH_TOOLS, ComposioMetaToolSlug.SEARCH_TOOLS].map((slug) => ({
            tool_slug: slug,
            arguments: {},
          })),
        });
        const data = result.data as {
          results: Array<{ error?: string; response?: { error: string } }>;
        };
        return data.results.map((entry) => entry.error ?? entry.response?.error);
      };
      expect(await errors('toolmux')).toEqual([
        'TOOLMUX_SEARCH_TOOLS is a meta-tool: call it directly, not through TOOLMUX_MULTI_EXECUTE_TOOL.',
        'COMPOSIO_SEARCH_TOOLS is not a tool of this session: its meta-tool of that kind is TOOLMUX_SEARCH_TOOLS. Call it directly, not through TOOLMUX_MULTI_EXECUTE_TOOL.',
      ]);
      expect(await errors('composio')).toEqual([
        'TOOLMUX_SEARCH_TOOLS is not a tool of this session: its meta-tool of that kind is COMPOSIO_SEARCH_TOOLS. Call it directly, not through COMPOSIO_MULTI_EXECUTE_TOOL.',
        'COMPOSIO_SEARCH_TOOLS is a meta-tool: call it directly, not through COMPOSIO_MULTI_EXECUTE_TOOL.',
      ]);
    } finally {
      await mux.close();
    }
  });
});

describe('meta-tool arguments', () => {
  it('a multi-execute call without arguments (or with null, as strict mode sends) runs the tool with {}', async () => {
    const sample = createSampleToolkits();
    const mux = new ToolMux({ toolkits: sample.toolkits, store: ':memory:', logger: quiet });
    try {
      for (const metaToolNames of ['toolmux', 'composio'] as const) {
        const session = await mux.create('user_1', { toolkits: ['tasks'], metaToolNames });
        const multi =
          metaToolNames === 'toolmux'
            ? MetaToolSlug.MULTI_EXECUTE_TOOL
            : ComposioMetaToolSlug.MULTI_EXECUTE_TOOL;
        const result = await session.execute(multi, {
          tools: [{ tool_slug: 'TASKS_LIST_TASKS' }, { tool_slug: 'TASKS_LIST_TASKS', arguments: null }],
        });
        expect(result.error).toBeNull();
        const data = result.data as {
          results: Array<{ successful?: boolean; response?: { successful: boolean } }>;
        };
        expect(data.results.map((entry) => entry.successful ?? entry.response?.successful)).toEqual([
          true,
          true,
        ]);
      }
    } finally {
      await mux.close();
    }
  });

  it('slugs and toolkit names of 1 MB are refused with a short message, never repeated whole', async () => {
    const mux = new ToolMux({ toolkits: createSampleToolkits().toolkits, store: ':memory:', logger: quiet });
    try {
      const huge = 'A'.repeat(1_000_000);
      for (const metaToolNames of ['toolmux', 'composio'] as const) {
        const session = await mux.create('user_1', {
          metaToolNames,
          manageConnections: { waitForConnections: true },
        });
        const slugs = metaToolNames === 'toolmux' ? MetaToolSlug : ComposioMetaToolSlug;
        for (const [slug, args] of [
          [slugs.GET_TOOL_SCHEMAS, { tool_slugs: [huge] }],
          [slugs.MANAGE_CONNECTIONS, { toolkits: [huge.toLowerCase()] }],
          [slugs.WAIT_FOR_CONNECTIONS, { toolkits: [huge.toLowerCase()], timeout_seconds: 0 }],
        ] as const) {
          const result = await session.execute(slug, args);
          expect(result).toMatchObject({ successful: false, code: 'TOOL_ARGUMENTS_INVALID' });
          expect(result.error!.length).toBeLessThan(1_000);
          expect(result.error).toContain('256');
        }
        // one of 256 characters is no tool: listed as not found
        const found = await session.execute(slugs.GET_TOOL_SCHEMAS, { tool_slugs: ['A'.repeat(256)] });
        expect(found.successful).toBe(true);
      }
    } finally {
      await mux.close();
    }
  });
});
