// Bearer-token authentication: HS256 with CAREBOOK_JWT_SECRET in development, the identity
// provider's JWKS (CAREBOOK_JWKS_URL) in production. A verified token becomes a Principal, and
// a Principal becomes the database context its transactions run in; request bodies never decide
// the tenant.
import { createSecretKey } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { createRemoteJWKSet, type JWTPayload, errors as joseErrors, jwtVerify, SignJWT } from 'jose';
import { type AppRole, isUuid, type TenantContext, TOKEN_ROLES, type TokenRole } from '../db/tenant.js';
import type { FailureLimiter } from './edge.js';
import { ProblemError } from './errors.js';

export interface Principal {
  sub: string;
  role: TokenRole;
  clinicId: string | null;
  patientId: string | null;
}

export interface AuthSettings {
  jwtSecret: string | null;
  /** All accepted HS256 secrets (a rotation); defaults to [jwtSecret]. */
  jwtSecrets?: readonly string[];
  jwksUrl: string | null;
  issuer: string | null;
  audience: string | null;
  /**
   * CAREBOOK_JWT_MAX_AGE: a token is accepted at most this long after its `iat` (required), and
   * never with an `iat` in the future — so `exp = now + 100 years` buys nothing.
   */
  maxAgeSeconds: number;
}

export type TokenVerifier = (token: string) => Promise<Principal>;

declare module 'fastify' {
  interface FastifyRequest {
    principal?: Principal;
  }
}

export function createTokenVerifier(settings: AuthSettings): TokenVerifier {
  const options = {
    ...(settings.issuer ? { issuer: settings.issuer } : {}),
    ...(settings.audience ? { audience: settings.audience } : {}),
    clockTolerance: 5,
    requiredClaims: ['exp', 'iat'],
    maxTokenAge: settings.maxAgeSeconds,
  };
  if (settings.jwksUrl) {
    const jwks = createRemoteJWKSet(new URL(settings.jwksUrl));
    return cached(
      settings.maxAgeSeconds,
      async (token) =>
        (await jwtVerify(token, jwks, { ...options, algorithms: ['RS256', 'ES256', 'EdDSA'] })).payload,
    );
  }
  const secrets = settings.jwtSecrets?.length
    ? settings.jwtSecrets
    : settings.jwtSecret
      ? [settings.jwtSecret]
      : [];
  if (secrets.length > 0) {
    // KeyObjects made once: given raw bytes, jose would import the key again on every request.
    const keys = secrets.map((secret) => createSecretKey(Buffer.from(secret, 'utf8')));
    return cached(settings.maxAgeSeconds, async (token) => {
      // During a rotation a token may be signed with any of the secrets: try each in turn.
      for (const [index, key] of keys.entries()) {
        try {
          return (await jwtVerify(token, key, { ...options, algorithms: ['HS256'] })).payload;
        } catch (error) {
          if (!(error instanceof joseErrors.JWSSignatureVerificationFailed) || index === keys.length - 1)
            throw error;
        }
      }
      throw new Error('unreachable');
    });
  }
  throw new Error('no token verification configured: set CAREBOOK_JWT_SECRET or CAREBOOK_JWKS_URL');
}

const CACHE_ENTRIES = 10_000;
const CACHE_SECONDS = 300;

/**
 * Remembers verified tokens until they expire (at most 5 minutes): a client sends the same token
 * with every request, and verifying it again each time is the API's largest CPU cost after I/O.
 * Bounded (oldest out first); failed verifications are never cached.
 */
function cached(maxAgeSeconds: number, verify: (token: string) => Promise<JWTPayload>): TokenVerifier {
  const entries = new Map<string, { principal: Principal; until: number }>();
  return async (token) => {
    const now = Date.now();
    const hit = entries.get(token);
    if (hit && hit.until > now) return hit.principal;
    if (hit) entries.delete(token);
    const payload = await verify(token);
    const principal = principalFrom(payload);
    const until = Math.min(
      now + CACHE_SECONDS * 1000,
      typeof payload.exp === 'number' ? payload.exp * 1000 : now,
      typeof payload.iat === 'number' ? (payload.iat + maxAgeSeconds) * 1000 : now,
    );
    if (until > now) {
      if (entries.size >= CACHE_ENTRIES) entries.delete(entries.keys().next().value as string);
      entries.set(token, { principal, until });
    }
    return principal;
  };
}

