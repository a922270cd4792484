import { createEffect, createSignal, on, onCleanup, Show } from 'solid-js';
import type { Order } from '../../shared/orders.ts';
import type { OrderStatus } from '../../shared/order-status.ts';
import { ActivityFeed } from './components/activity-feed.tsx';
import { ConfirmDelete } from './components/confirm-delete.tsx';
import { ConnectionBadge } from './components/connection-badge.tsx';
import { CreateOrderForm } from './components/create-order-form.tsx';
import { FlowChart } from './components/flow-chart.tsx';
import { HistoryDialog } from './components/history-dialog.tsx';
import { SignIn } from './components/sign-in.tsx';
import { OrdersTable } from './components/orders-table.tsx';
import type { RowActions } from './components/order-row.tsx';
import { StatusCountTiles } from './components/status-counts.tsx';
import { TimeTravelBar } from './components/time-travel-bar.tsx';
import { createOnce } from './lib/create-once.ts';
import { isForbidden, isUnauthorized, toUserError } from './lib/errors.ts';
import { createAccess } from './stores/access.ts';
import { createFeed } from './stores/feed.ts';
import { createFlow } from './stores/flow.ts';
import { createIdentity } from './stores/identity.ts';
import { startLiveSync } from './stores/live-sync.ts';
import { createOrderView } from './stores/order-view.ts';
import { createOrdersStore } from './stores/orders.ts';
import { createPastFlow } from './stores/past-flow.ts';
import { createTimeTravel } from './stores/time-travel.ts';

