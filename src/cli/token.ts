// carebook token — prints a development bearer token (HS256, CAREBOOK_JWT_SECRET or the secret
// `npm start` generated in the data directory).
import { parseArgs } from 'node:util';
import { loadConfig } from '../config.js';
import { APP_ROLES, type AppRole, isUuid } from '../db/tenant.js';
import { signToken } from '../http/auth.js';
import { devJwtSecret } from './secrets.js';

const USAGE = `usage: carebook token --role <${APP_ROLES.join('|')}> [--clinic-id UUID] [--patient-id UUID] [--sub ID] [--ttl 12h]
  patient, staff and clinic_admin tokens need --clinic-id; patient tokens need --patient-id.`;

export async function run(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      role: { type: 'string' },
      'clinic-id': { type: 'string' },
      'patient-id': { type: 'string' },
      sub: { type: 'string' },
      ttl: { type: 'string', default: '12h' },
    },
  });
  const role = values.role as AppRole | undefined;
  const clinicId = values['clinic-id'] ?? null;
  const patientId = values['patient-id'] ?? null;
  const problem =
    !role || !APP_ROLES.includes(role)
      ? '--role is required'
      : clinicId !== null && !isUuid(clinicId)
        ? '--clinic-id must be a uuid'
        : patientId !== null && !isUuid(patientId)
          ? '--patient-id must be a uuid'
          : role !== 'platform_admin' && role !== 'service' && clinicId === null
            ? `a ${role} token needs --clinic-id`
            : role === 'patient' && patientId === null
              ? 'a patient token needs --patient-id'
              : null;
  if (problem || !role) {
    console.error(`carebook: ${problem}\n${USAGE}`);
    return 2;
  }
  const config = loadConfig();
  const secret = config.jwtSecret ?? (await devJwtSecret(config.dataDir, false));
  if (!secret) {
    console.error(
      'carebook: no signing secret: set CAREBOOK_JWT_SECRET, or run `npm start` once to create a development secret',
    );
    return 1;
  }
  const sub = values.sub ?? (role === 'patient' ? `patient-${patientId}` : `${role}-cli`);
  console.log(
    await signToken(
      secret,
      { sub, role, clinic_id: clinicId, patient_id: patientId },
      {
        expiresIn: values.ttl,
        issuer: config.jwtIssuer,
        audience: config.jwtAudience,
      },
    ),
  );
  return 0;
}
