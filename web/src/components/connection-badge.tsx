import { Show } from 'solid-js';
import type { ConnectionState, Transport } from 'live-orders-client';

const LABELS = {
  connecting: 'Connecting…',
  live: 'Live',
  reconnecting: 'Reconnecting…',
  offline: 'Offline',
} as const;

export type ConnectionView = {
  state(): ConnectionState;
  transport(): Transport;
  /** Missed changes received after the last reconnect, once all of them are in. */
  caughtUp(): number | null;
};

/** Whether the page is receiving changes right now, announced politely when it changes. */
export function ConnectionBadge(props: { connection: ConnectionView }) {
  const caughtUp = () => props.connection.caughtUp();
  return (
    <div class="connection" role="status" aria-live="polite" data-testid="connection">
      <span
        class="connection__badge"
        data-state={props.connection.state()}
        data-transport={props.connection.transport()}
        title={props.connection.transport() === 'sse' ? 'Live updates over Server-Sent Events (WebSockets are blocked here)' : 'Live updates over WebSocket'}
        data-testid="connection-status"
      >
        <span class="connection__dot" aria-hidden="true" />
        {LABELS[props.connection.state()]}
      </span>
      <Show when={caughtUp() !== null && props.connection.state() === 'live'}>
        <span class="connection__note" data-testid="caught-up">
          Caught up {caughtUp()} missed {caughtUp() === 1 ? 'change' : 'changes'}
        </span>
      </Show>
    </div>
  );
}
