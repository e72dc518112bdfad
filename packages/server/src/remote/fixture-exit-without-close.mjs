// A remote-mode client that runs custom tools and exits without close(): its log uploads must still
// reach the server (remote-mode.test.ts). Prints the session id.
import { ToolMux } from '@toolmux/core';
import { stockLookupTool } from '@toolmux/core/test';

const mux = new ToolMux({ baseUrl: process.env.TOOLMUX_URL, apiKey: process.env.TOOLMUX_API_KEY });
const { tool } = stockLookupTool();
const session = await mux.create('user_exit', { experimental: { customTools: [tool] } });
const calls = Number(process.env.CALLS);
for (let index = 0; index < calls; index++) {
  await session.execute(tool.slug, { sku: `A-${index}` }, { callId: `call_${index}` });
}
process.stdout.write(`${session.sessionId}\n`);
