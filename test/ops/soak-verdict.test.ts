// The soak's verdict (scripts/lib/soak-analysis.ts) on series of samples: `npm run soak` passes
// or fails a real server on these rules, so they must fail a leak, a pool that outgrows its
// maximum and any error — and pass a flat, noisy heap. (`npm run soak -- --canary-leak` shows the
// same on a real process.)
import { describe, expect, it } from 'vitest';
import { heapSlopeMbPerMinute, type SoakSample, soakFailures } from '../../scripts/lib/soak-analysis.js';

const MB = 1024 * 1024;
const series = (heapMb: (minute: number) => number, overrides: Partial<SoakSample> = {}): SoakSample[] =>
  Array.from({ length: 7 }, (_, i) => ({
    at: i * 10,
    heapUsedBytes: heapMb((i * 10) / 60) * MB,
    rssBytes: 130 * MB,
    databaseConnections: 16,
    handles: 36,
    requests: i * 3000,
    ...overrides,
  }));
const clean = { requests: 18_000, errors: 0, non2xx: 0, serverErrors: 0 };
const limits = { poolMax: 20, baselineHandles: 20, finalHandles: 20 };

describe('the soak verdict', () => {
  it('passes a flat heap with GC noise, connections within the pool and no errors', () => {
    const noisy = series((minute) => 34 + 0.3 * Math.sin(minute * 40));
    expect(Math.abs(heapSlopeMbPerMinute(noisy))).toBeLessThan(1);
    expect(soakFailures(noisy, clean, limits)).toEqual([]);
  });

  it('fails a heap that grows 4.7 MB a minute, as the canary leak does', () => {
    const leaking = series((minute) => 34 + 4.7 * minute);
    expect(heapSlopeMbPerMinute(leaking)).toBeCloseTo(4.7, 5);
    expect(soakFailures(leaking, clean, limits)).toEqual([expect.stringMatching(/heap grows 4\.70 MB\/min/)]);
  });

  it('fails a last sample far above the median even when the slope is small', () => {
    const jump = series(() => 34);
    (jump.at(-1) as SoakSample).heapUsedBytes = 40 * MB;
    expect(soakFailures(jump, clean, limits).join()).toMatch(/last heap sample/);
  });

  it('fails more connections than the pool allows, errors, non-2xx, server errors and leaked handles', () => {
    const flat = series(() => 34);
    flat[3] = { ...(flat[3] as SoakSample), databaseConnections: 21 };
    const failures = soakFailures(
      flat,
      { requests: 100, errors: 1, non2xx: 2, serverErrors: 3 },
      { poolMax: 20, baselineHandles: 20, finalHandles: 40 },
    );
    expect(failures).toEqual([
      expect.stringMatching(/21 database connections/),
      expect.stringMatching(/1 request errors/),
      expect.stringMatching(/2 answers were not 2xx/),
      expect.stringMatching(/logged 3 errors/),
      expect.stringMatching(/40 open handles/),
    ]);
  });

  it('fails a run too short to judge, or one that answered nothing', () => {
    expect(soakFailures(series(() => 34).slice(0, 2), { ...clean, requests: 0 }, limits)).toEqual([
      expect.stringMatching(/only 2 samples/),
      expect.stringMatching(/no request/),
    ]);
  });
});
