import { createSignal, onMount, Show } from 'solid-js';

/**
 * Asks for an access token when the server requires one. The token is tried at once by
 * loading the orders; `onSignIn` settles when that answer is in.
 */
export function SignIn(props: { rejected: boolean; onSignIn: (token: string) => Promise<void>; provider?: string | null }) {
  const [token, setToken] = createSignal('');
  const [busy, setBusy] = createSignal(false);
  const [empty, setEmpty] = createSignal(false);
  let input!: HTMLInputElement;

  const error = () =>
    empty()
      ? 'Enter your access token.'
      : props.rejected && !busy()
        ? 'That token was not accepted. Check it and try again.'
        : null;

  const submit = async (e: SubmitEvent) => {
    e.preventDefault();
    const value = token().trim();
    setEmpty(value === '');
    if (!value) return input.focus();
    setBusy(true);
    try {
      await props.onSignIn(value);
    } finally {
      setBusy(false);
    }
    // Still here: the token was refused; select it so it can be typed over.
    if (input.isConnected) input.select();
  };

  onMount(() => {
    if (!props.provider) input.focus();
  });

  return (
    <section class="card sign-in" aria-labelledby="sign-in-title" data-testid="sign-in">
      <h2 id="sign-in-title">Sign in</h2>
      <Show when={props.provider}>
        {/* A plain link: the server runs the sign-in with the provider and sets the session cookie. */}
        <p class="sign-in__provider">
          <a class="button button--primary" href="/auth/login" data-testid="sign-in-provider">
            Sign in with {props.provider}
          </a>
        </p>
        <p class="muted">Or use an access token:</p>
      </Show>
      <Show when={!props.provider}>
        <p>This server requires an access token. Ask whoever runs it for one.</p>
      </Show>
      <form onSubmit={submit} noValidate>
        <div class="field" classList={{ 'field--invalid': !!error() }}>
          <label for="sign-in-token">Access token</label>
          <input
            ref={input}
            id="sign-in-token"
            name="token"
            type="password"
            autocomplete="off"
            spellcheck={false}
            value={token()}
            onInput={(e) => {
              setToken(e.currentTarget.value);
              setEmpty(false);
            }}
            aria-invalid={error() ? 'true' : undefined}
            aria-describedby={error() ? 'sign-in-error' : undefined}
          />
        </div>
        <Show when={error()}>
          <p class="form-error" id="sign-in-error" role="alert" data-testid="sign-in-error">
            {error()}
          </p>
        </Show>
        <div class="sign-in__actions">
          <button type="submit" class="button button--primary" disabled={busy()}>
            {busy() ? 'Signing in…' : 'Sign in'}
          </button>
        </div>
        <p class="muted sign-in__note">The token is kept in this tab only, until you sign out or close it.</p>
      </form>
    </section>
  );
}
