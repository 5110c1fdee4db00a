// Regenerating many practitioners: the CLI (`carebook slots generate`), the worker's nightly roll
// of the horizon and the demo data. One transaction per practitioner, so a long run holds each
// practitioner's lock only for its own few milliseconds and bookings go on meanwhile.
import { Temporal } from 'temporal-polyfill';
import type { Pool } from '../db/pool.js';
import { type TenantContext, withTenant } from '../db/tenant.js';
import { addSummaries, emptySummary, type GenerationSummary, regeneratePractitioner } from './regenerate.js';
import { listScheduledPractitioners } from './store.js';

export function generatorContext(actor: string): TenantContext {
  return { dbRole: 'carebook_worker', appRole: 'service', userId: actor, actor };
}

export interface GenerateAllOptions {
  clinicId?: string | null;
  /** Only windows starting within the next N days (default: each schedule's horizon). */
  days?: number | null;
  /** Practitioners regenerated at once (each its own transaction and connection). */
  concurrency?: number;
  actor?: string;
  onProgress?: (done: number, total: number) => void;
}

export interface GenerateAllResult extends GenerationSummary {
  practitioners: number;
}

export async function regenerateAll(
  pool: Pool,
  options: GenerateAllOptions = {},
): Promise<GenerateAllResult> {
  const context = generatorContext(options.actor ?? 'slot-generator');
  const ids = await withTenant(pool, context, (client) =>
    listScheduledPractitioners(client, options.clinicId ?? null),
  );
  const now = Temporal.Now.instant();
  const dates = options.days
    ? {
        from: Temporal.PlainDate.from('1970-01-01'),
        to: now.toZonedDateTimeISO('UTC').toPlainDate().add({ days: options.days }),
      }
    : undefined;
  let total = emptySummary();
  let done = 0;
  options.onProgress?.(0, ids.length);
  const queue = [...ids];
  const lane = async () => {
    for (let id = queue.shift(); id !== undefined; id = queue.shift()) {
      const practitionerId = id;
      const summary = await withTenant(pool, context, (client) =>
        regeneratePractitioner(client, practitionerId, { now, ...(dates ? { dates } : {}) }),
      );
      total = addSummaries(total, summary ?? emptySummary());
      done += 1;
      options.onProgress?.(done, ids.length);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, options.concurrency ?? 2) }, lane));
  return { practitioners: ids.length, ...total };
}
