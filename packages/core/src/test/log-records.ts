import type { ExecutionLogRecord } from '../store/types.js';
import { newId } from '../util/ids.js';

/** An execution log entry for store tests: a successful `ECHO_ECHO` call of `user_1`, with `changes`. */
export function logRecord(changes: Partial<ExecutionLogRecord> = {}): ExecutionLogRecord {
  return {
    id: newId('log'),
    sessionId: `ses_${'1'.repeat(38)}`,
    userId: 'user_1',
    toolSlug: 'ECHO_ECHO',
    toolkit: 'echo',
    connectedAccountId: null,
    callId: null,
    status: 'success',
    errorCode: null,
    errorMessage: null,
    durationMs: 1,
    input: '{}',
    output: '{}',
    createdAt: new Date(),
    parentId: null,
    ...changes,
  };
}

/** A node of a PostgreSQL `EXPLAIN (FORMAT JSON)` plan. */
export interface PlanNode {
  'Node Type': string;
  'Index Name'?: string;
  'Scan Direction'?: string;
  'Actual Rows'?: number;
  'Actual Loops'?: number;
  Plans?: PlanNode[];
}

/** The plan's nodes, depth first. */
export function planNodes(plan: PlanNode): PlanNode[] {
  return [plan, ...(plan.Plans ?? []).flatMap(planNodes)];
}
