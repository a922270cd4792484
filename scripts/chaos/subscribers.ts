import { createTRPCClient, createWSClient, wsLink } from '@trpc/client';
import WebSocket from 'ws';
import type { AppRouter } from '../../server/routers/app.ts';
import type { EventFilter } from '../../shared/orders.ts';
import type { ResumeId } from '../../shared/resume-id.ts';
import type { Random } from './random.ts';

/** Every socket the subscribers open, so faults can cut one as a network failure would. */
const sockets = new Set<WebSocket>();
class TrackedWebSocket extends WebSocket {
  constructor(...args: ConstructorParameters<typeof WebSocket>) {
    super(...args);
    sockets.add(this);
    this.once('close', () => sockets.delete(this));
  }
}

/** Cuts one random subscriber socket without a closing handshake; false if none is open. */
export function dropRandomSocket(random: Random): boolean {
  const open = [...sockets].filter((s) => s.readyState === WebSocket.OPEN);
  if (open.length === 0) return false;
  random.pick(open).terminate();
  return true;
}

export type SubscriberKind =
  /** relies on the tRPC client's own reconnect-and-resume, moving to another node each time */
  | 'auto'
  /** now and then closes its client and subscribes anew from the id it saved */
  | 'resume';

/**
 * One subscriber of orders.onChange, recording the positions it receives. Errors the server
 * sends and early completions are recorded too: either one is a broken promise.
 */
export class ChaosSubscriber {
  readonly ids: string[] = [];
  readonly problems: string[] = [];
  /** subscriptions the client library gave up on (socket gone before it opened); we resume them */
  clientRetries = 0;
  #client: ReturnType<typeof createWSClient> | undefined;
  #unsubscribe: (() => void) | undefined;
  #connects = 0;
  /** The tracked id of the last event received: what a resume sends back (it names the event, not only its position). */
  #resumeId: ResumeId | undefined;

  constructor(
    readonly name: string,
    readonly kind: SubscriberKind,
    readonly filter: EventFilter,
    readonly startAfter: string,
    private readonly nodeUrls: string[],
    private readonly firstNode: number,
  ) {}

  get lastId(): string {
    return this.ids.at(-1) ?? this.startAfter;
  }

  start(): void {
    const offset = this.firstNode + this.#connects++;
    let attempt = 0;
    const wsClient = createWSClient({
      // Each (re)connect goes to the next node: resuming must work on any of them.
      url: () => `${this.nodeUrls[(offset + attempt++) % this.nodeUrls.length]!.replace('http', 'ws')}/trpc`,
      WebSocket: TrackedWebSocket as unknown as typeof globalThis.WebSocket,
      retryDelayMs: (n) => Math.min(1_000, 50 * 2 ** n),
    });
    this.#client = wsClient;
    const trpc = createTRPCClient<AppRouter>({ links: [wsLink({ client: wsClient })] });
    const sub = trpc.orders.onChange.subscribe(
      { lastEventId: this.#resumeId ?? this.startAfter, ...this.filter },
      {
        onData: ({ id, data }) => {
          this.ids.push(data.id);
          this.#resumeId = id;
        },
        onError: (err) => {
          // An error the server sent (it has a code) breaks the promise. One raised by the
          // client library about its own socket is what any client resumes from.
          if (err.data?.code) this.problems.push(`error from the server: ${err.data.code} ${err.message}`);
          else this.clientRetries++;
          this.#restart();
        },
        onComplete: () => {
          if (this.#unsubscribe) this.problems.push('the server ended the subscription');
        },
      },
    );
    this.#unsubscribe = () => sub.unsubscribe();
  }

  /** Closes the client; a later start() resumes from the last saved id. */
  async stop(): Promise<void> {
    const unsubscribe = this.#unsubscribe;
    this.#unsubscribe = undefined;
    unsubscribe?.();
    await this.#client?.close();
    this.#client = undefined;
  }

  #resuming: Promise<void> | undefined;

  /**
   * The 'resume' fault, and the answer to an error: go away, come back on another node with
   * the saved id. A fault and an error can ask at the same moment; they share one resume, as
   * two would each start a client and every event would arrive twice.
   */
  resume(): Promise<void> {
    this.#resuming ??= (async () => {
      await this.stop();
      this.start();
    })().finally(() => (this.#resuming = undefined));
    return this.#resuming;
  }

  #restart(): void {
    void this.resume();
  }
}
