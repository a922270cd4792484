import type { TRPCClient } from '@trpc/client';
import type { AppRouter } from './app-router.ts';
import type { EventFilter, OrderEvent } from '../../../shared/orders.ts';

/** What one subscription to `orders.onChange` reports. */
export type ChangeStreamHandlers = {
  /** The server acknowledged the subscription: events flow from here. */
  started(): void;
  /** The transport lost its connection; it reconnects by itself and resumes from the last id. */
  dropped(error: unknown): void;
  /** One change, with its id exactly as the server sent it (opaque: resume with it as is). */
  change(id: string, event: OrderEvent): void;
  /** The subscription ended with an error, or (which the server never does) without one. */
  failed(error: unknown): void;
};

/**
 * `orders.onChange` after `from` (null: at the live end), with each callback passed on only
 * while `isCurrent()` holds. Returns the function that ends the subscription.
 */
export function openChangeStream(
  api: TRPCClient<AppRouter>,
  from: string | null,
  filter: EventFilter | undefined,
  isCurrent: () => boolean,
  on: ChangeStreamHandlers,
): () => void {
  const subscription = api.orders.onChange.subscribe(
    { lastEventId: from, ...filter },
    {
      onStarted: () => {
        if (isCurrent()) on.started();
      },
      onConnectionStateChange: (state) => {
        if (isCurrent() && state.state === 'connecting') on.dropped(state.error);
      },
      onData: ({ id, data }) => {
        if (isCurrent()) on.change(id, data);
      },
      onError: (err) => {
        if (isCurrent()) on.failed(err);
      },
      // The server never ends the stream on its own; if it does, resume like after a drop.
      onComplete: () => {
        if (isCurrent()) on.failed(new Error('the server ended the subscription'));
      },
    },
  );
  return () => subscription.unsubscribe();
}
