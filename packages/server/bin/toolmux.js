#!/usr/bin/env node
// The `toolmux` command. A committed file (not dist/cli.js itself), so that installing the workspace
// links the bin before anything is built; it then runs the built CLI.
try {
  await import('../dist/cli.js');
} catch (error) {
  if (
    error?.code === 'ERR_MODULE_NOT_FOUND' &&
    String(error.message).includes("dist/cli.js' imported from")
  ) {
    console.error(
      'toolmux: @toolmux/server is not built yet. Run `pnpm build` in the toolmux repository first.',
    );
    process.exit(1);
  }
  throw error;
}
