/** Where toolmux writes warnings and diagnostics. Never receives secrets. */
export interface Logger {
  debug(message: string, data?: Record<string, unknown>): void;
  warn(message: string): void;
  error(message: string): void;
}

/** Warnings and errors to the console; debug only with `TOOLMUX_DEBUG=1`. */
export const consoleLogger: Logger = {
  debug(message, data) {
    if (process.env.TOOLMUX_DEBUG) console.debug(message, data ?? '');
  },
  warn(message) {
    console.warn(message);
  },
  error(message) {
    console.error(message);
  },
};
