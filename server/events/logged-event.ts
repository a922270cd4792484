import type { Order, OrderChanges, OrderEvent, OrderEventType } from '../../shared/orders.ts';
import { formatResumeId, type ResumeId } from '../../shared/resume-id.ts';

/**
 * An event as the log hands it to the listener and to replaying subscribers: its position,
 * its JSON, built by PostgreSQL, and its digest (db/event-digest.ts). Sending it costs no
 * parse and no stringify (event-frames.ts uses `json` as is); the fields are parsed from
 * `json` only if something reads them; `at`, which every event's publish-delay metric reads,
 * comes as a column of its own. The digest is not part of the event's JSON: it goes out in
 * the tracked id, `resumeId`.
 */
export class LoggedEvent implements OrderEvent {
  #parsed: OrderEvent | undefined;

  constructor(
    readonly id: string,
    readonly json: string,
    readonly digest: string,
    /** The same as in `json`. */
    readonly at: string,
  ) {}

  /** What the subscription tracks, and a client resumes from: the position and the digest. */
  get resumeId(): ResumeId {
    return formatResumeId(this.id, this.digest);
  }

  #event(): OrderEvent {
    return (this.#parsed ??= JSON.parse(this.json) as OrderEvent);
  }

  get type(): OrderEventType {
    return this.#event().type;
  }
  get orderId(): string {
    return this.#event().orderId;
  }
  get order(): Order {
    return this.#event().order;
  }
  get changes(): OrderChanges | undefined {
    return this.#event().changes;
  }
  get actor(): string {
    return this.#event().actor;
  }

  toJSON(): OrderEvent {
    return this.#event();
  }
}

/**
 * The id a subscriber is sent with an event, and resumes from: the position and the digest
 * for an event read from the log (every event the server sends is one); a plain position for
 * an event made elsewhere (unit tests), which resumes as positions always did.
 */
export function resumeIdOf(event: OrderEvent): ResumeId {
  return event instanceof LoggedEvent ? event.resumeId : event.id;
}