export function App() {
  const store = createOrdersStore();
  const feed = createFeed();
  const access = createAccess();
  const identity = createIdentity();
  const api = () => sync.api();
  const flow = createFlow(api);
  const sync = startLiveSync(store, feed, access, [flow]);
  const pastFlow = createPastFlow(api, flow.scale);
  const travel = createTimeTravel(api, {
    landed: (position, at) => void pastFlow.load(position, at),
    stepped: (event) => pastFlow.stepped(event),
    steppedBack: (position, at) => pastFlow.steppedBack(position, at),
    left: () => pastFlow.clear(),
  });
  // In the past, the table, counts and chart show the moment picked; the live copy, its
  // subscription and the live figures keep going underneath, so nothing is missed meanwhile.
  const inPast = () => travel.state().kind === 'past';
  const view = createOrderView(() => (inPast() ? travel.orders() : store.orders()));
  const table = {
    loaded: () => inPast() || store.loaded(),
    mark: (id: string) => {
      if (!inPast()) return store.mark(id);
      const s = travel.state();
      return s.kind === 'past' && s.last?.orderId === id ? 'updated' : undefined;
    },
  };
  // Live: the client library's counts (taken with its snapshot, moved by each change after it),
  // set in the same batch as the rows they count.
  // Another span picked while in the past: that window, counted up to the moment shown.
  createEffect(
    on(flow.scale, () => {
      const s = travel.state();
      if (s.kind === 'past') void pastFlow.load(s.position, s.at);
    }, { defer: true }),
  );
  const pastChart = () => inPast() && pastFlow.state() !== 'marked';
  const shownCounts = () => (inPast() ? travel.counts : (store.live()?.counts()?.counts ?? null));
  const connection = {
    state: () => store.live()?.state() ?? 'connecting',
    transport: () => store.live()?.transport() ?? 'websocket',
    caughtUp: () => store.live()?.caughtUp() ?? null,
  };

  // Leaving now would lose a change the server has not confirmed yet: the browser asks first.
  const warnBeforeLeaving = (e: BeforeUnloadEvent) => {
    if (store.pending.count() === 0) return;
    e.preventDefault();
    e.returnValue = ''; // older browsers ask only when this is set
  };
  window.addEventListener('beforeunload', warnBeforeLeaving);
  onCleanup(() => window.removeEventListener('beforeunload', warnBeforeLeaving));

  const [notice, setNotice] = createSignal<string | null>(null);
  const [deleting, setDeleting] = createSignal<Order | null>(null);
  const [historyOf, setHistoryOf] = createSignal<string | null>(null);

  /** A refused change teaches the page what the token may do. */
  const noteRefusal = (err: unknown) => {
    if (isForbidden(err)) access.forbidden();
    else if (isUnauthorized(err)) {
      setDeleting(null);
      setHistoryOf(null);
      sync.refused();
    }
  };
  const signOut = async () => {
    if (identity.session()) await identity.signOut();
    return switchToken(null);
  };
  const switchToken = (token: string | null) => {
    setNotice(null);
    setDeleting(null);
    setHistoryOf(null);
    travel.returnToLive();
    return sync.switchToken(token);
  };

  const actions: RowActions = {
    async changeStatus(order, status: OrderStatus) {
      setNotice(null);
      try {
        // Shown at once, pending until its event arrives. expectedVersion: if someone changed
        // the order since this row was drawn, the server refuses (CONFLICT) rather than
        // overwriting their change unseen, and the row goes back.
        await store.pending.update(order, { status }, () => sync.api().orders.update.mutate({ id: order.id, status, expectedVersion: order.version }));
        return true;
      } catch (err) {
        noteRefusal(err);
        setNotice(`Order ${order.id} was not changed: ${toUserError(err).message}`);
        return false;
      }
    },
    askDelete: (order) => setDeleting(order),
    showHistory: (orderId) => setHistoryOf(orderId),
  };

  /** The row is struck through at once; it goes when the delete's event arrives, or comes back with the server's reason. */
  const confirmDelete = async (order: Order) => {
    setDeleting(null);
    setNotice(null);
    try {
      await store.pending.remove(order, () => sync.api().orders.delete.mutate({ id: order.id, expectedVersion: order.version }));
    } catch (err) {
      noteRefusal(err);
      setNotice(`Order ${order.id} was not deleted: ${toUserError(err).message}`);
    }
    return null;
  };
  const resynced = () => store.live()?.resynced() ?? null;

  return (
    <>
      <header class="topbar">
        <div class="topbar__inner">
          <div>
            <h1 class="brand">
              <span class="brand__mark" aria-hidden="true">◆</span> Live orders
            </h1>
            <p class="tagline">Every change appears here the moment it is saved, from this page, the API or SQL.</p>
          </div>
          <div class="topbar__side">
            <Show when={!access.signInNeeded()}>
              <ConnectionBadge connection={connection} />
            </Show>
            <Show when={identity.session() && !access.signInNeeded()}>
              <span class="muted" data-testid="signed-in-as">
                {identity.session()!.name}
              </span>
            </Show>
            <Show when={access.token() || (identity.session() && !access.signInNeeded())}>
              <button type="button" class="button button--small" data-testid="sign-out" onClick={() => void signOut()}>
                Sign out
              </button>
            </Show>
          </div>
        </div>
      </header>
      <Show
        when={!access.signInNeeded()}
        fallback={
          <main class="layout layout--narrow">
            <SignIn rejected={access.rejected()} provider={identity.provider()} onSignIn={(token) => switchToken(token)} />
          </main>
        }
      >
        <main class="layout">
          <div class="layout__main">
            <Show when={notice()}>
              <div class="notice" role="alert" data-testid="notice">
                <span>{notice()}</span>
                <button type="button" class="button button--small" onClick={() => setNotice(null)}>
                  Dismiss
                </button>
              </div>
            </Show>
            <Show when={sync.error()}>
              <div class="notice" role="alert" data-testid="sync-error">
                <span>{sync.error()}</span>
              </div>
            </Show>
            <Show when={resynced()}>
              <div class="notice notice--info" role="status" data-testid="resynced">
                <span>
                  Resynced: the server no longer had every change since this page last saw one, so the orders were loaded afresh. What you see is
                  current.
                </span>
                <button type="button" class="button button--small" onClick={() => store.live()?.dismissResync()}>
                  Dismiss
                </button>
              </div>
            </Show>
            <StatusCountTiles
              counts={shownCounts()}
              selected={view.status()}
              onSelect={(status) => view.setStatus(status)}
              label={inPast() ? 'Orders per status at the moment shown' : 'Orders per status, live'}
            />
            <TimeTravelBar travel={travel} />
            <FlowChart
              flow={pastChart() ? pastFlow.series : flow.value}
              ready={pastChart() ? pastFlow.state() !== 'loading' : flow.position() !== null}
              scale={flow.scale()}
              onScale={flow.setScale}
              past={pastChart() ? pastFlow.state() : null}
              marker={(() => {
                const s = travel.state();
                return s.kind === 'past' && s.at && !pastChart() ? Date.parse(s.at) : null;
              })()}
            />
            <Show when={!inPast()}>
              <CreateOrderForm
                readOnly={access.readOnly()}
                onRefused={noteRefusal}
                create={(input) => store.pending.create(input, () => createOnce((keyed) => sync.api().orders.create.mutate(keyed), input))}
              />
            </Show>
            <OrdersTable store={table} view={view} actions={actions} readOnly={access.readOnly() || inPast()} past={inPast()} />
          </div>
          <aside class="layout__side">
            <ActivityFeed feed={feed} onShowHistory={(id) => setHistoryOf(id)} />
          </aside>
        </main>
      </Show>
      <ConfirmDelete order={deleting()} onCancel={() => setDeleting(null)} onConfirm={confirmDelete} />
      <HistoryDialog
        orderId={historyOf()}
        read={(id) => sync.api().orders.history.query({ id })}
        onClose={() => setHistoryOf(null)}
        shownAt={(() => {
          const s = travel.state();
          return s.kind === 'past' ? s.position : null;
        })()}
        onTravel={(position) => {
          setHistoryOf(null);
          void travel.travel(position);
        }}
      />
    </>
  );
}
