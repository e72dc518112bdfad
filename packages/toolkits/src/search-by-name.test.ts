import { MetaToolSlug, ToolMux } from '@toolmux/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { builtinToolkits } from './index.js';

const tools = builtinToolkits.flatMap((toolkit) => toolkit.tools);

/** The ways an agent writes a tool it knows: its slug, its name, and both in other cases and separators. */
function namings(tool: { slug: string; name: string }): string[] {
  return [
    tool.slug,
    tool.name,
    tool.slug.toLowerCase(),
    tool.slug.toLowerCase().replaceAll('_', '-'),
    tool.name.toUpperCase(),
    ` ${tool.slug.replaceAll('_', ' ')} `,
  ];
}

describe('searching for a built-in tool by its slug or its name', () => {
  let mux: ToolMux;
  beforeAll(() => {
    mux = new ToolMux({ toolkits: builtinToolkits, store: ':memory:' });
  });
  afterAll(() => mux.close());

  it('ranks that tool first in session.search(), for every built-in tool', async () => {
    const session = await mux.create('user_1', {});
    const missed: string[] = [];
    for (const tool of tools) {
      for (const query of namings(tool)) {
        const { results } = await session.search({ query, limit: 5 });
        const found = results[0]!.tools.map((entry) => entry.tool_slug);
        if (found[0] !== tool.slug)
          missed.push(`${JSON.stringify(query)} -> ${found.slice(0, 3).join(', ')}`);
      }
    }
    // before, 13 of the 110 were not first by their slug (GITHUB_LIST_MY_REPOSITORIES came 5th)
    expect(missed).toEqual([]);
  });

  it('ranks that tool first in TOOLMUX_SEARCH_TOOLS, also with known fields beside the use case', async () => {
    const session = await mux.create('user_1', {});
    const missed: string[] = [];
    for (const tool of tools) {
      const queries = [
        ...namings(tool).map((use_case) => ({ use_case })),
        { use_case: tool.slug, known_fields: 'owner: acme, channel: general' },
        { use_case: `run ${tool.slug} for me`, known_fields: 'id: 42' },
      ];
      const result = await session.execute(MetaToolSlug.SEARCH_TOOLS, { queries });
      const { results } = result.data as {
        results: Array<{ use_case: string; tools: Array<{ tool_slug: string }> }>;
      };
      for (const [at, entry] of results.entries()) {
        if (entry.tools[0]?.tool_slug !== tool.slug) {
          missed.push(`${JSON.stringify(queries[at])} -> ${entry.tools[0]?.tool_slug}`);
        }
      }
    }
    expect(missed).toEqual([]);
  });

  it('leaves out a tool the session cannot call, whatever names it', async () => {
    const session = await mux.create('user_1', { toolkits: { disable: ['github'] } });
    const { results } = await session.search({ query: 'GITHUB_CREATE_PULL_REQUEST' });
    expect(results[0]!.tools.map((entry) => entry.tool_slug)).not.toContain('GITHUB_CREATE_PULL_REQUEST');
  });
});
