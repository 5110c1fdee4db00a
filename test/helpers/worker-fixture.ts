// A test database with an app (for signed deliveries), a clinic, and worker factories — shared by
// the worker tests and the handler tests. Registers its own beforeAll/afterAll.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll } from 'vitest';
import { bookAppointment } from '../../src/booking/service.js';
import { type Config, loadConfig } from '../../src/config.js';
import { createPool, type Pool } from '../../src/db/pool.js';
import { tenantContext } from '../../src/http/auth.js';
import { createLogger } from '../../src/observability/logger.js';
import { QueueWorker } from '../../src/queue/worker.js';
import { webhookKind } from '../../src/webhooks/queue-kind.js';
import { buildTestApp, type TestApp } from './app.js';
import { createTestDatabase, sql, type TestDatabase } from './db.js';
import { type ClinicFixture, createClinic, createSlot, type SlotOptions } from './fixtures.js';
import { WEBHOOK_ENV } from './webhooks.js';

export interface WorkerFixture {
  db: TestDatabase;
  t: TestApp;
  clinic: ClinicFixture;
  config: Config;
  /** The workers' pool: pipelined, as `carebook worker`'s. */
  workerPool: Pool;
  /** A webhooks worker with deterministic backoff (full jitter fixed at 1), stopped after the file. */
  worker(overrides?: Partial<Config['worker']>, id?: string): QueueWorker;
  /** An event's state, with the backoff it was given (seconds from last attempt to next). */
  event(
    eventId: string,
  ): Promise<
    | { status: string; attempts: number; error: string | null; note: string | null; delay: number | null }
    | undefined
  >;
  makeDue(eventId: string): Promise<unknown>;
  /** A booking of a new priced slot (pending_payment with a pending payment). */
  pendingBooking(
    patient?: number,
    options?: Pick<SlotOptions, 'visitType' | 'startsInMinutes' | 'priceCents' | 'currency'>,
    where?: ClinicFixture,
  ): Promise<{ slot: string; appointment: { id: string }; payment: { id: string } }>;
  statusOf(appointmentId: string): Promise<{ appointment: string; payment: string } | undefined>;
}

/** A database, an app and workers for webhook tests; `env` adds to WEBHOOK_ENV (further accounts' secrets). */
export function useWorkerFixture(env: Record<string, string> = {}): WorkerFixture {
  const workers: QueueWorker[] = [];
  const f = {
    config: loadConfig({ ...WEBHOOK_ENV, ...env, CAREBOOK_JWT_SECRET: 'x'.repeat(40) }),
  } as WorkerFixture;

  beforeAll(async () => {
    f.db = await createTestDatabase();
    f.workerPool = createPool(f.db.url, { max: 20, pipeline: true });
    f.t = await buildTestApp(f.db, { ...WEBHOOK_ENV, ...env });
    f.clinic = await createClinic(f.db.pool, { patients: 3, phonePrefix: '+1555020' });
  });
  afterAll(async () => {
    await Promise.all(workers.map((worker) => worker.stop()));
    await f.workerPool.end();
    await f.t.close();
    await f.db.drop();
  });

  f.worker = (overrides = {}, id) => {
    const created = new QueueWorker({
      pool: f.workerPool,
      listenUrl: f.db.url,
      logger: createLogger('silent'),
      metrics: f.t.metrics,
      kinds: [
        webhookKind(
          { ...f.config.worker, ...overrides },
          f.t.metrics,
          f.config.outbound.reminderOffsetsSeconds,
        ),
      ],
      workerId: id,
      jitter: 1,
      pollMs: 50,
    });
    workers.push(created);
    return created;
  };
  f.event = async (eventId) =>
    (
      await sql<{
        status: string;
        attempts: number;
        error: string | null;
        note: string | null;
        delay: number | null;
      }>(
        f.db.pool,
        `SELECT status, attempts, error, note, extract(epoch FROM next_attempt_at - last_attempt_at)::float AS delay
           FROM webhook_events WHERE event_id = $1`,
        [eventId],
      )
    )[0];
  f.makeDue = (eventId) =>
    f.db.pool.query(`UPDATE webhook_events SET next_attempt_at = now() WHERE event_id = $1`, [eventId]);
  f.pendingBooking = async (patient = 0, options = {}, where = f.clinic) => {
    const slot = await createSlot(f.db.pool, where, { priceCents: 5000, currency: 'USD', ...options });
    const context = tenantContext({
      sub: `p${patient}`,
      role: 'patient',
      clinicId: where.clinicId,
      patientId: where.patientIds[patient] ?? null,
    });
    const booked = await bookAppointment(
      { pool: f.db.pool, metrics: f.t.metrics, holdMinutes: 15 },
      context,
      {
        slotId: slot,
        patientId: where.patientIds[patient] ?? '',
        idempotencyKey: randomUUID(),
      },
    );
    return { slot, appointment: booked.body.appointment, payment: booked.body.payment! };
  };
  f.statusOf = async (appointmentId) =>
    (
      await sql<{ appointment: string; payment: string }>(
        f.db.pool,
        'SELECT a.status AS appointment, p.status AS payment FROM appointments a JOIN payments p ON p.appointment_id = a.id WHERE a.id = $1',
        [appointmentId],
      )
    )[0];
  return f;
}
