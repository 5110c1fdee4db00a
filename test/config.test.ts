// Configuration is validated once, with messages that say how to fix a value; the README's
// configuration table documents every variable Carebook reads.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, ENV_VARS, loadConfig, redactDatabaseUrl } from '../src/config.js';

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

  it('takes several comma-separated JWT secrets for a rotation, the first signing', () => {
    const config = loadConfig({ CAREBOOK_JWT_SECRET: `${'n'.repeat(32)}, ${'o'.repeat(32)}` });
    expect(config.jwtSecret).toBe('n'.repeat(32));
    expect(config.jwtVerificationSecrets).toEqual(['n'.repeat(32), 'o'.repeat(32)]);
  });

  it('wants a database name in DATABASE_URL', () => {
    expect(() => loadConfig({ DATABASE_URL: 'postgres://u@h:5432' })).toThrow(/names no database/);
  });

  it('never shows a password when describing a URL', () => {
    expect(redactDatabaseUrl('postgres://u:pa%40ss@h:5432/db')).toBe('postgres://u:***@h:5432/db');
  });
});

describe('ENV_VARS', () => {
  it('lists every variable src/config.ts reads', async () => {
    const source = await readFile(path.resolve(import.meta.dirname, '..', 'src', 'config.ts'), 'utf8');
    const read = [...source.matchAll(/\b(?:read|integer)\('([A-Z_]+)'/g)].map((m) => m[1]);
    expect(read.length).toBeGreaterThan(5);
    expect(new Set(read)).toEqual(new Set(ENV_VARS.map((v) => v.name)));
  });
});

describe('README configuration table', () => {
  it('lists every environment variable Carebook reads, with its default', async () => {
    const readme = await readFile(path.resolve(import.meta.dirname, '..', 'README.md'), 'utf8');
    for (const variable of ENV_VARS) {
      const row = readme.split('\n').find((line) => line.startsWith(`| \`${variable.name}\``));
      expect(row, `README row for ${variable.name}`).toBeDefined();
      expect(row).toContain(variable.default);
    }
  });
});
