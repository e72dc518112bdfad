import type { ToolAnnotations } from '@toolmux/core';

/** Reads from the provider; changes nothing. */
export const READ: ToolAnnotations = Object.freeze({
  readOnlyHint: true,
  destructiveHint: false,
  idempotentHint: true,
  openWorldHint: true,
});

/** Creates something new at the provider; calling twice creates two. */
export const CREATE: ToolAnnotations = Object.freeze({
  readOnlyHint: false,
  destructiveHint: false,
  idempotentHint: false,
  openWorldHint: true,
});

/** Sets state at the provider (close, star, label); calling twice has no further effect. */
export const UPDATE: ToolAnnotations = Object.freeze({
  readOnlyHint: false,
  destructiveHint: false,
  idempotentHint: true,
  openWorldHint: true,
});

/** Overwrites or removes data at the provider. */
export const DESTROY: ToolAnnotations = Object.freeze({
  readOnlyHint: false,
  destructiveHint: true,
  idempotentHint: true,
  openWorldHint: true,
});
