import { createEffect, createMemo, createSignal, For, onCleanup, onMount, Show } from 'solid-js';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { FLOW_KINDS, type FlowKind } from '../../../shared/order-flow.ts';
import { FLOW_SCALE_LABELS, type FlowScale, type FlowSeries } from '../stores/flow.ts';
import type { PastFlowState } from '../stores/past-flow.ts';

const LABELS: Record<FlowKind, string> = { created: 'Created', shipped: 'Shipped', delivered: 'Delivered', cancelled: 'Cancelled' };
// The same hues as the status pills, a step stronger so a 2 px line reads on white.
const COLOURS: Record<FlowKind, string> = { created: '#3d4fd8', shipped: '#0f7fae', delivered: '#1b7a45', cancelled: '#c0344a' };

const minuteFormat = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
const hourFormat = new Intl.DateTimeFormat(undefined, { weekday: 'short', hour: '2-digit', minute: '2-digit' });
const count = new Intl.NumberFormat();
const REDRAW_MS = 250;

type Bucket = { start: number } & Record<FlowKind, number>;

/**
 * Orders created, shipped, delivered and cancelled per minute over the last hour, or per hour
 * over the last day, drawn with uPlot (canvas: a redraw of four 60-point series costs well
 * under a millisecond, so live changes can repaint it every frame). The canvas is hidden from
 * screen readers; they read the summary and the table of busy buckets, which also show the
 * exact numbers to anyone who wants them.
 */
