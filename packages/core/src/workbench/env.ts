import { ToolMuxError } from '../errors.js';

/** A numeric `TOOLMUX_WORKBENCH_*` variable: what it accepts. */
interface NumberVariable {
  readonly min: number;
  readonly integer?: boolean;
  /** What the number is, for the message that refuses a bad value. */
  readonly unit: string;
}

/** The numeric workbench variables (docs/server.md lists them with their defaults). */
const NUMBER_VARIABLES = {
  TOOLMUX_WORKBENCH_SLICE_MS: { min: 0.1, unit: 'milliseconds' },
  TOOLMUX_WORKBENCH_MAIN_HOLD_MS: { min: 1, unit: 'milliseconds' },
  TOOLMUX_WORKBENCH_MAIN_SPIN_US: { min: 0, unit: 'microseconds (0 turns it off)' },
  TOOLMUX_WORKBENCH_SPIN_US: { min: 0, unit: 'microseconds (0 turns it off)' },
  TOOLMUX_WORKBENCH_WORKERS: { min: 1, integer: true, unit: 'worker threads' },
  TOOLMUX_WORKBENCH_MAX_WORKERS: { min: 1, integer: true, unit: 'worker threads' },
} satisfies Record<string, NumberVariable>;

export type WorkbenchNumberVariable = keyof typeof NUMBER_VARIABLES;

/** Why `text` is not a value of `name`, or undefined when it is one. */
function problem(name: WorkbenchNumberVariable, text: string): string | undefined {
  const variable: NumberVariable = NUMBER_VARIABLES[name];
  const value = Number(text);
  if (Number.isFinite(value) && value >= variable.min && (!variable.integer || Number.isInteger(value)))
    return undefined;
  const accepted = variable.integer ? `a whole number from ${variable.min}` : `a number from ${variable.min}`;
  return `${name} must be ${accepted} (${variable.unit}), got ${JSON.stringify(text.slice(0, 40))}: set it so, or unset it for the default.`;
}

/**
 * The value of a numeric workbench variable, or undefined for its default: unset or empty, as every
 * toolmux variable, and also a bad value (which {@link checkWorkbenchEnv} refuses when a ToolMux is
 * made, so a bad value never reaches the engine: here, read where no error can be reported, it only
 * must not count).
 */
export function workbenchEnvNumber(
  name: WorkbenchNumberVariable,
  env: NodeJS.ProcessEnv = process.env,
): number | undefined {
  const text = env[name]?.trim();
  if (text === undefined || text === '' || problem(name, text) !== undefined) return undefined;
  return Number(text);
}

/** Refuses (CONFIG_INVALID) a numeric workbench variable set to anything but a number it accepts. */
export function checkWorkbenchEnv(env: NodeJS.ProcessEnv = process.env): void {
  for (const name of Object.keys(NUMBER_VARIABLES) as WorkbenchNumberVariable[]) {
    const text = env[name]?.trim();
    if (text === undefined || text === '') continue;
    const message = problem(name, text);
    if (message) throw new ToolMuxError({ code: 'CONFIG_INVALID', message });
  }
}
