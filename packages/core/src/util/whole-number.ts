import { ToolMuxError } from '../errors.js';
import { shownValue } from './stored-text.js';

/** The longest a Node.js timer waits (ms, about 24.8 days): the bound of every timeout option. */
export const MAX_TIMER_MS = 2_147_483_647;

/** What a whole-number option (a timeout, a size) may be, and how its refusal reads. */
export interface WholeNumberRule {
  /** The option as the user writes it: `oauthRequestTimeoutMs`. */
  name: string;
  /**
   * What a wrong value is: `CONFIG_INVALID` for an option of `new ToolMux()` (as every other option
   * it refuses) or of a server, `INVALID_REQUEST` for an argument of a call, `TOOL_DEFINITION_INVALID`
   * for an option of `defineTool()` or a toolkit helper.
   */
  code: 'CONFIG_INVALID' | 'INVALID_REQUEST' | 'TOOL_DEFINITION_INVALID';
  /** What it counts: `milliseconds`, `bytes`. */
  unit: string;
  min: number;
  /** No upper bound when absent. */
  max?: number;
  /** How a bound is written in the message (`65536 (64 KiB)`); the number by default. */
  show?: (bound: number) => string;
  /** What the option is for, in a few words. */
  purpose: string;
  /** The last sentence: what leaving it out gives (`Leave it out for 30000.`). */
  leaveOut: string;
  /** What a left-out value (undefined) gives; without it, undefined is refused like any other. */
  default?: number;
}

/**
 * `value` when it is a whole number within `rule`'s bounds; else the rule's `code`:
 * `<name> must be a whole number of <unit> from <min> to <max> (<purpose>); got <value>. <leaveOut>`
 * (`, <min> or more` without a maximum), with the bounds in `details`; the rule's `default` for
 * undefined when it has one. The one check of the ToolMux's, a server's, a toolkit helper's and a
 * call's numeric options.
 */
export function wholeNumberOf(value: unknown, rule: WholeNumberRule): number {
  const { name, code, unit, min, max, show = String, purpose, leaveOut } = rule;
  if (value === undefined && rule.default !== undefined) return rule.default;
  if (
    typeof value === 'number' &&
    Number.isSafeInteger(value) &&
    value >= min &&
    (max === undefined || value <= max)
  ) {
    return value;
  }
  const range = max === undefined ? `, ${show(min)} or more` : ` from ${show(min)} to ${show(max)}`;
  throw new ToolMuxError({
    code,
    message: `${name} must be a whole number of ${unit}${range} (${purpose}); got ${shownValue(value)}. ${leaveOut}`,
    details: max === undefined ? { min } : { min, max },
  });
}
