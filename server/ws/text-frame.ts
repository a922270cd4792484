import { Sender } from 'ws';

declare module 'ws' {
  // Exported by `ws` (index.js and wrapper.mjs) and marked @public in its source, made a
  // static method for exactly this: a broadcast that frames a message once for every
  // socket. @types/ws does not declare it.
  export const Sender: {
    frame(data: Buffer, options: { fin: boolean; opcode: number; mask: boolean; readOnly: boolean; rsv1: boolean }): Buffer[];
  };
}

const TEXT_OPCODE = 1;

/**
 * `payload` as one final, unmasked, uncompressed WebSocket text frame: the bytes `ws.send`
 * writes for it on a server socket with no extensions, in one Buffer that every subscriber's
 * socket can be given as is (text-frame.test.ts compares the bytes with `ws.send`'s;
 * test/ws-conformance.test.ts the messages clients get with tRPC's own adapter's).
 */
export function textFrame(payload: Buffer): Buffer {
  const parts = Sender.frame(payload, { fin: true, opcode: TEXT_OPCODE, mask: false, readOnly: false, rsv1: false });
  return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
}
