import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { ClientAddressOf } from './client-address.ts';

/** Who sent a request, and the id its log line and response carry. */
export type RequestIdentity = Readonly<{ clientAddress: string; requestId: string }>;

export type IdentifyRequest = (req: IncomingMessage) => RequestIdentity;

/**
 * Identifies each request once: the HTTP server (limits, the request's log line) and the
 * tRPC context (rate limits) ask about the same request and must get the same answer.
 */
export function createRequestIdentity(clientAddressOf: ClientAddressOf): IdentifyRequest {
  const known = new WeakMap<IncomingMessage, RequestIdentity>();
  return (req) => {
    let identity = known.get(req);
    if (!identity) {
      identity = Object.freeze({
        clientAddress: clientAddressOf(req.socket.remoteAddress, req.headers['x-forwarded-for']),
        requestId: flatRandomUUID(),
      });
      known.set(req, identity);
    }
    return identity;
  };
}

/**
 * `randomUUID()` as one flat string. Node builds it by concatenation, which V8 keeps as a rope
 * of 36 pieces, about 1 KB; a WebSocket's context holds its upgrade's id for its whole life.
 */
function flatRandomUUID(): string {
  return Buffer.from(randomUUID(), 'latin1').toString('latin1');
}
