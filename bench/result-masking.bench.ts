/**
 * What masking an account's credentials in a tool's result costs a call (the result is masked before
 * any surface hands it on, then written to the execution log).
 * 1. `session.execute` of one tool returning a ~2 KB result: without an account, with an API-key
 *    account (a token beside a password: masked in the result, then the log), and with a basic
 *    account whose username a scheme shows (`secret: false`: the log still searches it).
 * 2. The log's redaction of the masked result alone: searching every credential again (what the log
 *    did before) against searching only what the result was not masked for.
 * Run: `node --experimental-strip-types bench/result-masking.bench.ts` (after `pnpm build`).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defineTool, defineToolkit, ToolMux } from '@toolmux/core';
import { z } from 'zod';
import { credentialSecrets } from '../packages/core/dist/auth/credentials.js';
// not part of the public API: the built modules themselves
import { maskedResult, secretsLeftAfterMasking } from '../packages/core/dist/util/masked-result.js';
import { redactForLog } from '../packages/core/dist/util/redact.js';
import { WorkSlice } from '../packages/core/dist/util/slices.js';
import { formatNs, measureInterleaved } from './harness.ts';

const quiet = { debug() {}, warn() {}, error() {} };
const KEY = 'sk_live_51Hq2xZ9aBcDeFgHiJkLmNoPqRsTuV';
const PASSWORD = 'hunter22-correct-horse';

/** A ~2 KB answer of an API: 10 records of ids, names, URLs and a text. */
function answer(): unknown {
  return {
    total: 10,
    items: Array.from({ length: 10 }, (_, index) => ({
      id: 1000 + index,
      name: `item ${index}`,
      url: `https://api.example.com/v1/items/${1000 + index}?expand=owner`,
      owner: { login: `user${index}`, type: 'User' },
      body: 'Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor.',
    })),
  };
}

const tool = (toolkit: string) =>
  defineTool({
    slug: `${toolkit.toUpperCase()}_LIST`,
    description: 'List items',
    inputSchema: z.object({ page: z.number().int().optional() }),
    execute: async () => answer(),
  });

const toolkits = [
  defineToolkit({ slug: 'open', description: 'No account', tools: [tool('open')] }),
  defineToolkit({
    slug: 'keyed',
    description: 'API key and password',
    tools: [tool('keyed')],
    auth: { type: 'api_key', fields: [{ name: 'apiKey' }, { name: 'password' }] },
  }),
  defineToolkit({
    slug: 'basic',
    description: 'Basic with a shown username',
    tools: [tool('basic')],
    auth: { type: 'basic', fields: [{ name: 'username', secret: false }, { name: 'password' }] },
  }),
];

const dir = mkdtempSync(join(tmpdir(), 'toolmux-bench-masking-'));
const mux = new ToolMux({ store: `sqlite:${join(dir, 'bench.db')}`, toolkits, logger: quiet });
try {
  const keyed = await mux.authConfigs.create('keyed', { type: 'api_key' });
  const keyedAccount = await mux.connectedAccounts.create('user_1', keyed.id, {
    apiKey: KEY,
    password: PASSWORD,
  });
  const basic = await mux.authConfigs.create('basic', { type: 'basic' });
  const basicAccount = await mux.connectedAccounts.create('user_1', basic.id, {
    username: 'alice@example.com',
    password: PASSWORD,
  });
  const session = await mux.create('user_1', {
    toolkits: ['open', 'keyed', 'basic'],
    connectedAccounts: { keyed: keyedAccount.id, basic: basicAccount.id },
  });
  const calls = (slug: string) => async () => {
    for (let index = 0; index < 20; index++) {
      const result = await session.execute(slug, {});
      if (!result.successful) throw new Error(`${slug}: ${result.error}`);
    }
  };
  const one = await measureInterleaved(
    { open: calls('OPEN_LIST'), key: calls('KEYED_LIST'), shown: calls('BASIC_LIST') },
    { rounds: 15, runsPerRound: 30 },
  );
  console.log('\n## 1. session.execute, ~2 KB result (SQLite file), paired by round');
  for (const [name, label] of [
    ['open', 'no account'],
    ['key', 'API key + password (masked)'],
    ['shown', 'basic, shown username (masked, the log searches it)'],
  ] as const) {
    console.log(
      `${label.padEnd(56)} ${formatNs(one.nsPerRun[name] / 20).padStart(10)}/call  ${one.ratio(name, 'open').toFixed(2)}× no account`,
    );
  }

  // 2. the log's redaction step alone, on the result as the model gets it
  const all = credentialSecrets({ apiKey: KEY, password: PASSWORD });
  const masked = await maskedResult(answer(), all, new WorkSlice());
  const left = secretsLeftAfterMasking(all, all);
  const redactions = (secrets: readonly string[]) => async () => {
    for (let index = 0; index < 200; index++) redactForLog(masked, secrets);
  };
  const two = await measureInterleaved(
    { again: redactions(all), rest: redactions(left) },
    { rounds: 15, runsPerRound: 20 },
  );
  console.log('\n## 2. redactForLog of a masked ~2 KB result, paired by round');
  console.log(
    `${'every credential again (before)'.padEnd(56)} ${formatNs(two.nsPerRun.again / 200).padStart(10)}/op`,
  );
  console.log(
    `${'only what the result was not masked for (now)'.padEnd(56)} ${formatNs(two.nsPerRun.rest / 200).padStart(10)}/op  ${two.ratio('rest', 'again').toFixed(2)}× before`,
  );
  console.log(`(${formatNs(two.difference('again', 'rest') / 200)} less per authed call)`);
} finally {
  await mux.close();
  rmSync(dir, { recursive: true, force: true });
}
