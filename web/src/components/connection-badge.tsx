import { Show } from 'solid-js';
import type { Connection } from '../stores/connection.ts';

const LABELS = {
  connecting: 'Connecting…',
  live: 'Live',
  reconnecting: 'Reconnecting…',
  offline: 'Offline',
} as const;

/** Whether the page is receiving changes right now, announced politely when it changes. */
export function ConnectionBadge(props: { connection: Connection }) {
  const caughtUp = () => props.connection.caughtUp();
  return (
    <div class="connection" role="status" aria-live="polite" data-testid="connection">
      <span class="connection__badge" data-state={props.connection.status()} data-testid="connection-status">
        <span class="connection__dot" aria-hidden="true" />
        {LABELS[props.connection.status()]}
      </span>
      <Show when={caughtUp() !== null && props.connection.status() === 'live'}>
        <span class="connection__note" data-testid="caught-up">
          Caught up {caughtUp()} missed {caughtUp() === 1 ? 'change' : 'changes'}
        </span>
      </Show>
    </div>
  );
}
