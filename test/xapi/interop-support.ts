import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Express } from 'express';

/** Serves the app on a real port, as the client libraries need; returns its xAPI endpoint. */
export async function listenForClients(app: Express): Promise<{ endpoint: string; close(): Promise<void> }> {
  const server: Server = app.listen(0, '127.0.0.1');
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}/xapi/`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** The HTTP status of a client-library call: 200 when it resolved, the response's status when it rejected. */
export async function statusOf(promise: Promise<unknown>): Promise<number> {
  try {
    await promise;
    return 200;
  } catch (error) {
    const status = (error as { response?: { status?: number } }).response?.status;
    if (status === undefined) throw error;
    return status;
  }
}
