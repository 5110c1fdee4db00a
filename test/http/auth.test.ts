// Production token verification against an identity provider's JWKS, served by a local HTTP
// server standing in for the provider: signature, algorithm, issuer and audience are all checked.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

type KeyLike = Awaited<ReturnType<typeof generateKeyPair>>['privateKey'];

import { createTokenVerifier, signToken } from '../../src/http/auth.js';

describe('HS256 secret rotation', () => {
  it('accepts tokens signed with any configured secret, the first one signing', async () => {
    const oldSecret = 'old-secret-0123456789abcdefghijklmnopqrstuv';
    const newSecret = 'new-secret-0123456789abcdefghijklmnopqrstuv';
    const verify = createTokenVerifier({
      jwtSecret: newSecret,
      jwtSecrets: [newSecret, oldSecret],
      jwksUrl: null,
      issuer: null,
      audience: null,
      maxAgeSeconds: 43_200,
    });
    for (const secret of [oldSecret, newSecret]) {
      await expect(
        verify(await signToken(secret, { sub: 'x', role: 'platform_admin' })),
      ).resolves.toMatchObject({ sub: 'x' });
    }
    await expect(
      verify(
        await signToken('some-other-secret-0123456789abcdefghijkl', { sub: 'x', role: 'platform_admin' }),
      ),
    ).rejects.toThrow(/signature/);
  });
});

describe('JWKS verification', () => {
  let server: http.Server;
  let jwksUrl: string;
  let privateKey: KeyLike;
  let strangerKey: KeyLike;

  beforeAll(async () => {
    const pair = await generateKeyPair('RS256');
    privateKey = pair.privateKey;
    strangerKey = (await generateKeyPair('RS256')).privateKey;
    const jwk = { ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
    server = http.createServer((_request, response) => {
      response.setHeader('content-type', 'application/json');
      response.end(JSON.stringify({ keys: [jwk] }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    jwksUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/.well-known/jwks.json`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const sign = (
    key: KeyLike,
    claims: Record<string, unknown>,
    iss = 'https://id.example',
    aud = 'carebook',
  ) =>
    new SignJWT(claims)
      .setProtectedHeader({ alg: 'RS256', kid: 'k1' })
      .setSubject('user-7')
      .setIssuer(iss)
      .setAudience(aud)
      .setIssuedAt()
      .setExpirationTime('5m')
      .sign(key);

  const verifier = () =>
    createTokenVerifier({
      jwtSecret: null,
      jwksUrl,
      issuer: 'https://id.example',
      audience: 'carebook',
      maxAgeSeconds: 43_200,
    });

  it('accepts a token signed by the provider', async () => {
    const jwt = await sign(privateKey, { role: 'staff', clinic_id: '11111111-1111-4111-8111-111111111111' });
    await expect(verifier()(jwt)).resolves.toEqual({
      sub: 'user-7',
      role: 'staff',
      clinicId: '11111111-1111-4111-8111-111111111111',
      patientId: null,
    });
  });

  it('refuses another key, another issuer or audience, and an HS256 token', async () => {
    const claims = { role: 'staff', clinic_id: '11111111-1111-4111-8111-111111111111' };
    await expect(verifier()(await sign(strangerKey, claims))).rejects.toThrow();
    await expect(verifier()(await sign(privateKey, claims, 'https://evil.example'))).rejects.toThrow(/iss/);
    await expect(
      verifier()(await sign(privateKey, claims, 'https://id.example', 'other-app')),
    ).rejects.toThrow(/aud/);
    const hs = await signToken('a-secret-that-is-long-enough-0123456789', {
      sub: 'x',
      role: 'platform_admin',
    });
    await expect(verifier()(hs)).rejects.toThrow();
  });

  it('refuses to start without any way to verify tokens', () => {
    expect(() =>
      createTokenVerifier({
        jwtSecret: null,
        jwksUrl: null,
        issuer: null,
        audience: null,
        maxAgeSeconds: 43_200,
      }),
    ).toThrow(/CAREBOOK_JWT_SECRET or CAREBOOK_JWKS_URL/);
  });
});
