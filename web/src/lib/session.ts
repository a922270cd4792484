import { createSignal } from 'solid-js';

// The access token lives for this tab only: sessionStorage, never localStorage (it would
// outlive the tab) nor the URL (it would end up in history and server logs).
const TOKEN_KEY = 'live-orders.token';

function readStoredToken(): string | null {
  try {
    return sessionStorage.getItem(TOKEN_KEY) || null;
  } catch {
    return null; // storage disabled: the token lasts until the page is left
  }
}

function storeToken(token: string | null) {
  try {
    if (token) sessionStorage.setItem(TOKEN_KEY, token);
    else sessionStorage.removeItem(TOKEN_KEY);
  } catch {
    // storage disabled: nothing to keep or forget
  }
}

const [token, setTokenSignal] = createSignal<string | null>(readStoredToken());

export const session = {
  /** The access token in use, or null. Read on every request and (re)connect. */
  token,
  /** Uses `next` from now on (null: none). Live updates must be restarted to send it on a new socket. */
  setToken(next: string | null) {
    storeToken(next);
    setTokenSignal(next);
  },
};
