/**
 * Limits of the workbench's files that a remote client checks the server's answers against too, in a
 * module of their own so that remote mode does not load the sandbox.
 */

/** The longest file path. */
export const MAX_PATH_LENGTH = 512;

/** Characters of an offloaded result the model still sees (its `preview`). */
export const OFFLOAD_PREVIEW_CHARS = 1_000;

/** Bytes of workbench files one session may keep. */
export const WORKBENCH_FILES_QUOTA_BYTES = 64 * 1024 * 1024;
