import type { IncomingMessage, ServerResponse } from 'node:http';

/** An error whose status and message go to the client as they are. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
  });
  res.end(text);
}

/**
 * Reads and parses a JSON body of at most `maxBytes`: 413 past that, 400 when it is not JSON.
 *
 * Past the limit the rest of the body is read and thrown away, never cut off: destroying a
 * request with unread bytes resets the connection, and a client still sending (Node's fetch
 * does) then loses the 413 and sees ECONNRESET. Discarding is what Node does itself with a
 * body nobody read; its requestTimeout bounds how long a client can keep us at it.
 */
export function readJsonBody(req: IncomingMessage, maxBytes: number): Promise<unknown> {
  const tooLarge = () => new HttpError(413, `request body is larger than ${maxBytes} bytes`);
  const declared = Number(req.headers['content-length'] ?? 0);
  // Not read at all: Node drains the unread body itself once the response is sent.
  if (declared > maxBytes) return Promise.reject(tooLarge());
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= maxBytes) return void chunks.push(chunk);
      // Keep flowing with nothing kept, so the client can finish sending and read the 413.
      chunks.length = 0;
      req.off('data', onData);
      req.off('end', onEnd);
      req.resume();
      reject(tooLarge());
    };
    const onEnd = () => {
      req.off('error', reject);
      const text = Buffer.concat(chunks).toString('utf8');
      if (text.trim() === '') return reject(new HttpError(400, 'the body is empty; send a JSON object'));
      try {
        resolve(JSON.parse(text));
      } catch (err) {
        reject(new HttpError(400, `the body is not valid JSON: ${(err as Error).message}`));
      }
    };
    req.on('data', onData);
    req.once('end', onEnd);
    req.once('error', reject);
  });
}
