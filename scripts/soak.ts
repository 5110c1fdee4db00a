// npm run soak [-- --seconds N] — a real `carebook serve` under steady load for N seconds (default
// 600; CI runs 60): its capacity is measured briefly first (autocannon, unthrottled), then it is
// driven at half of it. Each autocannon connection repeats what a booking client does — list
// free slots, book one (a fresh Idempotency-Key), read it, cancel it (which frees the slot again).
// Every --sample-seconds the serve process's heap is read after a forced full GC through its
// inspector (--inspect; no code of ours in the process), with its RSS, open handles and database
// connections. It passes on memory and connections, never on timing (scripts/lib/soak-analysis.ts):
// heap flat, connections within the pool, 0 errors, 0 non-2xx, no error logged. --canary-leak
// makes the server leak about 4.7 MB a minute (injected through the inspector) to show the verdict fails.
// Uses DATABASE_URL's server when set, else an embedded PostgreSQL in .carebook/soak; a throwaway
// database and login either way.
import { spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import path from 'node:path';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import pg from 'pg';
import { openCluster, uniqueDatabaseName } from '../src/db/cluster.js';
import { createServiceLogin, dropServiceLogin } from '../src/db/logins.js';
import { migrateUp } from '../src/db/migrate/runner.js';
import { signToken } from '../src/http/auth.js';
import { connectInspector, inspectorUrl } from './lib/inspector.js';
import { heapSlopeMbPerMinute, type SoakSample, type SoakTotals, soakFailures } from './lib/soak-analysis.js';

const ROOT = path.resolve(import.meta.dirname, '..');
const POOL_MAX = 20;
/** Slot and patient pairs the connections take turns on (more than connections: none waits). */
const PAIRS = 200;
const MB = 1024 * 1024;

const { values: args } = parseArgs({
  options: {
    seconds: { type: 'string', default: '600' },
    'sample-seconds': { type: 'string', default: '10' },
    'capacity-seconds': { type: 'string', default: '10' },
    connections: { type: 'string', default: '16' },
    'canary-leak': { type: 'boolean', default: false },
  },
});
const whole = (name: keyof typeof args, min: number) => {
  const value = Number(args[name]);
  if (!Number.isInteger(value) || value < min) {
    console.error(`--${name} must be a whole number of at least ${min}`);
    process.exit(2);
  }
  return value;
};
const seconds = whole('seconds', 10);
const sampleSeconds = whole('sample-seconds', 1);
const capacitySeconds = whole('capacity-seconds', 3);
const connections = whole('connections', 1);
const log = (line: string) => process.stderr.write(`· ${line}\n`);

const cluster = await openCluster({
  databaseUrl: process.env.DATABASE_URL,
  dataDir: path.join(ROOT, '.carebook', 'soak'),
});
const name = uniqueDatabaseName('carebook_soak');
const cleanup: (() => Promise<unknown>)[] = [];
let failures: string[] = [];
try {
  const ownerUrl = await cluster.createDatabase(name);
  cleanup.unshift(() => cluster.dropDatabase(name));
  log(`migrating ${name}`);
  await migrateUp({ databaseUrl: ownerUrl });
  const login = await createServiceLogin(ownerUrl, `${name}_svc`);
  cleanup.push(() => dropServiceLogin(cluster.adminUrl, login.name));
  const admin = new pg.Pool({ connectionString: ownerUrl, max: 2 });
  cleanup.unshift(() => admin.end());
  const clinicId = randomUUID();
  await admin.query(`INSERT INTO clinics (id, name, slug) VALUES ($1, 'Soak Clinic', $2)`, [
    clinicId,
    `soak-${clinicId.slice(0, 8)}`,
  ]);
  const practitioner = (
    await admin.query<{ id: string }>(
      `INSERT INTO users (clinic_id, role, full_name, email) VALUES ($1, 'practitioner', 'Dr Soak', 'dr@soak.example') RETURNING id`,
      [clinicId],
    )
  ).rows[0]?.id;
  const patients = (
    await admin.query<{ id: string }>(
      `INSERT INTO patients (clinic_id, full_name) SELECT $1, 'Soak patient ' || n FROM generate_series(1, $2) AS n RETURNING id`,
      [clinicId, PAIRS],
    )
  ).rows.map((row) => row.id);
  const slots = (
    await admin.query<{ id: string }>(
      `INSERT INTO appointment_slots (clinic_id, practitioner_id, starts_at, ends_at)
       SELECT $1, $2, date_trunc('hour', now()) + interval '2 days' + n * interval '10 minutes',
              date_trunc('hour', now()) + interval '2 days' + (n + 1) * interval '10 minutes'
         FROM generate_series(0, $3 - 1) AS n RETURNING id`,
      [clinicId, practitioner, PAIRS],
    )
  ).rows.map((row) => row.id);
  const free = slots.map((slot, i) => ({ slot, patient: patients[i] as string }));

  const secret = randomBytes(32).toString('base64url');
  const staff = `Bearer ${await signToken(secret, { sub: 'soak-staff', role: 'staff', clinic_id: clinicId }, { expiresIn: '12h' })}`;

  log('starting carebook serve (with --inspect on 127.0.0.1)');
  const serve = spawn(process.execPath, ['--inspect=127.0.0.1:0', 'bin/carebook.js', 'serve'], {
    cwd: ROOT,
    env: {
      ...process.env,
      DATABASE_URL: login.url,
      PORT: '0',
      HOST: '127.0.0.1',
      CAREBOOK_JWT_SECRET: secret,
      CAREBOOK_DB_POOL_MAX: String(POOL_MAX),
      CAREBOOK_RATE_LIMIT_BOOKINGS: '0',
      LOG_LEVEL: 'info',
    },
  });
  cleanup.unshift(async () => {
    if (serve.exitCode !== null) return;
    const exited = new Promise((resolve) => serve.once('exit', resolve));
    serve.kill('SIGTERM');
    await exited;
  });

  let serverErrors = 0;
  let pendingOutput = '';
  const listening = new Promise<string>((resolve, reject) => {
    serve.once('exit', (code) => reject(new Error(`carebook serve exited with ${code}`)));
    serve.stdout.on('data', (chunk: Buffer) => {
      pendingOutput += chunk.toString('utf8');
      const lines = pendingOutput.split('\n');
      pendingOutput = lines.pop() ?? '';
      for (const line of lines) {
        let entry: { level?: number; msg?: string };
        try {
          entry = JSON.parse(line);
        } catch {
          continue; // not a log line (a warning printed by Node itself)
        }
        if ((entry.level ?? 0) >= 50) serverErrors += 1;
        const url = entry.msg?.match(/Server listening at (http:\/\/127\.0\.0\.1:\d+)/)?.[1];
        if (url) resolve(url);
      }
    });
  });
  const inspector = await connectInspector(await inspectorUrl(serve.stderr));
  cleanup.unshift(async () => inspector.close());
  const base = await listening;

  const connectionsNow = async () =>
    (
      await admin.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1 AND usename = $2',
        [name, login.name],
      )
    ).rows[0]?.n ?? 0;
  const handlesNow = () => inspector.evaluate<number>('process._getActiveHandles().length');
  const totals: SoakTotals = { requests: 0, errors: 0, non2xx: 0, serverErrors: 0 };
  const statuses = new Map<number, number>();

  /** One autocannon run of the booking cycle; counts every answer into the totals. */
  const drive = (duration: number, overallRate?: number) => {
    type Cycle = { slot?: string; patient?: string; appointment?: string };
    const json = { 'content-type': 'application/json', authorization: staff };
    const options = {
      url: base,
      connections,
      duration,
      ...(overallRate ? { overallRate } : {}),
      requests: [
        {
          method: 'GET',
          path: `/api/clinics/${clinicId}/slots?available=true&limit=20`,
          headers: { authorization: staff },
        },
        {
          method: 'POST',
          path: '/api/appointments',
          setupRequest: (request, context: Cycle) => {
            const pair = free.shift();
            if (!pair) return request; // every pair is in use: book a taken one, counted as non-2xx
            Object.assign(context, pair);
            return {
              ...request,
              headers: { ...json, 'idempotency-key': randomUUID() },
              body: JSON.stringify({ slot_id: pair.slot, patient_id: pair.patient }),
            };
          },
          onResponse: (status, body, context: Cycle) => {
            if (status === 201)
              context.appointment = (JSON.parse(body) as { appointment: { id: string } }).appointment.id;
            else if (context.slot) free.push({ slot: context.slot, patient: context.patient as string });
          },
        },
        {
          method: 'GET',
          setupRequest: (request, context: Cycle) =>
            context.appointment
              ? {
                  ...request,
                  path: `/api/appointments/${context.appointment}`,
                  headers: { authorization: staff },
                }
              : null,
        },
        {
          method: 'POST',
          setupRequest: (request, context: Cycle) =>
            context.appointment
              ? {
                  ...request,
                  path: `/api/appointments/${context.appointment}/cancel`,
                  headers: json,
                  body: '{}',
                }
              : null,
          onResponse: (status, _body, context: Cycle) => {
            if (status === 200 && context.slot)
              free.push({ slot: context.slot, patient: context.patient as string });
          },
        },
      ],
    } as autocannon.Options;
    return new Promise<autocannon.Result>((resolve, reject) => {
      const instance = autocannon(options, (error, result) => (error ? reject(error) : resolve(result)));
      instance.on('response', (_client, status) => {
        totals.requests += 1;
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
        if (status < 200 || status >= 300) totals.non2xx += 1;
      });
      instance.on('reqError', () => {
        totals.errors += 1;
      });
    });
  };

  log(`measuring capacity for ${capacitySeconds} s (${connections} connections, unthrottled)`);
  const capacity = (await drive(capacitySeconds)).requests.average;
  const rate = Math.max(1, Math.round(capacity / 2));
  if (args['canary-leak']) {
    log('canary: the server now keeps 8 KB more every 100 ms (about 4.7 MB a minute)');
    await inspector.evaluate(
      '(globalThis.__soakCanary = [], setInterval(() => globalThis.__soakCanary.push(Array.from({ length: 1000 }, Math.random)), 100), true)',
    );
  }
  await new Promise((resolve) => setTimeout(resolve, 2000));
  const baselineHandles = await handlesNow();
  const samples: SoakSample[] = [];
  const started = Date.now();
  const sample = async () => {
    const heapUsedBytes = await inspector.heapUsedAfterGc();
    const rssBytes = await inspector.evaluate<number>('process.memoryUsage().rss');
    samples.push({
      at: (Date.now() - started) / 1000,
      heapUsedBytes,
      rssBytes,
      databaseConnections: await connectionsNow(),
      handles: await handlesNow(),
      requests: totals.requests,
    });
  };
  log(
    `capacity ${capacity.toFixed(0)} req/s; soaking ${seconds} s at ${rate} req/s (half), sampling every ${sampleSeconds} s`,
  );
  await sample();
  let sampling = Promise.resolve();
  const timer = setInterval(() => {
    sampling = sampling.then(sample);
  }, sampleSeconds * 1000);
  const soak = await drive(seconds, rate);
  clearInterval(timer);
  await sampling;
  await sample();
  await new Promise((resolve) => setTimeout(resolve, 2000));
  const finalHandles = await handlesNow();
  totals.serverErrors = serverErrors;

  console.log(
    `soak — carebook serve at ${rate} req/s for ${seconds} s (measured capacity ${capacity.toFixed(0)} req/s with ${connections} connections), ` +
      `pool max ${POOL_MAX}${args['canary-leak'] ? ', CANARY LEAK injected' : ''}`,
  );
  console.log('     s | heap after GC MB |  rss MB | db connections | handles | requests');
  for (const s of samples) {
    console.log(
      `${s.at.toFixed(0).padStart(6)} | ${(s.heapUsedBytes / MB).toFixed(2).padStart(16)} | ${(s.rssBytes / MB).toFixed(1).padStart(7)} | ` +
        `${String(s.databaseConnections).padStart(14)} | ${String(s.handles).padStart(7)} | ${String(s.requests).padStart(8)}`,
    );
  }
  console.log(
    `heap slope ${heapSlopeMbPerMinute(samples).toFixed(3)} MB/min; handles ${baselineHandles} before, ${finalHandles} after; ` +
      `soak ${soak.requests.average.toFixed(0)} req/s, p99 ${soak.latency.p99} ms; statuses ${[...statuses].map(([s, n]) => `${s}×${n}`).join(' ')}; ` +
      `${totals.errors} errors, ${totals.serverErrors} server errors logged`,
  );
  failures = soakFailures(samples, totals, { poolMax: POOL_MAX, baselineHandles, finalHandles });
} catch (error) {
  failures.push(
    `the soak stopped: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
  );
} finally {
  for (const step of cleanup) await step().catch(() => {});
  await cluster.close();
}
for (const failure of failures) console.error(`FAIL ${failure}`);
console.log(failures.length === 0 ? 'soak passed' : `soak failed (${failures.length})`);
process.exit(failures.length === 0 ? 0 : 1);
