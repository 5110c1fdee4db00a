// The shape of /admin/stats: the dashboard script reads exactly this, stats.ts builds it.
import { type Static, Type } from 'typebox';
import { Timestamp } from '../http/schemas.js';

const Counts = (description: string) => Type.Record(Type.String(), Type.Number(), { description });

export const DashboardStats = Type.Object(
  {
    at: Timestamp,
    booking: Type.Object({
      attempts: Counts('Booking attempts by outcome, in this API process.'),
      conflicts: Type.Number({ description: 'Attempts that lost a slot to another booking (this process).' }),
      latencyMs: Type.Object({
        p50: Type.Union([Type.Number(), Type.Null()]),
        p99: Type.Union([Type.Number(), Type.Null()]),
      }),
      holdsExpired: Type.Number({ description: 'Holds expired by the sweeper in this process.' }),
      activeHolds: Type.Integer({ description: 'Unpaid appointments holding a slot now (database).' }),
      slotsNeedingReview: Type.Integer({
        description: 'Booked slots their schedule no longer wants (never moved automatically): staff decide.',
      }),
    }),
    warnings: Type.Array(Type.String(), {
      description: 'What is not configured here and therefore waits, e.g. outbox kinds without a provider.',
    }),
    queues: Type.Array(
      Type.Object({
        kind: Type.String(),
        pending: Type.Integer(),
        failed: Type.Integer({ description: 'Waiting for a retry after a failure.' }),
        in_flight: Type.Integer(),
        interrupted: Type.Integer({
          description: 'In a batch that did not commit (its worker died); recovered by the next claim.',
        }),
        dead_letter: Type.Integer(),
        needs_reconcile: Type.Integer({
          description: 'Outbox jobs among the failed whose outcome is unknown: looked up before any resend.',
        }),
        oldest_waiting_seconds: Type.Union([Type.Number(), Type.Null()]),
        settled_last_minute: Type.Integer({ description: 'Across every worker.' }),
        failed_last_minute: Type.Integer({ description: 'Across every worker.' }),
      }),
      { description: 'Every queue kind, from the database.' },
    ),
    webhooks: Type.Object({
      received: Type.Record(Type.String(), Counts('By outcome.'), {
        description: 'Webhook requests by provider, then outcome (this process).',
      }),
      handledLastMinute: Counts('Events handled in the last minute by provider, across every worker.'),
      queueDepth: Counts('Events waiting by provider.'),
      oldestPendingSeconds: Counts('Age of the oldest waiting event by provider.'),
      deadLetters: Counts('Dead letters by provider.'),
    }),
  },
  { $id: 'DashboardStats', description: 'Live numbers behind /admin.' },
);
export type DashboardStats = Static<typeof DashboardStats>;

export const OBSERVABILITY_SCHEMAS = [DashboardStats];
