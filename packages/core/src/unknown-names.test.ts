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
});
