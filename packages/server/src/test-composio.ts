import { Composio } from '@composio/core';

/**
 * A real `@composio/core` client of a toolmux server, made as a self-hosting application makes it:
 * the project API key and `baseURL`, nothing else (tracking and the version check off: tests run
 * offline).
 */
export function composioClientOf(server: { apiKey: string; url: string }): Composio {
  return new Composio({
    apiKey: server.apiKey,
    baseURL: server.url,
    allowTracking: false,
    disableVersionCheck: true,
  });
}
