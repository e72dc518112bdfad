import { z } from 'zod';
import { defineTool } from '../catalog/define.js';
import type { Tool } from '../catalog/types.js';

/** One call of the stock lookup tool, as its handler saw it. */
export interface StockLookupCall {
  sku: string;
  sessionId: string | undefined;
  callId: string | undefined;
}

/**
 * `SHOP_LOOKUP_STOCK` (toolkit `shop`, no auth): a custom tool for tests of custom tools (remote mode:
 * its code runs in the client). Its handler records each call in `ran`, a closure of the test, so only
 * the process that holds it can have run it; the SKU `BROKEN` makes it throw "warehouse offline".
 */
export function stockLookupTool(): { tool: Tool; ran: StockLookupCall[] } {
  const ran: StockLookupCall[] = [];
  const tool = defineTool({
    slug: 'SHOP_LOOKUP_STOCK',
    toolkit: 'shop',
    description: 'Look up how many items of a product (by SKU) are in stock in the warehouse.',
    inputSchema: z.object({ sku: z.string().describe('The product SKU, like "A-100"') }),
    annotations: { readOnlyHint: true },
    execute: async ({ sku }, context) => {
      ran.push({ sku, sessionId: context.sessionId, callId: context.callId });
      if (sku === 'BROKEN') throw new Error('warehouse offline');
      return { sku, inStock: 7 };
    },
  });
  return { tool, ran };
}
