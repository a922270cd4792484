import { positionOf } from '../../../shared/resume-id.ts';

/** How long a filtered stream must be quiet, once the head is known, to count as caught up. */
const QUIET_MS = 300;

/**
 * "Caught up N": after a drop, the changes after the last one seen, up to the log's head as
 * read right after reconnecting. An unfiltered stream is caught up when it reaches that head.
 * A filtered one may never see the head's event (it did not match), so it counts as caught up
 * once the replay has gone quiet.
 */
export class CatchUp {
  count = 0;
  #from: bigint;
  #head: bigint | null = null;
  #filtered: boolean;
  #onQuiet: () => void;
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(from: string, filtered: boolean, onQuiet: () => void) {
    this.#from = BigInt(positionOf(from));
    this.#filtered = filtered;
    this.#onQuiet = onQuiet;
  }

  /** Dropped again before catching up: keep counting from the first drop, read the head anew. */
  dropped(): void {
    this.#head = null;
    clearTimeout(this.#timer);
  }

  /** Counts one change; true when that was the last one missed. */
  received(id: string): boolean {
    const p = BigInt(positionOf(id));
    if (p > this.#from && (this.#head === null || p <= this.#head)) this.count++;
    if (this.#head === null) return false;
    if (p >= this.#head) return true;
    this.#waitForQuiet();
    return false;
  }

  /** The log's head after reconnecting; true when everything up to it is already in. */
  headRead(head: string, position: string | null): boolean {
    this.#head = BigInt(positionOf(head));
    if (this.#head <= this.#from || (position !== null && BigInt(positionOf(position)) >= this.#head)) return true;
    this.#waitForQuiet();
    return false;
  }

  dispose(): void {
    clearTimeout(this.#timer);
  }

  #waitForQuiet() {
    if (!this.#filtered) return;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(this.#onQuiet, QUIET_MS);
  }
}
