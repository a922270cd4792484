import { createSignal, Show } from 'solid-js';
import type { Order } from '../../shared/orders.ts';
import type { OrderStatus } from '../../shared/order-status.ts';
import { ActivityFeed } from './components/activity-feed.tsx';
import { ConfirmDelete } from './components/confirm-delete.tsx';
import { ConnectionBadge } from './components/connection-badge.tsx';
import { CreateOrderForm } from './components/create-order-form.tsx';
import { HistoryDialog } from './components/history-dialog.tsx';
import { SignIn } from './components/sign-in.tsx';
import { OrdersTable } from './components/orders-table.tsx';
import type { RowActions } from './components/order-row.tsx';
import { isForbidden, isUnauthorized, toUserError } from './lib/errors.ts';
import { trpc } from './lib/trpc.ts';
import { createAccess } from './stores/access.ts';
import { createConnection } from './stores/connection.ts';
import { createFeed } from './stores/feed.ts';
import { startLiveSync } from './stores/live-sync.ts';
import { createOrderView } from './stores/order-view.ts';
import { createOrdersStore } from './stores/orders.ts';

export function App() {
  const store = createOrdersStore();
  const feed = createFeed();
  const connection = createConnection();
  const access = createAccess();
  const sync = startLiveSync(store, feed, connection, access);
  const view = createOrderView(store.orders);

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
  const switchToken = (token: string | null) => {
    setNotice(null);
    setDeleting(null);
    setHistoryOf(null);
    return sync.switchToken(token);
  };

  const actions: RowActions = {
    async changeStatus(order, status: OrderStatus) {
      setNotice(null);
      try {
        // expectedVersion: if someone changed the order since this row was drawn, the
        // server refuses rather than overwriting their change unseen.
        const updated = await trpc.orders.update.mutate({ id: order.id, status, expectedVersion: order.version });
        store.upsert(updated, 'updated');
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

  const confirmDelete = async (order: Order) => {
    try {
      await trpc.orders.delete.mutate({ id: order.id });
      setDeleting(null);
      return null;
    } catch (err) {
      noteRefusal(err);
      return `Order ${order.id} was not deleted: ${toUserError(err).message}`;
    }
  };

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
            <Show when={access.token()}>
              <button type="button" class="button button--small" onClick={() => void switchToken(null)}>
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
            <SignIn rejected={access.rejected()} onSignIn={(token) => switchToken(token)} />
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
            <Show when={store.loadError() ?? sync.error()}>
              <div class="notice" role="alert">
                <span>{store.loadError() ? `Could not load the orders: ${store.loadError()}` : sync.error()}</span>
                <Show when={store.loadError()}>
                  <button type="button" class="button button--small" onClick={() => sync.retry()}>
                    Retry
                  </button>
                </Show>
              </div>
            </Show>
            <CreateOrderForm readOnly={access.readOnly()} onRefused={noteRefusal} onCreated={(order) => store.upsert(order, 'created')} />
            <OrdersTable store={store} view={view} actions={actions} readOnly={access.readOnly()} />
          </div>
          <aside class="layout__side">
            <ActivityFeed feed={feed} onShowHistory={(id) => setHistoryOf(id)} />
          </aside>
        </main>
      </Show>
      <ConfirmDelete order={deleting()} onCancel={() => setDeleting(null)} onConfirm={confirmDelete} />
      <HistoryDialog orderId={historyOf()} onClose={() => setHistoryOf(null)} />
    </>
  );
}
