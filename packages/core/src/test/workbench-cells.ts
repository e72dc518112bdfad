import { expect } from 'vitest';

/**
 * Workbench cells of each outcome, for the tests that check how a provider or surface flags a cell
 * that failed (`ToolResult.cellFailed`): each has the code the model sends as `TOOLMUX_WORKBENCH`'s
 * `code` and the `error.code` its answer holds (`undefined` for the cell that succeeds).
 */
export interface WorkbenchCellCase {
  /** A name for the case, also usable as a tool call id. */
  id: string;
  /** The cell's code. */
  code: string;
  /** The cell's `error.code`, or `undefined` when it succeeds. */
  failsWith: 'WORKBENCH_CODE_ERROR' | 'WORKBENCH_OUTPUT_LIMIT' | undefined;
}

/** A cell that throws, one that reaches the output limit, one that succeeds. */
export const WORKBENCH_CELL_CASES: readonly WorkbenchCellCase[] = [
  {
    id: 'cell_thrown',
    code: "console.log('before'); throw new TypeError('bad input')",
    failsWith: 'WORKBENCH_CODE_ERROR',
  },
  {
    id: 'cell_too_long',
    code: "console.log('made it'); return 'x'.repeat(200_000)",
    failsWith: 'WORKBENCH_OUTPUT_LIMIT',
  },
  { id: 'cell_ok', code: "console.log('fine'); return 2", failsWith: undefined },
];

/**
 * The calls a scripted model makes to test them in one step: a `TOOLMUX_WORKBENCH` call of each of
 * {@link WORKBENCH_CELL_CASES} (its id the case's), then `TASKS_SYNC_CALENDAR` of the sample toolkits
 * (id `failedId`), a tool that fails; each call's input under `inputKey`, as the SDK's wire names it.
 */
export function workbenchCellCalls<K extends string>(inputKey: K, failedId: string) {
  type Call = { id: string; name: string } & Record<K, Record<string, unknown>>;
  const call = (id: string, name: string, input: Record<string, unknown>) =>
    ({ id, name, [inputKey]: input }) as Call;
  return [
    ...WORKBENCH_CELL_CASES.map(({ id, code }) => call(id, 'TOOLMUX_WORKBENCH', { code })),
    call(failedId, 'TASKS_SYNC_CALENDAR', { calendarId: 'work' }),
  ];
}

/** Checks that `answer` is the answer of `cell`, the cell's logs and error code in it. */
export function expectCellAnswer(answer: unknown, cell: WorkbenchCellCase): void {
  const { logs, error } = answer as { logs: string[]; error?: { code: string } };
  expect(logs, cell.id).toHaveLength(1);
  expect(error?.code, cell.id).toBe(cell.failsWith);
}

/**
 * Checks the tool-result outputs an AI SDK language model was given (by tool call id) for the calls
 * of {@link workbenchCellCalls}: each cell's answer as `text`, or as `error-text` when the cell
 * failed, and the failing tool's message as `error-text`.
 */
export function expectCellOutputs(
  outputs: Record<string, { type: string; value?: unknown }>,
  failedId: string,
): void {
  for (const cell of WORKBENCH_CELL_CASES) {
    const output = outputs[cell.id];
    // a failed cell was a text output, which model providers send as a success
    expect(output?.type, cell.id).toBe(cell.failsWith === undefined ? 'text' : 'error-text');
    expectCellAnswer(JSON.parse(String(output?.value)), cell);
  }
  expect(outputs[failedId]).toEqual({
    type: 'error-text',
    value: expect.stringMatching(/^Error \(TOOL_EXECUTION_FAILED\): .*calendar work is unreachable/),
  });
}
