import { afterEach, describe, expect, it } from 'vitest';
import { ToolMuxError } from '../errors.js';
import { ToolMux } from '../toolmux.js';
import { checkWorkbenchEnv, workbenchEnvNumber } from './env.js';

/**
 * The numeric TOOLMUX_WORKBENCH_* variables: unset or empty is the default (as for every toolmux
 * variable), a number they accept is used, and anything else stops the ToolMux from being made with
 * a message that names the variable, the value and what it accepts (it used to pass silently: an empty
 * or mistyped spin turned spinning off, a mistyped worker count fell back to the default).
 */
const quiet = { debug() {}, warn() {}, error() {} };

describe('numeric workbench variables', () => {
  it.each([
    ['TOOLMUX_WORKBENCH_SPIN_US', undefined, undefined],
    ['TOOLMUX_WORKBENCH_SPIN_US', '', undefined],
    ['TOOLMUX_WORKBENCH_SPIN_US', '  ', undefined],
    ['TOOLMUX_WORKBENCH_SPIN_US', '0', 0],
    ['TOOLMUX_WORKBENCH_MAIN_SPIN_US', ' 75 ', 75],
    ['TOOLMUX_WORKBENCH_SLICE_MS', '0.5', 0.5],
    ['TOOLMUX_WORKBENCH_WORKERS', '3', 3],
  ] as const)('%s=%j reads as %j', (name, text, value) => {
    const env = text === undefined ? {} : { [name]: text };
    expect(workbenchEnvNumber(name, env)).toBe(value);
    expect(() => checkWorkbenchEnv(env)).not.toThrow();
  });

  it.each([
    ['TOOLMUX_WORKBENCH_SPIN_US', 'fast', 'a number from 0 (microseconds (0 turns it off))'],
    ['TOOLMUX_WORKBENCH_SPIN_US', '-1', 'a number from 0'],
    ['TOOLMUX_WORKBENCH_MAIN_SPIN_US', 'Infinity', 'a number from 0'],
    ['TOOLMUX_WORKBENCH_SLICE_MS', '0.01', 'a number from 0.1 (milliseconds)'],
    ['TOOLMUX_WORKBENCH_MAIN_HOLD_MS', '100ms', 'a number from 1 (milliseconds)'],
    ['TOOLMUX_WORKBENCH_WORKERS', '1.5', 'a whole number from 1 (worker threads)'],
    ['TOOLMUX_WORKBENCH_MAX_WORKERS', '0', 'a whole number from 1 (worker threads)'],
  ] as const)('%s=%j is refused, naming what it accepts', (name, text, accepted) => {
    const env = { [name]: text };
    expect(workbenchEnvNumber(name, env)).toBeUndefined();
    let caught: unknown;
    try {
      checkWorkbenchEnv(env);
    } catch (error) {
      caught = error;
    }
    expect(ToolMuxError.isInstance(caught)).toBe(true);
    expect(caught).toMatchObject({ code: 'CONFIG_INVALID' });
    const message = (caught as Error).message;
    expect(message).toContain(`${name} must be ${accepted}`);
    expect(message).toContain(JSON.stringify(text));
    expect(message).toContain('unset it for the default');
  });

  describe('when a ToolMux is made', () => {
    const saved = process.env.TOOLMUX_WORKBENCH_SPIN_US;
    afterEach(() => {
      if (saved === undefined) delete process.env.TOOLMUX_WORKBENCH_SPIN_US;
      else process.env.TOOLMUX_WORKBENCH_SPIN_US = saved;
    });

    it('a mistyped variable stops it; an empty one is the default', async () => {
      process.env.TOOLMUX_WORKBENCH_SPIN_US = '200us';
      expect(() => new ToolMux({ store: ':memory:', logger: quiet })).toThrow(
        /TOOLMUX_WORKBENCH_SPIN_US must be a number from 0/,
      );
      process.env.TOOLMUX_WORKBENCH_SPIN_US = '';
      const mux = new ToolMux({ store: ':memory:', logger: quiet });
      await mux.close();
    });
  });
});
