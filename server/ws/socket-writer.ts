import type { Duplex } from 'node:stream';
import type { WebSocket } from 'ws';
import { untilWoken } from '../until-woken.ts';
import { MAX_BUFFERED_BYTES } from './backpressure.ts';
import type { TurnWrites, TurnWriter } from './turn-writes.ts';

const OPEN = 1;
/** `ws.send` of a Buffer sends binary unless told; tRPC's messages are text. */
const TEXT = { binary: false } as const;
/** How often a writer waiting for 'drain' looks again even without one. */
const DRAIN_CHECK_MS = 250;

/**
 * Everything that leaves one WebSocket, and the state that goes with it: the messages
 * (corked per turn with `TurnWrites`), the room left before backpressure, the wait for
 * 'drain', and the keep-alive clock (when the client last spoke, whether a PING is
 * unanswered). The tRPC protocol (trpc-connection.ts) writes through it; the transport's
 * keep-alive sweep asks it (`keepAlive`) rather than keeping its clock for it.
 *
 * The socket is the one the HTTP server handed over on 'upgrade', under `ws`: ours to cork
 * and to wait on for 'drain' (Node's public stream API).
 */
export class SocketWriter implements TurnWriter {
  /** TurnWrites' to keep: the turn of this socket's last write. */
  turn = 0;
  #lastHeardAt = performance.now();
  /** When a PING went out that is not answered yet. */
  #pingSentAt: number | undefined;

  constructor(
    readonly ws: WebSocket,
    readonly socket: Duplex,
    private readonly writes: TurnWrites,
  ) {}

  get isOpen(): boolean {
    return this.ws.readyState === OPEN;
  }

  /** Bytes queued in memory, corked ones included. */
  get bufferedAmount(): number {
    return this.ws.bufferedAmount;
  }

  /** Sends one text message; dropped once the socket is not open. `more`: see TurnWrites. */
  send(data: string | Buffer, more = false): void {
    if (this.ws.readyState !== OPEN) return;
    this.writes.hold(this, more);
    this.ws.send(data, TEXT);
  }

  /**
   * Sends one message already framed (text-frame.ts) by writing the frame to the socket as
   * is: the bytes `ws.send` would write, without framing them again for every socket. Safe
   * beside `ws.send` because `ws` writes each message to the socket at once, in call order,
   * when nothing is compressed (the transport refuses extensions) and no Blob is sent; and
   * `ws`'s `bufferedAmount` counts what the socket holds, so backpressure sees these bytes.
   */
  sendFrame(frame: Buffer, more = false): void {
    if (this.ws.readyState !== OPEN) return;
    this.writes.hold(this, more);
    this.socket.write(frame);
  }

  hasRoom(): boolean {
    return this.ws.bufferedAmount <= MAX_BUFFERED_BYTES;
  }

  /** Resolves once the socket has drained below the limit, closed, or `signal` aborted. */
  async waitForRoom(signal: AbortSignal): Promise<void> {
    while (!this.hasRoom() && this.ws.readyState === OPEN && !signal.aborted) await this.#drained(signal);
  }

  #drained(signal: AbortSignal): Promise<void> {
    const socket = this.socket;
    if (socket.destroyed || socket.writableLength === 0) return Promise.resolve();
    // 'drain' comes once a write that passed the high-water mark has been flushed: any
    // buffer over the backpressure limit has had one. The timer is a safety net only.
    return untilWoken(signal, (wake) => {
      const timer = setTimeout(wake, DRAIN_CHECK_MS);
      socket.on('drain', wake);
      socket.on('close', wake);
      return () => {
        clearTimeout(timer);
        socket.off('drain', wake);
        socket.off('close', wake);
      };
    });
  }

  /** The client said something (any message, PONG included): it is alive. */
  heard(): void {
    this.#lastHeardAt = performance.now();
    this.#pingSentAt = undefined;
  }

  /**
   * One step of keep-alive at `now`: a PING once the client has been quiet for `pingMs`, and
   * the connection cut when that PING is not answered within `pongWaitMs`.
   */
  keepAlive(now: number, pingMs: number, pongWaitMs: number): void {
    if (this.#pingSentAt !== undefined) {
      if (now - this.#pingSentAt >= pongWaitMs) this.ws.terminate();
    } else if (now - this.#lastHeardAt >= pingMs) {
      this.#pingSentAt = now;
      this.send('PING');
    }
  }

  close(code: number, reason: string): void {
    this.ws.close(code, reason);
  }

  /** Cuts the connection without a close frame, as a network failure would. */
  terminate(): void {
    this.ws.terminate();
  }
}
