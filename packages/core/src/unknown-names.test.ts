import { describe, expect, it } from 'vitest';
import { defineTool, defineToolkit } from './catalog/define.js';
import type { Tool } from './catalog/types.js';
import { MetaToolSlug } from './meta-tools/meta-tools.js';
import { longestTurn, turnReport } from './test/longest-turn.js';
import { createSampleToolkits } from './test/sample-toolkits.js';
import { ToolMux } from './toolmux.js';

const quiet = { debug() {}, warn() {}, error() {} };

/** 10,000 tools whose slugs differ only in their number: every one is near an unknown numbered slug. */
function numberedTools(count: number, prefix = 'ACME_OPERATION_NUMBER'): Tool[] {
  return Array.from({ length: count }, (_, i) =>
    defineTool({
      slug: `${prefix}_${i}`,
      description: `Runs operation ${i}.`,
      inputSchema: { type: 'object', properties: {} },
      execute: async () => ({ i }),
    }),
  );
}

interface MultiResult {
  results: Array<{ tool_slug: string; successful: boolean; error: string | null }>;
}

describe('"did you mean" hints for unknown names', () => {
  it('50 unknown slugs in one multi-execute against 10,000 tools hold the event loop briefly, and still suggest', async () => {
    const mux = new ToolMux({ toolkits: createSampleToolkits().toolkits, store: ':memory:', logger: quiet });
    try {
      const session = await mux.create('user_1', { experimental: { customTools: numberedTools(10_000) } });
      const calls = Array.from({ length: 50 }, (_, i) => ({
        tool_slug: `ACME_OPERATION_NUMBERX_${70_000 + i}`,
        arguments: {},
      }));
      // before, each hint computed the edit distance to every slug of about its length: 2.5 s of CPU
      // for these 50 (10 s at a load of 15), and 3 s wall for 10,000 tools in the probe
      const turn = await longestTurn(
        () => session.execute(MetaToolSlug.MULTI_EXECUTE_TOOL, { tools: calls }),
        400,
      );
      expect(turn.turnMs, turnReport(turn)).toBeLessThan(400);
      const { results } = turn.value.data as MultiResult;
      expect(results).toHaveLength(50);
      expect(results[0]!.error).toContain(
        'There is no tool "ACME_OPERATION_NUMBERX_70000". Did you mean "ACME_OPERATION_NUMBER_7000"',
      );
      expect(results[9]!.error).toContain('Did you mean "ACME_OPERATION_NUMBER_7000"');
      // a typo is still found among the 10,000
      expect((await session.execute('ACME_OPERATOIN_NUMBER_4321', {})).error).toContain(
        'Did you mean "ACME_OPERATION_NUMBER_4321"',
      );
    } finally {
      await mux.close();
    }
  }, 120_000);

  it('suggest only what the session can call: its filters applied, its toolkits', async () => {
    const acme = defineToolkit({
      slug: 'acme',
      name: 'Acme',
      description: 'Acme operations.',
      tools: numberedTools(2_000),
    });
    const other = defineToolkit({
      slug: 'acmf',
      name: 'Acmf',
      description: 'Operations of another toolkit.',
      tools: numberedTools(2_000, 'ACMF_OPERATION_NUMBER'),
    });
    const mux = new ToolMux({ toolkits: [acme, other], store: ':memory:', logger: quiet });
    try {
      const session = await mux.create('user_1', { toolkits: { enable: ['acmf'] } });
      const error = (await session.execute('ACME_OPERATION_NUMBER_12', {})).error;
      expect(error).toContain('is not available in this session');
      expect((await session.execute('ACMF_OPERATION_NUMBER_12X', {})).error).toContain(
        'Did you mean "ACMF_OPERATION_NUMBER_12"',
      );
      expect((await session.execute('ACME_OPERATION_NUMBR_12', {})).error).toContain(
        'Did you mean "ACMF_OPERATION_NUMBER_12"',
      );
      const connections = await session.execute(MetaToolSlug.MANAGE_CONNECTIONS, {
        toolkits: ['acmg', 'acme'],
      });
      expect(JSON.stringify(connections.data)).toContain(
        '\\"acmg\\" is not a toolkit of this session. Did you mean \\"acmf\\"?',
      );
      // create() names the closest tool of the catalog
      await expect(
        mux.create('user_1', { tools: { acme: ['ACME_OPERATION_NUMBER_1999X'] } }),
      ).rejects.toThrow('Did you mean "ACME_OPERATION_NUMBER_1999"');
    } finally {
      await mux.close();
    }
  });

  it('a slug written with an abbreviation search reads as its word (repo, repos, msg, db) names the tool of the word spelled out first, on every path, and only one the session can call', async () => {
    const tool = (slug: string) =>
      defineTool({
        slug,
        description: `The ${slug} operation.`,
        inputSchema: { type: 'object', properties: {} },
        execute: async () => ({ slug }),
      });
    const devhub = defineToolkit({
      slug: 'devhub',
      name: 'DevHub',
      description: 'Code hosting.',
      tools: [
        'DEVHUB_GET_REPOSITORY',
        'DEVHUB_GET_USER',
        'DEVHUB_GET_ISSUE',
        'DEVHUB_LIST_MY_REPOSITORIES',
        'DEVHUB_LIST_ISSUES',
        'DEVHUB_LIST_RELEASES',
        'DEVHUB_SEND_MESSAGE',
        'DEVHUB_DELETE_DATABASE',
      ].map(tool),
    });
    const mux = new ToolMux({ toolkits: [devhub], store: ':memory:', logger: quiet });
    try {
      // by characters, GET_USER and GET_ISSUE are nearer to GET_REPO than GET_REPOSITORY is, and
      // LIST_REPOS is far from LIST_MY_REPOSITORIES: before, the tool meant came last or not at all
      const session = await mux.create('user_1', {});
      const hint = async (slug: string) => (await session.execute(slug, {})).error;
      expect(await hint('DEVHUB_GET_REPO')).toContain(
        'Did you mean "DEVHUB_GET_REPOSITORY" or "DEVHUB_GET_USER" or "DEVHUB_GET_ISSUE"?',
      );
      expect(await hint('DEVHUB_LIST_REPOS')).toContain('Did you mean "DEVHUB_LIST_MY_REPOSITORIES"');
      expect(await hint('devhub-send-msg')).toContain('Did you mean "DEVHUB_SEND_MESSAGE"');
      expect(await hint('DEVHUB_DELETE_DB')).toContain('Did you mean "DEVHUB_DELETE_DATABASE"');
      const schemas = await session.execute(MetaToolSlug.GET_TOOL_SCHEMAS, {
        tool_slugs: ['DEVHUB_GET_REPO'],
      });
      expect((schemas.data as { hint: string }).hint).toContain('Did you mean "DEVHUB_GET_REPOSITORY"');
      const multi = await session.execute(MetaToolSlug.MULTI_EXECUTE_TOOL, {
        tools: [{ tool_slug: 'DEVHUB_LIST_REPOS' }],
      });
      expect((multi.data as MultiResult).results[0]!.error).toContain(
        'Did you mean "DEVHUB_LIST_MY_REPOSITORIES"',
      );
      // create() names it too
      await expect(mux.create('user_1', { tools: { devhub: ['DEVHUB_GET_REPO'] } })).rejects.toThrow(
        'Did you mean "DEVHUB_GET_REPOSITORY"',
      );
      // a tool the session's filters hide is not suggested however alike its words
      const filtered = await mux.create('user_1', {
        tools: { devhub: { disable: ['DEVHUB_GET_REPOSITORY'] } },
      });
      const error = (await filtered.execute('DEVHUB_GET_REPO', {})).error;
      expect(error).toContain('Did you mean "DEVHUB_GET_USER"');
      expect(error).not.toContain('DEVHUB_GET_REPOSITORY');
    } finally {
      await mux.close();
    }
  });
});
