import { For, Show } from 'solid-js';
import { formatTime } from '../lib/format-time.ts';
import type { Feed } from '../stores/feed.ts';

/** The last few changes as they arrive; a screen reader hears each new one. */
export function ActivityFeed(props: { feed: Feed; onShowHistory: (orderId: string) => void }) {
  return (
    <section class="card feed" aria-labelledby="feed-title">
      <h2 id="feed-title">Activity</h2>
      <Show when={props.feed.entries().length === 0}>
        <p class="muted">Changes appear here as they happen.</p>
      </Show>
      <ol class="feed__list" aria-live="polite" aria-relevant="additions" data-testid="activity-feed">
        <For each={props.feed.entries()}>
          {(entry) => (
            <li class="feed__item" data-type={entry.type}>
              <span class="feed__marker" aria-hidden="true" />
              <div class="feed__body">
              <button type="button" class="link" onClick={() => props.onShowHistory(entry.orderId)} aria-label={`${entry.text}, show history`}>
                {entry.text}
              </button>
              <time class="feed__time" datetime={entry.at}>
                {formatTime(entry.at)}
              </time>
              </div>
            </li>
          )}
        </For>
      </ol>
    </section>
  );
}
