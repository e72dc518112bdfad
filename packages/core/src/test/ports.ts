import { createServer } from 'node:net';

/**
 * A loopback port nothing listens on now: one the system gave out and took back. For a server a test
 * starts later on a port it must name first, or for an address that refuses connections.
 */
export async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as { port: number };
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}
