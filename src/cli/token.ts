// carebook token — prints a development bearer token (HS256, CAREBOOK_JWT_SECRET or the secret
// `npm start` generated in the data directory).
import { loadConfig } from '../config.js';
import { TOKEN_ROLES, type TokenRole } from '../db/tenant.js';
import { signToken } from '../http/auth.js';
import { command, duration, Option, parse, usageError, uuid } from './command.js';
import { devJwtSecret } from './secrets.js';

function tokenCommand() {
  return command('token', 'print a development bearer token (HS256, signed with CAREBOOK_JWT_SECRET)')
    .addOption(new Option('--role <role>', 'whose token it is').choices(TOKEN_ROLES).makeOptionMandatory())
    .option('--clinic-id <uuid>', 'the clinic (patient, staff and clinic_admin tokens need it)', uuid)
    .option('--patient-id <uuid>', 'the patient (patient tokens need it)', uuid)
    .option('--sub <id>', 'the subject claim (default: derived from the role)')
    .option('--ttl <duration>', 'how long it is valid, e.g. 30m, 12h or 7d', duration, '12h');
}

interface TokenOptions {
  role: TokenRole;
  clinicId?: string;
  patientId?: string;
  sub?: string;
  ttl: string;
}

export async function run(args: string[]): Promise<number> {
  const definition = tokenCommand();
  const { options } = parse<TokenOptions>(definition, args);
  const { role } = options;
  const clinicId = options.clinicId ?? null;
  const patientId = options.patientId ?? null;
  if (role !== 'platform_admin' && clinicId === null) {
    usageError(definition, `a ${role} token needs --clinic-id`);
  }
  if (role === 'patient' && patientId === null) usageError(definition, 'a patient token needs --patient-id');
  const config = loadConfig();
  const secret = config.jwtSecret ?? (await devJwtSecret(config.dataDir, false));
  if (!secret) {
    console.error(
      'carebook: no signing secret: set CAREBOOK_JWT_SECRET, or run `npm start` once to create a development secret',
    );
    return 1;
  }
  const sub = options.sub ?? (role === 'patient' ? `patient-${patientId}` : `${role}-cli`);
  console.log(
    await signToken(
      secret,
      { sub, role, clinic_id: clinicId, patient_id: patientId },
      {
        expiresIn: options.ttl,
        issuer: config.jwtIssuer,
        audience: config.jwtAudience,
      },
    ),
  );
  return 0;
}