function principalFrom(payload: JWTPayload): Principal {
  const claims = payload as JWTPayload & { role?: unknown; clinic_id?: unknown; patient_id?: unknown };
  if (
    typeof claims.sub !== 'string' ||
    claims.sub.length === 0 ||
    claims.sub.length > 200 ||
    claims.sub.includes('\0')
  ) {
    throw new ClaimsError('the token has no usable "sub" claim');
  }
  if (typeof claims.role !== 'string' || !(TOKEN_ROLES as readonly string[]).includes(claims.role)) {
    throw new ClaimsError(`the token's "role" claim must be one of ${TOKEN_ROLES.join(', ')}`);
  }
  const role = claims.role as TokenRole;
  const clinicId = claims.clinic_id ?? null;
  const patientId = claims.patient_id ?? null;
  if (clinicId !== null && !isUuid(clinicId))
    throw new ClaimsError('the token\'s "clinic_id" claim is not a uuid');
  if (patientId !== null && !isUuid(patientId))
    throw new ClaimsError('the token\'s "patient_id" claim is not a uuid');
  if ((role === 'patient' || role === 'staff' || role === 'clinic_admin') && clinicId === null) {
    throw new ClaimsError(`a ${role} token needs a "clinic_id" claim`);
  }
  if (role === 'patient' && patientId === null)
    throw new ClaimsError('a patient token needs a "patient_id" claim');
  return { sub: claims.sub, role, clinicId, patientId: role === 'patient' ? patientId : null };
}

class ClaimsError extends Error {}

/**
 * onRequest hook (before the body is read): authenticates the request or answers 401. A client
 * address that failed `failures`' maximum within its window gets 429 before anything is verified.
 */
export function authenticate(verify: TokenVerifier, failures: FailureLimiter | null = null) {
  return async (request: FastifyRequest, _reply: FastifyReply) => {
    await failures?.refuseIfExceeded(request);
    const header = request.headers.authorization;
    const match = typeof header === 'string' ? /^Bearer\s+(\S+)$/i.exec(header) : null;
    if (!match?.[1]) {
      await failures?.countFailure(request);
      throw new ProblemError(
        401,
        'unauthorized',
        'Authentication required',
        'Send Authorization: Bearer <token>.',
      );
    }
    try {
      request.principal = await verify(match[1]);
    } catch (error) {
      await failures?.countFailure(request);
      throw new ProblemError(
        401,
        'unauthorized',
        'The bearer token was not accepted',
        describeTokenError(error),
      );
    }
  };
}

function describeTokenError(error: unknown): string {
  if (error instanceof ClaimsError) return error.message;
  if (error instanceof joseErrors.JWTExpired) {
    return error.claim === 'iat'
      ? 'the token is older than CAREBOOK_JWT_MAX_AGE allows (counted from its "iat")'
      : 'the token has expired';
  }
  if (error instanceof joseErrors.JWTClaimValidationFailed) {
    return error.claim === 'iat' && error.reason === 'check_failed'
      ? 'the token\'s "iat" lies in the future'
      : `the token's "${error.claim}" claim is not accepted`;
  }
  if (error instanceof joseErrors.JWSSignatureVerificationFailed)
    return 'the token signature does not verify';
  return 'the token is malformed or signed with an unexpected key or algorithm';
}

/** The authenticated principal, or 401 (for handlers behind `authenticate`). */
export function principalOf(request: FastifyRequest): Principal {
  if (!request.principal) throw new ProblemError(401, 'unauthorized', 'Authentication required');
  return request.principal;
}

/** 403 unless the principal has one of the roles. */
export function requireRole(principal: Principal, ...roles: AppRole[]): void {
  if (!roles.includes(principal.role)) {
    throw new ProblemError(
      403,
      'forbidden',
      'Not allowed for this role',
      `This needs one of: ${roles.join(', ')}.`,
    );
  }
}

/** 403 unless the principal may act for the clinic (its own, or any for platform admins). */
export function requireClinic(principal: Principal, clinicId: string): void {
  if (principal.role !== 'platform_admin' && principal.clinicId !== clinicId) {
    throw new ProblemError(
      403,
      'forbidden',
      'Not allowed for this clinic',
      'The token belongs to another clinic.',
    );
  }
}

/** The database context of a principal's transactions. */
export function tenantContext(
  principal: Principal,
  clinicId: string | null = principal.clinicId,
): TenantContext {
  const dbRole = principal.role === 'platform_admin' ? 'carebook_admin' : 'carebook_app';
  return { dbRole, appRole: principal.role, clinicId, userId: principal.sub, patientId: principal.patientId };
}

/** Mints an HS256 token (development, tests and `carebook token`). */
export async function signToken(
  secret: string,
  claims: { sub: string; role: TokenRole; clinic_id?: string | null; patient_id?: string | null },
  options: { expiresIn?: string; issuer?: string | null; audience?: string | null } = {},
): Promise<string> {
  const payload: Record<string, unknown> = { role: claims.role };
  if (claims.clinic_id) payload.clinic_id = claims.clinic_id;
  if (claims.patient_id) payload.patient_id = claims.patient_id;
  let jwt = new SignJWT(payload)
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(claims.sub)
    .setIssuedAt()
    .setExpirationTime(options.expiresIn ?? '12h');
  if (options.issuer) jwt = jwt.setIssuer(options.issuer);
  if (options.audience) jwt = jwt.setAudience(options.audience);
  return jwt.sign(new TextEncoder().encode(secret));
}
