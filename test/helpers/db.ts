// Per-test-file databases cloned from the migrated template, and small query helpers.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { inject } from 'vitest';
import { createPool, type Pool } from '../../src/db/pool.js';

export interface TestDatabase {
  name: string;
  url: string;
  pool: Pool;
  drop(): Promise<void>;
}

export function adminUrl(): string {
  return inject('adminUrl');
}

export function urlFor(database: string): string {
  const url = new URL(adminUrl());
  url.pathname = `/${database}`;
  return url.toString();
}

async function admin(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl() });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/** A fresh database: a clone of the migrated template, or empty with `{ empty: true }`. */
export async function createTestDatabase(options: { empty?: boolean } = {}): Promise<TestDatabase> {
  const name = `${inject('runPrefix')}_${randomBytes(4).toString('hex')}`;
  const template = options.empty ? '' : ` TEMPLATE ${pg.escapeIdentifier(inject('templateDatabase'))}`;
  await admin(`CREATE DATABASE ${pg.escapeIdentifier(name)}${template}`);
  const url = urlFor(name);
  const pool = createPool(url, { max: 30 });
  return {
    name,
    url,
    pool,
    drop: async () => {
      await pool.end();
      await admin(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name)} WITH (FORCE)`);
    },
  };
}

/** Runs SQL as the connecting superuser (test fixtures), returning rows. */
export async function sql<T extends pg.QueryResultRow = pg.QueryResultRow>(
  pool: Pool,
  text: string,
  values: unknown[] = [],
): Promise<T[]> {
  return (await pool.query<T>(text, values)).rows;
}
