// A toolkits module for the CLI tests: `sized`, whose API (at TOOLMUX_TEST_SIZED_URL, `startSizedApi()`)
// answers /sized/<n> with n bytes, for proxy calls.
import { pingToolkit } from '@toolmux/core/test';

const baseUrl = process.env.TOOLMUX_TEST_SIZED_URL;
if (!baseUrl) throw new Error('set TOOLMUX_TEST_SIZED_URL');

export const toolkits = [
  pingToolkit({ slug: 'sized', baseUrl, description: 'An API that answers as many bytes as asked' }),
];
