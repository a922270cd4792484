import type { Order, OrderChanges, OrderEvent, OrderEventType } from '../../shared/orders.ts';

/**
 * An event as the log hands it to a replaying subscriber: its position and its JSON, built by
 * PostgreSQL. Sending it costs no parse and no stringify (event-frames.ts uses `json` as is);
 * the fields are parsed from `json` only if something reads them.
 */
export class LoggedEvent implements OrderEvent {
  #parsed: OrderEvent | undefined;

  constructor(
    readonly id: string,
    readonly json: string,
  ) {}

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
  get at(): string {
    return this.#event().at;
  }

  toJSON(): OrderEvent {
    return this.#event();
  }
}
