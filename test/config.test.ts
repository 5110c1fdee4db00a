// Configuration is validated once, with messages that say how to fix a value; the README's
// configuration table documents every variable Carebook reads.
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, ENV_VARS, loadConfig, redactDatabaseUrl, SECRET_VARIABLES } from '../src/config.js';

describe('loadConfig', () => {
  it('applies the documented defaults', () => {
    const config = loadConfig({}, '/srv/app');
    expect(config).toMatchObject({
      port: 3000,
      host: '127.0.0.1',
      databaseUrl: null,
      dataDir: '/srv/app/.carebook',
      logLevel: 'info',
    });
  });

  it('rejects each bad value with its own message', () => {
    try {
      loadConfig({
        PORT: '70000',
        DATABASE_URL: 'not a url',
        LOG_LEVEL: 'chatty',
        CAREBOOK_DB_POOL_MAX: '0',
      });
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).problems).toEqual([
        'DATABASE_URL is not a URL; expected postgres://user:password@host:5432/database',
        'LOG_LEVEL="chatty" is not one of fatal, error, warn, info, debug, trace, silent',
        'PORT="70000" is not a whole number from 0 to 65535',
        'CAREBOOK_DB_POOL_MAX="0" is not a whole number from 1 to 500',
      ]);
    }
  });

  it('takes an optional read replica URL, checked like DATABASE_URL', () => {
    expect(loadConfig({}).readDatabaseUrl).toBeNull();
    const url = 'postgres://reader@replica:5432/carebook';
    expect(loadConfig({ CAREBOOK_READ_DATABASE_URL: url }).readDatabaseUrl).toBe(url);
    expect(() => loadConfig({ CAREBOOK_READ_DATABASE_URL: 'replica:5432' })).toThrow(
      /CAREBOOK_READ_DATABASE_URL: the value (is not a URL|has scheme)/,
    );
  });

  it('takes several comma-separated JWT secrets for a rotation, the first signing', () => {
    const config = loadConfig({ CAREBOOK_JWT_SECRET: `${'n'.repeat(32)}, ${'o'.repeat(32)}` });
    expect(config.jwtSecret).toBe('n'.repeat(32));
    expect(config.jwtVerificationSecrets).toEqual(['n'.repeat(32), 'o'.repeat(32)]);
  });

  it('wants a database name in DATABASE_URL', () => {
    expect(() => loadConfig({ DATABASE_URL: 'postgres://u@h:5432' })).toThrow(/names no database/);
  });

  it('reads every provider secret variable and its suffixed accounts, comma-separated, nothing else', () => {
    const env = Object.fromEntries(
      SECRET_VARIABLES.map((name) => [name, ` ${name.toLowerCase()}-1 , two,, `]),
    );
    const { secrets } = loadConfig({
      ...env,
      [`${SECRET_VARIABLES[0]}_NORTH_SIDE`]: 'north',
      [`${SECRET_VARIABLES[0]}X`]: 'not a suffix',
      [`${SECRET_VARIABLES[0]}_lower`]: 'not a suffix',
      [`${SECRET_VARIABLES[0]}_EMPTY`]: ' , ',
    }).webhooks;
    expect(SECRET_VARIABLES.length).toBeGreaterThan(3);
    expect(secrets).toEqual({
      ...Object.fromEntries(SECRET_VARIABLES.map((name) => [name, [`${name.toLowerCase()}-1`, 'two']])),
      [`${SECRET_VARIABLES[0]}_NORTH_SIDE`]: ['north'],
    });
  });

  it('never shows a password when describing a URL', () => {
    expect(redactDatabaseUrl('postgres://u:pa%40ss@h:5432/db')).toBe('postgres://u:***@h:5432/db');
  });
});

describe('ENV_VARS', () => {
  it("lists every variable src/config.ts reads: its own, the outbound providers', and the secret variables of the providers", async () => {
    const src = path.resolve(import.meta.dirname, '..', 'src');
    const source = await readFile(path.join(src, 'config.ts'), 'utf8');
    const read = [...source.matchAll(/\b(?:read|integer|list|flag|duration)\('([A-Z_]+)'/g)].map((m) => m[1]);
    // Each outbound provider reads its own variables (src/outbound/<provider>.ts) through a Reader.
    const outbound = await Promise.all(
      (await readdir(path.join(src, 'outbound')))
        .filter((file) => file.endsWith('.ts'))
        .map((file) => readFile(path.join(src, 'outbound', file), 'utf8')),
    );
    const readOutbound = outbound.flatMap((text) =>
      [...text.matchAll(/\benv\.(?:read|url|origin|firstSecret)\('([A-Z_]+)'/g)].map((m) => m[1]),
    );
    expect(read.length).toBeGreaterThan(5);
    expect(readOutbound.length).toBeGreaterThan(5);
    expect(new Set([...read, ...readOutbound, ...SECRET_VARIABLES])).toEqual(
      new Set(ENV_VARS.map((v) => v.name)),
    );
  });
});

describe('README configuration table', () => {
  it('has the row of every environment variable Carebook reads, word for word', async () => {
    const readme = await readFile(path.resolve(import.meta.dirname, '..', 'README.md'), 'utf8');
    for (const variable of ENV_VARS) {
      const row = readme.split('\n').find((line) => line.startsWith(`| \`${variable.name}\``));
      // The expected row is what to paste (a provider's secret rows come from its descriptor).
      expect(row, `README row for ${variable.name}`).toBe(
        `| \`${variable.name}\` | ${variable.default} | ${variable.description} |`,
      );
    }
  });
});
