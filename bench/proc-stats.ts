import { readdirSync, readFileSync } from 'node:fs';

// Linux reports CPU time in clock ticks; 100 per second on every x86-64 kernel we run on.
const TICKS_PER_SECOND = 100;

/** User + system CPU seconds a process has used so far (fields 14 and 15 of /proc/<pid>/stat). */
export function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name may hold spaces and parentheses; fields are counted after its last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
  } catch {
    return Number.NaN;
  }
}

/**
 * Seconds the process's main thread has spent runnable but waiting for a CPU
 * (/proc/<pid>/schedstat, second field, in ns): on a shared machine, how long the scheduler
 * kept the event loop from running although it had work.
 */
export function runQueueSeconds(pid: number): number {
  try {
    return Number(readFileSync(`/proc/${pid}/schedstat`, 'utf8').split(' ')[1]) / 1e9;
  } catch {
    return Number.NaN;
  }
}

/** Resident set size in bytes (VmRSS of /proc/<pid>/status). */
export function rssBytes(pid: number): number {
  try {
    const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

function parentPid(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return -1;
  }
}

/**
 * CPU seconds of our PostgreSQL: the postmaster and its backends, the database's share of
 * the work, reported beside the server's so a reader can tell which side was busy. Other
 * clusters on the machine (tests running beside us) are not counted.
 */
export function postgresCpuSeconds(postmasterPid: number | undefined): number {
  if (postmasterPid === undefined) return Number.NaN;
  let total = cpuSeconds(postmasterPid);
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || parentPid(Number(entry)) !== postmasterPid) continue;
    const s = cpuSeconds(Number(entry));
    if (!Number.isNaN(s)) total += s;
  }
  return total;
}

export type ProcessUsage = {
  /** server CPU over the window, in cores (1.0 = one core busy the whole time) */
  serverCpu: number;
  /** the server's main thread runnable but not running, as a share of the window (0.5: half of it) */
  serverCpuWait: number;
  /** all postgres processes together, in cores */
  databaseCpu: number;
  rssStartMb: number;
  rssMaxMb: number;
  rssEndMb: number;
  seconds: number;
};

/**
 * Samples a process every `intervalMs` (RSS) and measures CPU over the window between
 * creation and `stop()`. Postgres backends that exit within the window take their CPU with
 * them, so `databaseCpu` is a floor; ours keep their connections, so it is close.
 */
export function sampleProcess(pid: number, postmasterPid: number | undefined, intervalMs = 100) {
  const started = performance.now();
  const cpu0 = cpuSeconds(pid);
  const wait0 = runQueueSeconds(pid);
  const db0 = postgresCpuSeconds(postmasterPid);
  const rssStart = rssBytes(pid);
  let rssMax = rssStart;
  const samples: Array<[number, number]> = [[0, rssStart]];
  const timer = setInterval(() => {
    const rss = rssBytes(pid);
    samples.push([Math.round(performance.now() - started), rss]);
    if (rss > rssMax) rssMax = rss;
  }, intervalMs);
  return {
    samples,
    stop(): ProcessUsage {
      clearInterval(timer);
      const seconds = (performance.now() - started) / 1000;
      const rssEnd = rssBytes(pid);
      return {
        serverCpu: (cpuSeconds(pid) - cpu0) / seconds,
        serverCpuWait: (runQueueSeconds(pid) - wait0) / seconds,
        databaseCpu: (postgresCpuSeconds(postmasterPid) - db0) / seconds,
        rssStartMb: rssStart / 2 ** 20,
        rssMaxMb: Math.max(rssMax, rssEnd) / 2 ** 20,
        rssEndMb: rssEnd / 2 ** 20,
        seconds,
      };
    },
  };
}
