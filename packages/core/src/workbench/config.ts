/** The workbench settings of a session, every default filled in. */
export interface WorkbenchConfig {
  /**
   * Whether the session has TOOLMUX_WORKBENCH (META_TOOLS sessions only). Cells run on the main
   * thread in time slices or in worker threads (`TOOLMUX_WORKBENCH_THREAD`); no cell holds the event loop.
   * @default true
   */
  enable: boolean;
  /** Wall time of one cell, tool calls included. @default 60000 */
  timeoutMs: number;
  /** JavaScript heap of the session's context, in MB. @default 64 */
  memoryMb: number;
  /** A TOOLMUX_MULTI_EXECUTE_TOOL result longer than this (characters) goes to the workbench files. @default 20000 */
  autoOffloadThreshold: number;
}

export const DEFAULT_WORKBENCH: WorkbenchConfig = Object.freeze({
  enable: true,
  timeoutMs: 60_000,
  memoryMb: 64,
  autoOffloadThreshold: 20_000,
});

/** Where the workbench's description says tool slugs come from, in a session with meta-tools. */
export const WORKBENCH_SLUGS_LINE =
  'Tool slugs and arguments are the same as for TOOLMUX_MULTI_EXECUTE_TOOL; find them with TOOLMUX_SEARCH_TOOLS or `toolmux.search`.';
/** The same, beside direct tools (no search or multi-execute meta-tool). */
export const WORKBENCH_DIRECT_SLUGS_LINE =
  'Tool slugs and arguments are those of the tools this session gave you; `toolmux.search` finds more by task.';

/** The description the model reads: enough to use the workbench without other documentation. */
export const WORKBENCH_DESCRIPTION = [
  'Run JavaScript in a sandbox to call many tools, filter, join or aggregate their results, and return only what you need, instead of reading every result yourself.',
  '`code` is the body of an async function: use `await` and `return` (the returned JSON value is `result`; `console.log` lines are `logs`).',
  'Inside, a global `toolmux` object:',
  '- `await toolmux.execute(slug, args)` runs a tool of this session and returns `{ successful, data, error }`. `toolmux.execute(slug, args, { account })` runs it with one connected account of the user, given by its id (`ca_…`) or alias; without it the default account is used.',
  '- `await toolmux.search(query, limit?)` finds tools for a task in plain words (at most `limit` of them, 1–50): `{ results: [{ tools: [{ tool_slug, description, input_schema }] }] }`.',
  "- `await toolmux.proxy({ toolkit, endpoint, method, body })` calls a connected app's API directly: `{ status, headers, data }`.",
  "- `await toolmux.files.write(path, value)`, `read(path)`, `list()`, `delete(path)`: files of this session that last across calls (large tool results are saved here too). `read(path, { offset, length })` gives `{ text, nextOffset }`: that part of the file's JSON text (read on from `nextOffset` until it is null), for a file too large to read whole.",
  'Variables you put on `globalThis` stay for your next calls while the workbench stays active (it is reset after a long idle time, a timeout or running out of memory; you are told).',
  `There is no network, file system, \`require\`, \`import\`, \`process\` or timers. ${WORKBENCH_SLUGS_LINE}`,
  'Example: `const r = await Promise.all(ids.map((id) => toolmux.execute("TASKS_GET_TASK", { id }))); return r.filter((x) => x.successful && x.data.done).length;`',
].join('\n');