export function FlowChart(props: {
  flow: FlowSeries;
  ready: boolean;
  scale: FlowScale;
  onScale: (scale: FlowScale) => void;
  /** A moment to mark (ms since the epoch): the board shown is as it was then; what came after is dimmed. */
  marker?: number | null;
  /** The window shown ends at a past moment (past-flow.ts): 'partial' when the log's start is pruned inside it. */
  past?: PastFlowState | null;
}) {
  let box!: HTMLDivElement;
  let chart: uPlot | undefined;
  let frame = 0;
  /** The bucket under the pointer, if any: the summary shows its numbers instead of the totals. */
  const [hovered, setHovered] = createSignal<number | null>(null);

  const buckets = createMemo<Bucket[]>(() => {
    const { start, bucketMs } = props.flow;
    return props.flow.created.map((_, i) => ({
      start: start + i * bucketMs,
      created: props.flow.created[i] ?? 0,
      shipped: props.flow.shipped[i] ?? 0,
      delivered: props.flow.delivered[i] ?? 0,
      cancelled: props.flow.cancelled[i] ?? 0,
    }));
  });
  const totals = createMemo(() => Object.fromEntries(FLOW_KINDS.map((k) => [k, buckets().reduce((sum, b) => sum + b[k], 0)])) as Record<FlowKind, number>);
  const pointed = () => {
    const i = hovered();
    return i === null ? null : (buckets()[i] ?? null);
  };
  const shown = (k: FlowKind) => pointed()?.[k] ?? totals()[k];
  const markerInWindow = () => props.marker != null && props.marker >= props.flow.start;
  const busy = createMemo(() => buckets().filter((b) => FLOW_KINDS.some((k) => b[k] > 0)).reverse());
  const label = (start: number) => (props.scale === 'minute' ? minuteFormat : hourFormat).format(start);

  const data = (): uPlot.AlignedData => [buckets().map((b) => b.start / 1000), ...FLOW_KINDS.map((k) => buckets().map((b) => b[k]))];

  onMount(() => {
    // A chart drawn small: the pointer's bucket (below) and the summary stand in for a legend.
    const options: uPlot.Options = {
      width: Math.max(box.clientWidth, 200),
      height: box.clientWidth < 500 ? 180 : 220,
      padding: [12, 24, 0, 0],
      cursor: { drag: { x: false, y: false }, points: { size: 7 } },
      // The summary above the chart is its legend, and shows the bucket under the pointer.
      legend: { show: false },
      hooks: {
        setCursor: [(u) => setHovered(u.cursor.idx ?? null)],
        draw: [drawMarker],
      },
      scales: { y: { range: (_u, _min, max) => [0, Math.max(4, Math.ceil(max * 1.15))] } },
      axes: [
        { stroke: '#5b6178', grid: { stroke: '#eef0f4', width: 1 }, ticks: { show: false }, font: '12px system-ui, sans-serif' },
        { stroke: '#5b6178', grid: { stroke: '#eef0f4', width: 1 }, ticks: { show: false }, size: 40, font: '12px system-ui, sans-serif', incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000] },
      ],
      series: [
        {},
        // New orders as soft bars across their bucket; what happened to orders as steps over
        // them, level across each bucket: a count per minute has no value between minutes, and
        // a smoothed curve would draw humps and dips that never happened.
        ...FLOW_KINDS.map((k) =>
          k === 'created'
            ? { label: LABELS[k], stroke: 'rgba(61, 79, 216, 0.35)', fill: 'rgba(61, 79, 216, 0.16)', width: 0, paths: uPlot.paths.bars!({ size: [0.7, 40], align: 1 }), points: { show: false } }
            : { label: LABELS[k], stroke: COLOURS[k], width: 2, paths: uPlot.paths.stepped!({ align: 1 }), points: { show: false } },
        ),
      ],
    };
    chart = new uPlot(options, data(), box);
    const resize = new ResizeObserver(() => chart?.setSize({ width: Math.max(box.clientWidth, 200), height: box.clientWidth < 500 ? 180 : 220 }));
    resize.observe(box);
    onCleanup(() => {
      resize.disconnect();
      cancelAnimationFrame(frame);
      chart?.destroy();
      chart = undefined;
    });
  });

  /** The marked moment: a line, and what came after it under a veil. */
  function drawMarker(u: uPlot) {
    const at = props.marker;
    if (at == null) return;
    const x = Math.round(u.valToPos(at / 1000, 'x', true));
    const { left, top, width, height } = u.bbox;
    if (x < left || x > left + width) return;
    const ctx = u.ctx;
    ctx.save();
    ctx.fillStyle = 'rgba(244, 245, 248, 0.75)';
    ctx.fillRect(x, top, left + width - x, height);
    ctx.strokeStyle = '#9a5b00';
    ctx.lineWidth = 2 * devicePixelRatio;
    ctx.beginPath();
    ctx.moveTo(x, top);
    ctx.lineTo(x, top + height);
    ctx.stroke();
    ctx.restore();
  }

  createEffect(() => {
    void props.marker;
    chart?.redraw(false);
  });

  // Live changes come in bursts: the chart repaints at most every REDRAW_MS, in a frame. A
  // redraw is mostly its axes' text (measured: fillText was most of the chart's time with 50
  // changes a second); a bucket's bar growing four times a second reads as live all the same.
  let latest: uPlot.AlignedData | null = null;
  let timer: ReturnType<typeof setTimeout> | undefined;
  createEffect(() => {
    latest = data();
    if (timer !== undefined) return;
    timer = setTimeout(() => {
      timer = undefined;
      frame = requestAnimationFrame(() => latest && chart?.setData(latest));
    }, REDRAW_MS);
  });
  onCleanup(() => clearTimeout(timer));

  return (
    <section class="card flow" aria-labelledby="flow-title" data-testid="flow">
      <div class="flow__head">
        <h2 id="flow-title">Flow</h2>
        <div class="segmented" role="group" aria-label="Time span">
          <For each={Object.keys(FLOW_SCALE_LABELS) as FlowScale[]}>
            {(scale) => (
              <button type="button" class="segmented__button" aria-pressed={props.scale === scale} onClick={() => props.onScale(scale)}>
                {FLOW_SCALE_LABELS[scale]}
              </button>
            )}
          </For>
        </div>
      </div>
      <p class="flow__summary" data-testid="flow-summary">
        <Show when={props.ready} fallback={<span class="muted">Loading the flow…</span>}>
          <Show when={pointed()}>{(b) => <span class="flow__when">{label(b().start)}</span>}</Show>
          <For each={FLOW_KINDS}>
            {(k) => (
              <span class="flow__total" data-kind={k}>
                <span class="flow__swatch" aria-hidden="true" />
                <strong>{count.format(shown(k))}</strong> {LABELS[k].toLowerCase()}
              </span>
            )}
          </For>
          <Show
            when={props.past && props.past !== 'marked'}
            fallback={<span class="visually-hidden">, {props.scale === 'minute' ? 'in the last hour' : 'in the last day'}.</span>}
          >
            <span class="flow__marker-note">
              in the {props.scale === 'minute' ? 'hour' : 'day'} up to the moment shown
              {props.past === 'partial' ? ' (the log’s older changes are pruned)' : ''}
            </span>
          </Show>
          <Show when={props.marker != null}>
            <span class="flow__marker-note">
              {markerInWindow() ? '│ the moment shown' : `The moment shown is before ${props.scale === 'minute' ? 'this hour' : 'this day'}`}
            </span>
          </Show>
        </Show>
      </p>
      <div class="flow__chart" ref={box} aria-hidden="true" />
      <details class="flow__numbers">
        <summary>Numbers per {props.scale}</summary>
        <Show when={busy().length > 0} fallback={<p class="muted">No orders moved {props.scale === 'minute' ? 'in the last hour' : 'in the last day'}.</p>}>
          <table class="flow-table" data-testid="flow-table">
            <caption class="visually-hidden">Orders per {props.scale}, the busy ones, newest first</caption>
            <thead>
              <tr>
                <th scope="col">{props.scale === 'minute' ? 'Minute' : 'Hour'}</th>
                <For each={FLOW_KINDS}>{(k) => <th scope="col" class="num">{LABELS[k]}</th>}</For>
              </tr>
            </thead>
            <tbody>
              <For each={busy()}>
                {(b) => (
                  <tr data-start={new Date(b.start).toISOString()}>
                    <th scope="row">
                      <time datetime={new Date(b.start).toISOString()}>{label(b.start)}</time>
                    </th>
                    <For each={FLOW_KINDS}>{(k) => <td class="num" data-kind={k}>{b[k]}</td>}</For>
                  </tr>
                )}
              </For>
            </tbody>
          </table>
        </Show>
      </details>
    </section>
  );
}
