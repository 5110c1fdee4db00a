// Runs a runbook script from tools/ the way an operator does: a child process with its own
// environment (ours minus DATABASE_URL and the provider secrets, plus what the test passes).
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { bookAppointment } from '../../src/booking/service.js';
import { SECRET_VARIABLES } from '../../src/config.js';
import { tenantContext } from '../../src/http/auth.js';
import { createMetrics } from '../../src/observability/metrics.js';
import { childEnv, ROOT } from '../helpers/cli.js';
import type { TestDatabase } from '../helpers/db.js';
import type { ClinicFixture } from '../helpers/fixtures.js';

export interface ToolResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Provider secrets are unset unless a test passes them: a developer's shell must not leak in. */
const NO_SECRETS = Object.fromEntries(
  Object.keys(process.env)
    .filter(
      (name) =>
        SECRET_VARIABLES.some((prefix) => name.startsWith(prefix)) ||
        /^(CAREBOOK_PUBLIC_URL|CAREBOOK_URL|CAREBOOK_BACKUP_DIR)/.test(name),
    )
    .map((name) => [name, undefined]),
);

export function runTool(
  name: string,
  args: string[],
  env: Record<string, string | undefined> = {},
): Promise<ToolResult> {
  return new Promise((resolve) => {
    execFile(
      path.join(ROOT, 'tools', name),
      args,
      { cwd: ROOT, env: childEnv({ ...NO_SECRETS, ...env }), maxBuffer: 16 * 1024 * 1024, timeout: 110_000 },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === 'number' ? error.code : -1;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** Books a priced slot as the patient (a hold: pending_payment + pending payment); returns the ids. */
export async function bookHold(
  db: TestDatabase,
  clinic: ClinicFixture,
  slotId: string,
  patientIndex = 0,
): Promise<{ appointmentId: string; paymentId: string }> {
  const patientId = clinic.patientIds[patientIndex] ?? '';
  const booked = await bookAppointment(
    { pool: db.pool, metrics: createMetrics(), holdMinutes: 15 },
    tenantContext({ sub: `p${patientIndex}`, role: 'patient', clinicId: clinic.clinicId, patientId }),
    { slotId, patientId, idempotencyKey: randomUUID() },
  );
  if (booked.status !== 201) throw new Error(`booking failed: ${booked.status}`);
  const { appointment, payment } = booked.body;
  if (!payment) throw new Error('the slot has no price: no hold was taken');
  return { appointmentId: appointment.id, paymentId: payment.id };
}
