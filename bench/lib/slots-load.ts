// What else the machine was doing while bench:slots measured: the 1-minute load average and the
// share of the last 10 s in which some task waited for a CPU (/proc/pressure/cpu). On this shared
// 2-core box other engineers' test suites can take most of the CPU, and a wall-clock figure means
// little without them (docs/ops/schedules.md). Linux only; elsewhere each figure is null.
import { readFileSync } from 'node:fs';

export interface MachineLoad {
  loadAverage: number | null;
  cpuPressurePercent: number | null;
}

function read(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return null;
  }
}

export function machineLoad(): MachineLoad {
  const load = read('/proc/loadavg')?.split(' ')[0];
  const pressure = read('/proc/pressure/cpu')?.match(/^some avg10=([\d.]+)/)?.[1];
  return {
    loadAverage: load === undefined ? null : Number(load),
    cpuPressurePercent: pressure === undefined ? null : Number(pressure),
  };
}

export function loadText(load: MachineLoad): string {
  const average = load.loadAverage === null ? '—' : load.loadAverage.toFixed(2);
  const pressure = load.cpuPressurePercent === null ? '—' : `${Math.round(load.cpuPressurePercent)} %`;
  return `${average} / ${pressure}`;
}
