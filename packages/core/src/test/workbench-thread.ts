import { afterAll, beforeAll } from 'vitest';

/**
 * Has the tests of the `describe` block it is called in run their workbench cells on `thread`
 * (`TOOLMUX_WORKBENCH_THREAD`, read when a ToolMux's workbench makes its first context), and sets the
 * variable back after them.
 */
export function onWorkbenchThread(thread: string): void {
  let saved: string | undefined;
  beforeAll(() => {
    saved = process.env.TOOLMUX_WORKBENCH_THREAD;
    process.env.TOOLMUX_WORKBENCH_THREAD = thread;
  });
  afterAll(() => {
    if (saved === undefined) delete process.env.TOOLMUX_WORKBENCH_THREAD;
    else process.env.TOOLMUX_WORKBENCH_THREAD = saved;
  });
}
