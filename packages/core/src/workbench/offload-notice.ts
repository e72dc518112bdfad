import { leadingText } from '../util/stored-text.js';
import { OFFLOAD_PREVIEW_CHARS } from './file-limits.js';

/**
 * What the model receives instead of a multi-execute result too large to give it whole that could
 * not be saved to the workbench files: its start, why, and what to do. `head`: at least the first
 * {@link OFFLOAD_PREVIEW_CHARS} + 1 characters of the result's JSON (fewer when it is shorter);
 * `quotaBytes`: the files quota it would exceed, or undefined when the store (or, in remote mode,
 * the way to the server) failed, whose own error is not shown to the model. In a module of its own
 * so that remote mode, which builds it when its upload fails, does not load the sandbox.
 */
export function notOffloadedNotice(
  size: number,
  head: string,
  quotaBytes: number | undefined,
  workbenchSlug: string,
): { notOffloaded: { size: number; preview: string; reason: string; hint: string } } {
  return {
    notOffloaded: {
      size,
      // never half a surrogate pair: a lone one in a tool result is refused by some model APIs
      preview: leadingText(head, OFFLOAD_PREVIEW_CHARS),
      reason:
        quotaBytes !== undefined
          ? `WORKBENCH_FILES_QUOTA: saving it (${size} characters) would take this session's workbench files over their quota of ${quotaBytes} bytes.`
          : 'The workbench files could not be written just now.',
      hint:
        quotaBytes !== undefined
          ? `Only the start of the result is shown. Free room in ${workbenchSlug} (\`await toolmux.files.list()\`, then \`await toolmux.files.delete(path)\` for files you no longer need, earlier results under offloaded/ among them), then make the calls again; or ask for less per call.`
          : 'Only the start of the result is shown. Make the calls again in a moment, or ask for less per call.',
    },
  };
}
