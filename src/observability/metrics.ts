// Prometheus metrics (prom-client). Labels carry outcomes and provider names only — never ids,
// names, phone numbers or anything else about a patient.
import client from 'prom-client';

export interface Metrics {
  registry: client.Registry;
  bookingAttempts: client.Counter<'outcome'>;
  bookingConflicts: client.Counter;
  bookingDuration: client.Histogram<'outcome'>;
  holdsExpired: client.Counter;
}

/** One registry per app instance (tests build several apps in one process). */
export function createMetrics(): Metrics {
  const registry = new client.Registry();
  client.collectDefaultMetrics({ register: registry, prefix: 'carebook_' });
  return {
    registry,
    bookingAttempts: new client.Counter({
      name: 'booking_attempts_total',
      help: 'Booking requests by outcome: created, replayed, or the error code.',
      labelNames: ['outcome'],
      registers: [registry],
    }),
    bookingConflicts: new client.Counter({
      name: 'booking_conflicts_total',
      help: 'Booking attempts refused because the slot was taken (409 slot_unavailable).',
      registers: [registry],
    }),
    bookingDuration: new client.Histogram({
      name: 'booking_duration_seconds',
      help: 'Time to settle a booking request in the database, by outcome.',
      labelNames: ['outcome'],
      buckets: [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
    holdsExpired: new client.Counter({
      name: 'booking_holds_expired_total',
      help: 'Unpaid holds expired by the sweeper (slot freed).',
      registers: [registry],
    }),
  };
}
