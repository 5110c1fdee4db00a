// Where a measurement's CPU went: this process (Node), the PostgreSQL backends serving the
// measured connections, and the whole machine. CPU time, unlike wall time, hardly changes when
// other work shares the machine, so these figures say which side costs what even on a busy box.
// Linux only (/proc); the backends' figure also needs the server on this machine. Elsewhere the
// figures that cannot be read are null.
import { readFileSync } from 'node:fs';
import type pg from 'pg';

export interface CpuReading {
  process: NodeJS.CpuUsage;
  machineMs: number | null;
  backends: readonly number[];
  backendsMs: number | null;
}

export interface CpuSpent {
  /** CPU time of this process, all threads, in milliseconds. */
  processMs: number;
  /** CPU time of the measured connections' PostgreSQL backends, in milliseconds. */
  databaseMs: number | null;
  /** Busy CPU time of the whole machine (user, nice, system, irq, softirq) in milliseconds. */
  machineMs: number | null;
}

// USER_HZ is 100 on every Linux we run on: a tick of /proc/stat and /proc/<pid>/stat is 10 ms.
const TICK_MS = 10;

function machineBusyMs(): number | null {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0] ?? '';
    const ticks = line.trim().split(/\s+/).slice(1).map(Number);
    const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0] = ticks;
    return (user + nice + system + irq + softirq) * TICK_MS;
  } catch {
    return null;
  }
}

function processCpuMs(pid: number): number | null {
  try {
    // The fields after the command name (which may hold spaces, hence the last ')'): utime and
    // stime are the 12th and 13th.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) * TICK_MS;
  } catch {
    return null;
  }
}

function backendsCpuMs(pids: readonly number[]): number | null {
  if (pids.length === 0) return null;
  let total = 0;
  for (const pid of pids) {
    const ms = processCpuMs(pid);
    if (ms === null) return null;
    total += ms;
  }
  return total;
}

/**
 * Process ids of the client backends whose application_name is one of `applications`, if the
 * server runs on this machine (a local host, and each pid a postgres process here); else none.
 */
export async function localBackends(
  admin: pg.Pool,
  databaseUrl: string,
  applications: readonly string[],
): Promise<number[]> {
  const host = new URL(databaseUrl).hostname;
  if (!['127.0.0.1', 'localhost', '[::1]', '::1', ''].includes(host)) return [];
  const { rows } = await admin.query<{ pid: number }>(
    `SELECT pid FROM pg_stat_activity
      WHERE datname = current_database() AND backend_type = 'client backend' AND application_name = ANY ($1)`,
    [applications],
  );
  const pids = rows.map((row) => row.pid);
  const local = pids.every((pid) => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, 'utf8').startsWith('postgres');
    } catch {
      return false;
    }
  });
  return local ? pids : [];
}

export function readCpu(backends: readonly number[] = []): CpuReading {
  return {
    process: process.cpuUsage(),
    machineMs: machineBusyMs(),
    backends,
    backendsMs: backendsCpuMs(backends),
  };
}

export function cpuSince(start: CpuReading): CpuSpent {
  const used = process.cpuUsage(start.process);
  const machine = machineBusyMs();
  const backends = backendsCpuMs(start.backends);
  return {
    processMs: (used.user + used.system) / 1000,
    databaseMs: backends === null || start.backendsMs === null ? null : backends - start.backendsMs,
    machineMs: machine === null || start.machineMs === null ? null : machine - start.machineMs,
  };
}

/** µs of CPU per item, or null when the figure could not be read or nothing was done. */
export function microsPerItem(ms: number | null, items: number): number | null {
  return ms === null || items === 0 ? null : (ms * 1000) / items;
}
