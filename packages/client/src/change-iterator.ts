import type { OrderEvent } from '../../../shared/orders.ts';

/** What the iterator needs of a LiveOrders: its changes, and word when it stops for good. */
export type ChangeSource = {
  onChange(listener: (event: OrderEvent) => void): () => void;
  onStopped(listener: () => void): () => void;
  readonly stopped: boolean;
};

/**
 * The changes from now on as an async iterable: queued while the caller is busy, ended when
 * the source stops or the caller breaks out of its loop.
 */
export function iterateChanges(source: ChangeSource): AsyncIterableIterator<OrderEvent> {
  const queue: OrderEvent[] = [];
  let wake: (() => void) | null = null;
  let ended = false;
  const offChange = source.onChange((event) => {
    queue.push(event);
    wake?.();
  });
  const offStopped = source.onStopped(() => wake?.());
  const end = () => {
    ended = true;
    offChange();
    offStopped();
  };
  const iterator: AsyncIterableIterator<OrderEvent> = {
    [Symbol.asyncIterator]: () => iterator,
    next: async () => {
      for (;;) {
        if (queue.length) return { value: queue.shift()!, done: false };
        if (ended || source.stopped) {
          end();
          return { value: undefined, done: true };
        }
        await new Promise<void>((resolve) => (wake = resolve));
        wake = null;
      }
    },
    return: async () => {
      end();
      return { value: undefined, done: true };
    },
  };
  return iterator;
}
