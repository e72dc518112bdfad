import type { Client } from 'pg';
import { expect } from 'vitest';
import { type PlanNode, planNodes, type SentStatement } from './log-records.js';

/**
 * Runs `work`, recording the statements matching `pattern` that any `pg` client sends meanwhile:
 * a store's pool and its transactions' connections alike.
 */
export async function recordingPgStatements<T>(
  pattern: RegExp,
  work: () => Promise<T>,
): Promise<{ value: T; sent: SentStatement[] }> {
  const { default: pg } = await import('pg');
  const sent: SentStatement[] = [];
  const prototype = pg.Client.prototype as unknown as { query: (...args: unknown[]) => unknown };
  const original = prototype.query;
  prototype.query = function (this: unknown, ...args: unknown[]) {
    const config = args[0] as SentStatement | string;
    if (typeof config === 'object' && pattern.test(config.text)) sent.push(config);
    return original.apply(this, args);
  };
  try {
    return { value: await work(), sent };
  } finally {
    prototype.query = original;
  }
}

/** A statement's values as SQL literals: dates as timestamptz, arrays of text as ARRAY[…]. */
function literalsOf(client: Client, values: unknown[]): string[] {
  return values.map((value) =>
    value instanceof Date
      ? `${client.escapeLiteral(value.toISOString())}::timestamptz`
      : typeof value === 'number'
        ? String(value)
        : Array.isArray(value)
          ? `ARRAY[${value.map((each) => client.escapeLiteral(String(each))).join(', ')}]`
          : client.escapeLiteral(String(value)),
  );
}

let prepared = 0;

/**
 * Runs `statement` (as a store sent it) under EXPLAIN ANALYZE with a custom and with a generic plan,
 * each in a transaction rolled back, and checks each plan: no sequential scan, `index` used, and no
 * step that reads more than `maxRows` rows (the other users' rows, or the user's ended ones).
 */
export async function expectIndexedPlans(
  client: Client,
  statement: SentStatement,
  index: string,
  maxRows = 30,
): Promise<void> {
  const literals = literalsOf(client, statement.values);
  for (const mode of ['force_custom_plan', 'force_generic_plan']) {
    const name = `planned_${++prepared}`;
    await client.query('BEGIN');
    await client.query(`SET LOCAL plan_cache_mode = ${mode}`);
    await client.query(`PREPARE ${name} AS ${statement.text}`);
    const { rows } = await client.query(
      `EXPLAIN (ANALYZE, FORMAT JSON) EXECUTE ${name}(${literals.join(', ')})`,
    );
    await client.query('ROLLBACK');
    const plan = planNodes((rows[0]['QUERY PLAN'] as Array<{ Plan: PlanNode }>)[0]!.Plan);
    const context = `${mode}: ${statement.text}\n${JSON.stringify(rows[0]['QUERY PLAN'])}`;
    expect(
      plan.map((node) => node['Node Type']),
      context,
    ).not.toContain('Seq Scan');
    expect(plan.filter((node) => node['Index Name'] === index).length, context).toBeGreaterThan(0);
    for (const node of plan) {
      expect(node['Actual Rows'] ?? 0, `${node['Node Type']} in ${context}`).toBeLessThanOrEqual(maxRows);
    }
  }
}
