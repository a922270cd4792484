import { Duplex } from 'node:stream';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { expect, test } from 'vitest';
import { TurnWrites, type TurnWriter } from './turn-writes.ts';

/** A socket that records each write call it gets: one entry per syscall a real socket would make. */
function recordingSocket() {
  const calls: string[][] = [];
  const socket = new Duplex({
    read() {},
    write(chunk: Buffer, _encoding, done) {
      calls.push([String(chunk)]);
      done();
    },
    writev(chunks, done) {
      calls.push(chunks.map((c) => String(c.chunk)));
      done();
    },
  });
  return { calls, writer: { socket, turn: 0 } satisfies TurnWriter };
}

test('a lone message leaves at once; a second one in the turn, and what is announced with `more`, leave together at its end', async () => {
  const writes = new TurnWrites();
  const { calls, writer } = recordingSocket();
  const send = (text: string, more: boolean) => {
    writes.hold(writer, more);
    writer.socket.write(text);
  };

  send('a', false);
  expect(calls).toEqual([['a']]);
  send('b', false);
  send('c', false);
  expect(calls).toEqual([['a']]); // held: corked since its second message
  await nextTurn();
  expect(calls).toEqual([['a'], ['b', 'c']]);

  // A page: the push core says more follow, so even the first waits for the rest.
  send('d', true);
  send('e', false);
  expect(calls).toEqual([['a'], ['b', 'c']]);
  await nextTurn();
  expect(calls).toEqual([['a'], ['b', 'c'], ['d', 'e']]);
  expect(writer.socket.writableCorked).toBe(0);

  send('f', false);
  expect(calls.at(-1)).toEqual(['f']);
});
