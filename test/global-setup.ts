// Once per `npm test`: a PostgreSQL server (DATABASE_URL's, else an embedded one) and a migrated
// template database that every test file clones (CREATE DATABASE … TEMPLATE), then drops.
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { openCluster, uniqueDatabaseName } from '../src/db/cluster.js';
import { createServiceLogin, dropServiceLogin } from '../src/db/logins.js';
import { migrateUp } from '../src/db/migrate/runner.js';

declare module 'vitest' {
  export interface ProvidedContext {
    adminUrl: string;
    templateDatabase: string;
    embeddedServer: boolean;
    runPrefix: string;
    /** A non-superuser login (member of the carebook_* roles) for real serve/worker processes. */
    serviceLogin: { name: string; password: string };
  }
}

export default async function setup(project: TestProject) {
  const cluster = await openCluster({
    databaseUrl: process.env.DATABASE_URL,
    dataDir: path.resolve(import.meta.dirname, '..', '.carebook', 'test'),
  });
  const runPrefix = uniqueDatabaseName('cbt');
  const template = `${runPrefix}_template`;
  await migrateUp({ databaseUrl: await cluster.createDatabase(template) });
  const login = await createServiceLogin(cluster.adminUrl, `${runPrefix}_svc`);
  project.provide('serviceLogin', { name: login.name, password: login.password });
  project.provide('adminUrl', cluster.adminUrl);
  project.provide('templateDatabase', template);
  project.provide('embeddedServer', cluster.embedded);
  project.provide('runPrefix', runPrefix);
  console.log(`tests run against ${cluster.embedded ? 'an embedded PostgreSQL' : 'DATABASE_URL'}`);

  return async () => {
    const { default: pg } = await import('pg');
    const client = new pg.Client({ connectionString: cluster.adminUrl });
    await client.connect();
    const left = await client.query<{ datname: string }>(
      'SELECT datname FROM pg_database WHERE datname LIKE $1',
      [`${runPrefix}%`],
    );
    await client.end();
    for (const row of left.rows) await cluster.dropDatabase(row.datname);
    await dropServiceLogin(cluster.adminUrl, login.name);
    await cluster.close();
  };
}
