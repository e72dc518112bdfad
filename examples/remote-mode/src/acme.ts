/**
 * The server's catalog of the remote-mode example: one toolkit, `acme`. `main.ts` serves it in its
 * own process; a `toolmux serve` of yours takes it as a toolkits module:
 * `pnpm toolmux serve --toolkits ./examples/remote-mode/src/acme.ts` (from the repository root).
 */
import { defineTool, defineToolkit } from '@toolmux/core';
import { z } from 'zod';

export const acme = defineToolkit({
  slug: 'acme',
  name: 'Acme Shop',
  description: 'Orders of the Acme online shop.',
  tools: [
    defineTool({
      slug: 'ACME_GET_ORDER',
      description: 'Get the status and carrier of an order by its id.',
      inputSchema: z.object({ orderId: z.string().describe('The order id, like A-1001') }),
      annotations: { readOnlyHint: true },
      execute: async ({ orderId }) => {
        console.log(`  [server] ACME_GET_ORDER ${orderId}`);
        return { orderId, status: 'shipped', carrier: 'DHL' };
      },
    }),
  ],
});

export default acme;
