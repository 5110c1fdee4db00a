// Bulk fixtures for benchmarks, inserted as the connecting superuser (RLS does not apply to it):
// one clinic, one practitioner, patients and future slots with ids derived from a number, so that
// Node loops and pgbench scripts (through the bench.slot_id / bench.patient_id SQL functions) can
// name the same rows without passing lists around. Slots are seeded in batches with
// generate_series as the run consumes them, ten minutes apart so no two overlap: every booking of
// any patient on any fresh slot succeeds.
import { randomUUID } from 'node:crypto';
import pg from 'pg';

const PATIENTS = 1000;
const SLOT_MINUTES = 10;
const SLOT_BATCH_MIN = 2000;
/** A floor for the throughput guess, before anything has been measured. */
const RATE_GUESS = 2500;

const numbered = (prefix: string, n: number) =>
  `${prefix}-0000-4000-8000-${n.toString(16).padStart(12, '0')}`;
export const slotId = (n: number): string => numbered('b0000000', n);
export const patientId = (n: number): string => numbered('a0000000', n);

export interface ServerInfo {
  version: string;
  synchronousCommit: string;
  fsync: string;
}

/** Hands out slot numbers; seeds more rows when asked to make sure enough are free. */
export class SlotSupply {
  private next = 0;
  private seeded = 0;

  constructor(
    private readonly pool: pg.Pool,
    private readonly clinicId: string,
    private readonly practitionerId: string,
  ) {}

  /** The next free slot's number, or null when every seeded slot has been handed out. */
  take(): number | null {
    return this.next < this.seeded ? this.next++ : null;
  }

  /** Seeds slots until at least `count` are free. */
  async ensure(count: number): Promise<void> {
    const missing = this.next + count - this.seeded;
    if (missing <= 0) return;
    const upTo = this.seeded + Math.max(missing, SLOT_BATCH_MIN);
    await this.pool.query(
      `INSERT INTO appointment_slots (id, clinic_id, practitioner_id, starts_at, ends_at, price_cents, currency)
       SELECT bench.slot_id(n), $1, $2,
              date_trunc('hour', now()) + interval '2 days' + n * make_interval(mins => $5),
              date_trunc('hour', now()) + interval '2 days' + (n + 1) * make_interval(mins => $5),
              5000, 'USD'
         FROM generate_series($3::bigint, $4::bigint - 1) AS n`,
      [this.clinicId, this.practitionerId, this.seeded, upTo, SLOT_MINUTES],
    );
    this.seeded = upTo;
  }

  /** Lets SQL take the next free slots with nextval('bench.slot_seq') (pgbench). */
  async handToSequence(): Promise<void> {
    await this.pool.query(`SELECT setval('bench.slot_seq', $1, false)`, [this.next]);
  }

  /** Continues after the last slot SQL took. */
  async takeBackFromSequence(): Promise<void> {
    const result = await this.pool.query<{ last_value: string; is_called: boolean }>(
      'SELECT last_value, is_called FROM bench.slot_seq',
    );
    const row = result.rows[0];
    if (row?.is_called) this.next = Math.max(this.next, Number(row.last_value) + 1);
  }
}

export class BenchDatabase {
  readonly slots: SlotSupply;
  private patientsUsed = 0;
  private peakRate = RATE_GUESS;

  private constructor(
    private readonly pool: pg.Pool,
    readonly clinicId: string,
    practitionerId: string,
  ) {
    this.slots = new SlotSupply(pool, clinicId, practitionerId);
  }

