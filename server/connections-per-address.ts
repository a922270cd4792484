/**
 * Open long-lived connections (WebSockets and event streams alike) per client address, held
 * under one cap: one client cannot take every socket the server has.
 */
export class ConnectionsPerAddress {
  readonly #open = new Map<string, number>();

  constructor(readonly max: number) {}

  /** What a client over the cap is told. */
  get refusal(): string {
    return `at most ${this.max} WebSockets and event streams per client address`;
  }

  /** Whether `address` may open one more. */
  hasRoom(address: string): boolean {
    return (this.#open.get(address) ?? 0) < this.max;
  }

  /** Counts one more for `address`; call `released` once when it closes. */
  opened(address: string): void {
    this.#open.set(address, (this.#open.get(address) ?? 0) + 1);
  }

  released(address: string): void {
    const left = (this.#open.get(address) ?? 1) - 1;
    if (left > 0) this.#open.set(address, left);
    else this.#open.delete(address);
  }
}
