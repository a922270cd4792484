import WebSocket from 'ws';

/**
 * `ws`'s class (or a subclass of it) typed as the DOM's WebSocket, for tRPC's `createWSClient`
 * and the client library on Node 20, which has no global WebSocket. It is the class tRPC's own
 * docs pass there; its type differs from the DOM's only in extras neither touches, which is
 * why the cast goes through `unknown`, here and nowhere else in the tests.
 */
export function asDomWebSocket(cls: new (...args: never[]) => WebSocket): typeof globalThis.WebSocket {
  return cls as unknown as typeof globalThis.WebSocket;
}

/** `ws` itself, as the DOM's WebSocket. */
export const NodeWebSocket = asDomWebSocket(WebSocket);