  /** Adds the bench schema, a clinic, its practitioner and patients to a migrated database. */
  static async open(databaseUrl: string): Promise<BenchDatabase> {
    const pool = new pg.Pool({ connectionString: databaseUrl, max: 2 });
    pool.on('error', () => {});
    const clinicId = randomUUID();
    const practitionerId = randomUUID();
    await pool.query(`
      CREATE SCHEMA bench;
      CREATE FUNCTION bench.slot_id(n bigint) RETURNS uuid LANGUAGE sql IMMUTABLE
        AS $$ SELECT ('b0000000-0000-4000-8000-' || lpad(to_hex(n), 12, '0'))::uuid $$;
      CREATE FUNCTION bench.patient_id(n bigint) RETURNS uuid LANGUAGE sql IMMUTABLE
        AS $$ SELECT ('a0000000-0000-4000-8000-' || lpad(to_hex(n), 12, '0'))::uuid $$;
      CREATE SEQUENCE bench.slot_seq MINVALUE 0;
      -- nextval runs after the statement switched to carebook_app, so that role needs the grant.
      GRANT USAGE ON SCHEMA bench TO carebook_app;
      GRANT USAGE ON SEQUENCE bench.slot_seq TO carebook_app;
    `);
    await pool.query('INSERT INTO clinics (id, name, slug) VALUES ($1, $2, $3)', [
      clinicId,
      'Bench Clinic',
      `bench-${clinicId.slice(0, 13)}`,
    ]);
    await pool.query(
      `INSERT INTO users (id, clinic_id, role, full_name, email)
       VALUES ($1, $2, 'practitioner', 'Dr Bench', 'dr-bench@bench.example')`,
      [practitionerId, clinicId],
    );
    await pool.query(
      `INSERT INTO patients (id, clinic_id, full_name)
       SELECT bench.patient_id(i), $1, 'Bench patient ' || i FROM generate_series(0, $2 - 1) AS i`,
      [clinicId, PATIENTS],
    );
    return new BenchDatabase(pool, clinicId, practitionerId);
  }

  /**
   * The number of the first of `count` patients nobody has booked for yet. Each client loop gets
   * its own patient: the per-patient advisory lock of book_appointment would otherwise serialise
   * clients sharing one, which is not the contention we mean to measure.
   */
  allocatePatients(count: number): number {
    if (this.patientsUsed + count > PATIENTS) throw new Error(`more than ${PATIENTS} bench patients needed`);
    const first = this.patientsUsed;
    this.patientsUsed += count;
    return first;
  }

  /** Remembers the highest rate seen, to seed enough slots for the next run. */
  observeRate(rate: number): void {
    if (Number.isFinite(rate)) this.peakRate = Math.max(this.peakRate, rate);
  }

  /** Slots to have free before a run of `seconds`: the peak rate so far with a safety factor. */
  slotsNeeded(seconds: number, factor = 1.5): number {
    return Math.ceil(this.peakRate * factor * seconds) + 100;
  }

  async describeServer(): Promise<ServerInfo> {
    const result = await this.pool.query<ServerInfo>(
      `SELECT split_part(current_setting('server_version'), ' ', 1) AS version,
              current_setting('synchronous_commit') AS "synchronousCommit",
              current_setting('fsync') AS fsync`,
    );
    return result.rows[0] as ServerInfo;
  }

  /** Problems with the booked state: double bookings, or a count other than `expected`. */
  async verify(expected: number): Promise<string[]> {
    const result = await this.pool.query<{ appointments: number; doubled: number; taken: number }>(
      `SELECT (SELECT count(*) FROM appointments)::int AS appointments,
              (SELECT count(*) FROM (SELECT slot_id FROM appointments
                                      WHERE status IN ('pending_payment', 'confirmed')
                                      GROUP BY slot_id HAVING count(*) > 1) AS d)::int AS doubled,
              (SELECT count(*) FROM appointment_slots WHERE NOT is_available)::int AS taken`,
    );
    const row = result.rows[0];
    if (!row) return ['the verification query returned no row'];
    const problems: string[] = [];
    if (row.doubled > 0) problems.push(`${row.doubled} slots hold more than one active appointment`);
    if (row.appointments !== expected) {
      problems.push(`${row.appointments} appointments in the database, but ${expected} bookings succeeded`);
    }
    if (row.taken !== row.appointments) {
      problems.push(`${row.taken} slots are marked taken for ${row.appointments} appointments`);
    }
    return problems;
  }

  close(): Promise<void> {
    return this.pool.end();
  }
}
