import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';

/** One line of the results table: our figure, the baseline measured in the same run, a target. */
export type Row = {
  scenario: string;
  metric: string;
  unit: string;
  ours: number;
  baseline?: number;
  /** e.g. ">= 60% of baseline"; absent when the figure has no target */
  target?: string;
  pass?: boolean;
  note?: string;
};

export type Report = {
  startedAt: string;
  command: string;
  machine: Record<string, string | number>;
  rows: Row[];
  /** per-scenario raw measurements, for whoever wants more than the table */
  details: Record<string, unknown>;
  failures: string[];
};

function fmt(n: number | undefined, unit: string): string {
  if (n === undefined) return '';
  if (Number.isNaN(n)) return 'n/a';
  const digits = Math.abs(n) >= 100 ? 0 : Math.abs(n) >= 10 ? 1 : 2;
  const s = n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: 0 });
  return unit ? `${s} ${unit}` : s;
}

export function ratio(row: Row): number | undefined {
  if (row.baseline === undefined || row.baseline === 0 || Number.isNaN(row.baseline) || Number.isNaN(row.ours)) return undefined;
  return row.ours / row.baseline;
}

/** The table as Markdown, so the same text goes to the terminal and into BENCHMARKS.md. */
export function renderTable(rows: Row[]): string {
  const header = ['scenario', 'metric', 'ours', 'baseline', 'ratio', 'target', 'result'];
  const lines = rows.map((r) => {
    const q = ratio(r);
    const result = r.pass === undefined ? '' : r.pass ? 'PASS' : 'MISS';
    return [
      r.scenario,
      r.note ? `${r.metric} (${r.note})` : r.metric,
      fmt(r.ours, r.unit),
      fmt(r.baseline, r.unit),
      q === undefined ? '' : `${q.toFixed(2)}x`,
      r.target ?? '',
      result,
    ];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const row = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  return [row(header), `| ${widths.map((w) => '-'.repeat(w)).join(' | ')} |`, ...lines.map(row)].join('\n');
}

export async function writeReport(root: string, report: Report): Promise<string> {
  const dir = path.join(root, '.bench');
  await mkdir(dir, { recursive: true });
  const file = path.join(dir, 'results.json');
  await writeFile(file, `${JSON.stringify(report, null, 2)}\n`);
  return file;
}
