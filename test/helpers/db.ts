// Per-test-file databases cloned from the migrated template, and small query helpers.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { inject } from 'vitest';
import { createPool, type Pool } from '../../src/db/pool.js';

export interface TestDatabase {
  name: string;
  /** As the cluster's superuser: fixtures, and the pool tests use directly. */
  url: string;
  /** As the run's least-privilege login: for real `serve`/`worker` processes, which refuse a superuser. */
  serviceUrl: string;
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

/** The owner pools of tests: long enough for bulk fixtures on a loaded machine, still bounded. */
export const FIXTURE_QUERY_TIMEOUT_MS = 120_000;

/** A fresh database: a clone of the migrated template, or empty with `{ empty: true }`. */
export async function createTestDatabase(options: { empty?: boolean } = {}): Promise<TestDatabase> {
  const name = `${inject('runPrefix')}_${randomBytes(4).toString('hex')}`;
  const template = options.empty ? '' : ` TEMPLATE ${pg.escapeIdentifier(inject('templateDatabase'))}`;
  await admin(`CREATE DATABASE ${pg.escapeIdentifier(name)}${template}`);
  const url = urlFor(name);
  // Fixtures insert thousands of rows at once; on a loaded CI machine that outlasts the service's 10 s.
  const pool = createPool(url, { max: 30, queryTimeoutMs: FIXTURE_QUERY_TIMEOUT_MS });
  const login = inject('serviceLogin');
  const serviceUrl = new URL(url);
  serviceUrl.username = login.name;
  serviceUrl.password = login.password;
  return {
    name,
    url,
    serviceUrl: serviceUrl.toString(),
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
