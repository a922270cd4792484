import { createSignal, Match, Show, Switch } from 'solid-js';
import { describeEvent } from 'live-orders-client';
import { formatDateTime } from '../lib/format-time.ts';
import { toUserError } from '../lib/errors.ts';
import type { TimeTravel } from '../stores/time-travel.ts';

/**
 * The way into the past and back: pick a moment (a position in the log, on a slider from the
 * oldest the server keeps to now), then step through the changes after it one at a time, and
 * return to live. While in the past the bar says so plainly, so nobody mistakes it for now.
 */
export function TimeTravelBar(props: { travel: TimeTravel }) {
  const travel = () => props.travel;
  const [open, setOpen] = createSignal(false);
  const [bounds, setBounds] = createSignal<{ oldest: string; head: string } | null>(null);
  const [boundsError, setBoundsError] = createSignal<string | null>(null);
  const [target, setTarget] = createSignal('');
  const [time, setTime] = createSignal('');
  /** Whichever the user set last: a position, or a time of day. */
  const [by, setBy] = createSignal<'position' | 'time'>('position');

  const openPicker = async () => {
    setOpen(true);
    setBoundsError(null);
    try {
      const b = await travel().bounds();
      setBounds(b);
      if (!target()) setTarget(b.head);
    } catch (err) {
      setBoundsError(`Could not read the log’s range: ${toUserError(err).message}`);
    }
  };
  const go = (e?: Event) => {
    e?.preventDefault();
    if (by() === 'time' && time()) {
      const when = new Date(time());
      if (!Number.isNaN(when.getTime())) void travel().travelToTime(when);
      return;
    }
    const position = target().trim();
    if (!/^(0|[1-9][0-9]*)$/.test(position)) return;
    void travel().travel(position);
  };
  const past = () => {
    const s = travel().state();
    return s.kind === 'past' ? s : null;
  };

  return (
    <section class="travel" classList={{ 'travel--past': travel().active() }} aria-label="Time travel" data-testid="time-travel">
      <Switch>
        <Match when={past()}>
          {(s) => (
            <>
              <div class="travel__where" role="status" data-testid="travel-status">
                <span class="travel__badge">Past</span>
                <span>
                  The board as it was at{' '}
                  <strong data-testid="travel-position" data-position={s().position}>
                    position {s().position}
                  </strong>
                  <Show when={s().at}>{(at) => <> · <time datetime={at()}>{formatDateTime(at())}</time></>}</Show>
                </span>
              </div>
              <p class="travel__step muted" aria-live="polite" data-testid="travel-step">
                {s().last ? `Change ${s().steps} after position ${s().start}: ${describeEvent(s().last!)}` : `Step through the changes after position ${s().start}, one at a time.`}
                {s().end ? ' No later change in the log yet.' : ''}
              </p>
              <div class="travel__actions">
                <button type="button" class="button button--small" disabled={s().steps === 0} onClick={() => travel().back()}>
                  ◀ Previous change
                </button>
                <button type="button" class="button button--small" onClick={() => void travel().forward()}>
                  Next change ▶
                </button>
                <button
                  type="button"
                  class="button button--small button--primary"
                  onClick={() => {
                    setOpen(false);
                    travel().returnToLive();
                  }}
                >
                  Back to live
                </button>
              </div>
            </>
          )}
        </Match>
        <Match when={travel().state().kind === 'loading'}>
          <p class="muted" role="status">
            Loading the board at position {(travel().state() as { asOf: string }).asOf}…
          </p>
        </Match>
        <Match when={!open()}>
          <button type="button" class="button button--small travel__open" onClick={() => void openPicker()}>
            ⟲ See the board at an earlier moment
          </button>
        </Match>
        <Match when={open()}>
          <form class="travel__picker" onSubmit={go}>
            <div class="field field--grow">
              <label for="travel-range">Moment (position in the change log)</label>
              <input
                id="travel-range"
                type="range"
                min={bounds()?.oldest ?? '0'}
                max={bounds()?.head ?? '0'}
                step="1"
                value={target() || '0'}
                disabled={!bounds()}
                onInput={(e) => {
                  setTarget(e.currentTarget.value);
                  setBy('position');
                }}
              />
            </div>
            <div class="field travel__position">
              <label for="travel-position">Position</label>
              <input
                id="travel-position"
                inputmode="numeric"
                pattern="[0-9]*"
                value={target()}
                onInput={(e) => {
                  setTarget(e.currentTarget.value);
                  setBy('position');
                }}
              />
            </div>
            <div class="field travel__time">
              <label for="travel-time">or a time</label>
              <input
                id="travel-time"
                type="datetime-local"
                step="1"
                value={time()}
                onInput={(e) => {
                  setTime(e.currentTarget.value);
                  setBy('time');
                }}
              />
            </div>
            <div class="travel__actions">
              <button type="submit" class="button button--small button--primary">
                Go
              </button>
              <button type="button" class="button button--small" onClick={() => setOpen(false)}>
                Cancel
              </button>
            </div>
            <Show when={bounds()}>
              {(b) => (
                <p class="muted travel__hint">
                  The server keeps positions {b().oldest} to {b().head}.
                </p>
              )}
            </Show>
          </form>
        </Match>
      </Switch>
      <Show when={travel().error() ?? boundsError()}>
        {(message) => (
          <div class="notice" role="alert" data-testid="travel-error">
            <span>{message()}</span>
            <button
              type="button"
              class="button button--small"
              onClick={() => {
                travel().dismissError();
                setBoundsError(null);
              }}
            >
              Dismiss
            </button>
          </div>
        )}
      </Show>
    </section>
  );
}
