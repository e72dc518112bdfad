import type { Logger } from '../util/logger.js';

/** A logger that keeps what it is told, so tests can assert on it (and the output stays quiet). */
export function recordingLogger(): Logger & { errors: string[]; warnings: string[] } {
  const errors: string[] = [];
  const warnings: string[] = [];
  return {
    errors,
    warnings,
    debug() {},
    warn(message) {
      warnings.push(message);
    },
    error(message) {
      errors.push(message);
    },
  };
}
