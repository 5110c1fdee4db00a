// npm run acceptance — the delivery plan's acceptance list, executed end to end on a pristine
// database with the real processes (`carebook serve`, `carebook worker`, tools/webhook_replay.sh):
//   migrations applied + smoke tests + RLS probes; a 200-way race gives exactly one booking; signed
//   events from each provider are handled once each; a poisoned event reaches the dead letters and
//   a replay handles it once; a schedule across a DST change generates, lists and books the right
//   slots and survives regeneration; outbound effects happen once each at the local fake providers
//   (scripts/acceptance-outbound.ts); the metrics are on /metrics and /admin.
// Prints a pass/fail table; exits 1 if any check fails. DATABASE_URL's server, else embedded.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { openCluster, uniqueDatabaseName } from '../src/db/cluster.js';
import { freePorts } from '../src/db/embedded.js';
import { createServiceLogin, dropServiceLogin } from '../src/db/logins.js';
import { readMigrationFiles } from '../src/db/migrate/files.js';
import { migrateUp, migrationStatus } from '../src/db/migrate/runner.js';
import { signToken } from '../src/http/auth.js';
import { outboundChecks, outboundFakes } from './acceptance-outbound.js';
import { type Api, deliveries } from './acceptance-providers.js';
import { scheduleChecks } from './acceptance-schedules.js';

const ROOT = path.resolve(import.meta.dirname, '..');
const results: Array<{ check: string; ok: boolean; detail: string }> = [];
const log = (line: string) => process.stderr.write(`· ${line}\n`);

async function check(name: string, fn: () => Promise<string>): Promise<void> {
  try {
    results.push({ check: name, ok: true, detail: await fn() });
  } catch (error) {
    results.push({ check: name, ok: false, detail: error instanceof Error ? error.message : String(error) });
  }
}

function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Error(message);
}

function start(args: string[], env: NodeJS.ProcessEnv): ChildProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', ...args], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  child.stderr?.on('data', (chunk) => log(`${args[0]}: ${String(chunk).trim().slice(0, 300)}`));
  return child;
}

/** Polls `probe` every 100 ms until it returns a value; `gone` (checked first) ends the wait with its reason. */
async function waitFor<T>(
  what: string,
  probe: () => Promise<T | null | undefined | false>,
  timeoutMs = 30_000,
  gone: () => string | null = () => null,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const reason = gone();
    if (reason !== null) throw new Error(reason);
    const value = await probe().catch(() => null);
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Polls `url` until it answers 2xx; fails at once if `child` exits first. Each request gets 5 s. */
async function waitReady(child: ChildProcess, what: string, url: string): Promise<void> {
  await waitFor(
    what,
    async () => (await fetch(url, { signal: AbortSignal.timeout(5000) })).ok,
    30_000,
    () =>
      child.exitCode !== null || child.signalCode !== null
        ? `${what} exited (${child.exitCode ?? child.signalCode}) before it was ready`
        : null,
  );
}

/** SIGTERM, then SIGKILL after 30 s: a child that hangs in its shutdown fails the run instead of stalling it. */
async function stop(child: ChildProcess): Promise<number | string | null> {
  if (child.exitCode !== null || child.signalCode !== null) return child.exitCode ?? child.signalCode;
  const exited = new Promise<number | string | null>((resolve) =>
    child.once('exit', (code, signal) => resolve(code ?? signal)),
  );
  child.kill('SIGTERM');
  const killer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  return exited.finally(() => clearTimeout(killer));
}

async function main(): Promise<number> {
  const cluster = await openCluster({
    databaseUrl: process.env.DATABASE_URL,
    dataDir: path.join(ROOT, '.carebook', 'acceptance'),
  });
  const name = uniqueDatabaseName('carebook_acceptance');
  const url = await cluster.createDatabase(name);
  const db = new pg.Pool({ connectionString: url, max: 4 });
  db.on('error', (error) => log(`acceptance pool: ${error.message}`)); // an idle connection dropped
  const children: ChildProcess[] = [];
  let fakes: Awaited<ReturnType<typeof outboundFakes>> | null = null;
  const loginName = `${name}_svc`;
  try {
    log(`pristine database ${name} on ${cluster.embedded ? 'an embedded PostgreSQL' : 'DATABASE_URL'}`);
    await check('all migrations apply to a pristine database and verify', async () => {
      const applied = await migrateUp({ databaseUrl: url });
      const status = await migrationStatus({ databaseUrl: url });
      const { files } = await readMigrationFiles();
      assert(
        applied.length === files.length && status.pending.length === 0,
        `${applied.length} of ${files.length} applied`,
      );
      assert(status.problems.length === 0, status.problems.map((p) => p.message).join('; '));
      return `${applied.length} migrations, checksums recorded`;
    });
    await check('smoke tests and RLS probes pass', async () => {
      for (const file of ['docs/migrations/smoke_tests.sql', 'docs/migrations/rls_probes.sql']) {
        await db.query(await readFile(path.join(ROOT, file), 'utf8'));
      }
      return 'smoke_tests.sql, rls_probes.sql';
    });

    // serve and worker refuse a superuser: they log in as a member of the carebook_* roles.
    const login = await createServiceLogin(cluster.adminUrl, loginName);
    const serviceUrl = new URL(url);
    serviceUrl.username = login.name;
    serviceUrl.password = login.password;
    const metricsToken = randomBytes(16).toString('hex');
    const secret = randomBytes(32).toString('base64url');
    const secrets = {
      STRIPE_WEBHOOK_SECRET: `whsec_${randomBytes(16).toString('hex')}`,
      TWILIO_AUTH_TOKEN: randomBytes(16).toString('hex'),
      WHATSAPP_APP_SECRET: randomBytes(16).toString('hex'),
      DAILY_WEBHOOK_SECRET: randomBytes(32).toString('base64'),
    };
    // The fakes listen first: a port chosen before them could be handed to one of them.
    fakes = await outboundFakes(secrets);
    const [port, workerPort] = (await freePorts(2)) as [number, number];
    const base = `http://127.0.0.1:${port}`;
    fakes.deliverTo(base);
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      ...secrets,
      ...fakes.env,
      DATABASE_URL: serviceUrl.toString(),
      CAREBOOK_JWT_SECRET: secret,
      CAREBOOK_METRICS_TOKEN: metricsToken,
      CAREBOOK_PUBLIC_URL: base,
      PORT: String(port),
      LOG_LEVEL: 'warn',
    };
    const workerEnv = {
      ...env,
      CAREBOOK_WORKER_METRICS_PORT: String(workerPort),
      CAREBOOK_WEBHOOK_MAX_ATTEMPTS: '2',
    };
    const serve = start(['serve'], env);
    const worker = start(['worker'], workerEnv);
    children.push(serve, worker);
    await waitReady(serve, 'carebook serve', `${base}/readyz`);
    await waitReady(worker, 'carebook worker', `http://127.0.0.1:${workerPort}/healthz`);

    const admin = await signToken(secret, { sub: 'acceptance-admin', role: 'platform_admin' });
    const api: Api = { base, secrets, db, admin, secret };
    const call = async (
      method: string,
      route: string,
      token: string,
      body?: unknown,
      headers: Record<string, string> = {},
    ) => {
      const response = await fetch(`${base}${route}`, {
        method,
        headers: {
          authorization: `Bearer ${token}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          ...headers,
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      return {
        status: response.status,
        body: (await response.json().catch(() => null)) as Record<string, unknown>,
      };
    };
    const clinic = (
      await call('POST', '/api/clinics', admin, {
        name: 'Acceptance Clinic',
        slug: `acceptance-${Date.now()}`,
      })
    ).body as { id: string };
    const clinicAdmin = await signToken(secret, {
      sub: 'acceptance-clinic-admin',
      role: 'clinic_admin',
      clinic_id: clinic.id,
    });
    const doctor = (
      await call('POST', `/api/clinics/${clinic.id}/practitioners`, clinicAdmin, {
        full_name: 'Dr Accept',
        email: 'accept@example.com',
      })
    ).body as { id: string };

    await check('200-way race on one slot through the API gives exactly one booking', async () => {
      const patients = await Promise.all(
        Array.from(
          { length: 200 },
          async (_, i) =>
            (
              await call('POST', `/api/clinics/${clinic.id}/patients`, clinicAdmin, {
                full_name: `Racer ${i}`,
              })
            ).body.id as string,
        ),
      );
      const startsAt = new Date(Date.now() + 3 * 86_400_000);
      const slot = (
        (
          await call('POST', `/api/clinics/${clinic.id}/slots`, clinicAdmin, {
            practitioner_id: doctor.id,
            starts_at: startsAt.toISOString(),
            ends_at: new Date(startsAt.getTime() + 1_800_000).toISOString(),
            price_cents: 4000,
            currency: 'USD',
          })
        ).body.slots as Array<{ id: string }>
      )[0]?.id as string;
      const tokens = await Promise.all(
        patients.map((id, i) =>
          signToken(secret, { sub: `racer-${i}`, role: 'patient', clinic_id: clinic.id, patient_id: id }),
        ),
      );
      const answers = await Promise.all(
        tokens.map((token) =>
          call('POST', '/api/appointments', token, { slot_id: slot }, { 'idempotency-key': randomUUID() }),
        ),
      );
      const won = answers.filter((a) => a.status === 201);
      const lost = answers.filter((a) => a.status === 409 && a.body.code === 'slot_unavailable');
      const rows = (
        await db.query(
          `SELECT count(*)::int AS n FROM appointments WHERE slot_id = $1 AND status IN ('pending_payment', 'confirmed')`,
          [slot],
        )
      ).rows[0]?.n;
      assert(
        won.length === 1 && lost.length === 199 && rows === 1,
        `${won.length} × 201, ${lost.length} × 409, ${rows} active rows`,
      );
      api.raceWinner = won[0]?.body as Api['raceWinner'];
      return '1 × 201, 199 × 409 slot_unavailable, 1 active appointment';
    });

    await scheduleChecks({ call, secret, admin, db, env, root: ROOT, check });

    const providers = deliveries(api, call, {
      clinicId: clinic.id,
      clinicAdmin,
      doctorId: doctor.id,
      refuseNextPaymentIntent: () =>
        fakes?.fakes.stripe?.inject('POST /v1/payment_intents', {
          kind: 'reject',
          code: 'parameter_invalid',
        }),
    });
    await check('signed events from each provider are handled once each', providers.onceEach);
    await check('a poisoned event reaches the dead-letter state', providers.poisoned);
    await check('replay (tools/webhook_replay.sh) handles it once, without a second effect', async () => {
      const id = api.poisonedId as string;
      const replay = (reason: string) =>
        promisify(execFile)(
          path.join(ROOT, 'tools', 'webhook_replay.sh'),
          ['--id', id, '--reason', reason, '--actor', 'acceptance'],
          { env },
        );
      assert(
        (await replay('acceptance: payment now known')).stdout.includes('replayed 1 of 1'),
        'first replay did not replay',
      );
      const settled = await waitFor(
        'the replayed event',
        async () =>
          (
            await db.query(`SELECT status, note FROM webhook_events WHERE id = $1 AND status = 'success'`, [
              id,
            ])
          ).rows[0],
      );
      assert(
        (await replay('acceptance: again')).stdout.includes('replayed 0 of 0'),
        'a succeeded event was replayed again',
      );
      const refunds = (
        await db.query(
          `SELECT count(*)::int AS n FROM audit.audit_log WHERE row_id = $1 AND table_name = 'payments' AND new_values ->> 'status' = 'refunded'`,
          [api.poisonedPaymentId],
        )
      ).rows[0]?.n;
      const audits = (
        await db.query(
          `SELECT count(*)::int AS n FROM audit.audit_log WHERE action = 'webhook.replay' AND actor = 'acceptance'`,
        )
      ).rows[0]?.n;
      assert(refunds === 1 && audits === 2, `${refunds} refund transition(s), ${audits} replay audit row(s)`);
      return `${settled.note}; refund applied once; 2 audited replays (the second replayed 0)`;
    });

    await outboundChecks({ call, secret, admin, db, env, base, root: ROOT, fakes, check, waitFor });

    await check(
      'booking_attempts, booking_conflicts, webhook processing and dead letters on /metrics',
      async () => {
        const authorization = { authorization: `Bearer ${metricsToken}` };
        const refused = await fetch(`${base}/metrics`);
        assert(refused.status === 401, `/metrics without the token answered ${refused.status}`);
        const apiMetrics = await (await fetch(`${base}/metrics`, { headers: authorization })).text();
        const workerMetrics = await (
          await fetch(`http://127.0.0.1:${workerPort}/metrics`, { headers: authorization })
        ).text();
        for (const needle of [
          'booking_attempts_total{outcome="created"}',
          'booking_conflicts_total 199',
          'webhook_received_total{provider="stripe",outcome="accepted"}',
          '# TYPE webhook_dead_letters gauge',
        ]) {
          assert(apiMetrics.includes(needle), `API /metrics lacks ${needle}`);
        }
        assert(
          /webhook_processed_total\{provider="stripe",outcome="success"\} [1-9]/.test(workerMetrics),
          'worker /metrics lacks webhook_processed_total',
        );
        return 'API and worker /metrics, behind CAREBOOK_METRICS_TOKEN (401 without it)';
      },
    );
    await check('the same numbers on /admin', async () => {
      const page = await fetch(`${base}/admin`);
      const stats = (await call('GET', '/admin/stats', admin)).body as {
        booking: { attempts: Record<string, number>; conflicts: number };
        webhooks: { handledLastMinute: Record<string, number> };
      };
      assert(page.ok && (await page.text()).includes('Dead letters'), '/admin page');
      assert(
        stats.booking.attempts.created !== undefined && stats.booking.conflicts === 199,
        `stats ${JSON.stringify(stats.booking)}`,
      );
      assert((stats.webhooks.handledLastMinute.stripe ?? 0) > 0, 'no webhook processing rate');
      return `attempts ${JSON.stringify(stats.booking.attempts)}, conflicts ${stats.booking.conflicts}, handled/min ${JSON.stringify(stats.webhooks.handledLastMinute)}`;
    });
    await check('serve and worker stop cleanly on SIGTERM', async () => {
      const codes = await Promise.all(children.map(stop));
      assert(
        codes.every((code) => code === 0),
        `exit codes ${codes.join(', ')}`,
      );
      return 'exit 0 and 0';
    });
  } finally {
    await Promise.all(children.map(stop));
    await fakes?.stop();
    await db.end();
    await cluster.dropDatabase(name).catch(() => {});
    await dropServiceLogin(cluster.adminUrl, loginName).catch(() => {});
    await cluster.close();
  }
  const width = Math.max(...results.map((r) => r.check.length));
  console.log(`\n${'check'.padEnd(width)}  result  detail`);
  for (const result of results)
    console.log(`${result.check.padEnd(width)}  ${result.ok ? 'PASS  ' : 'FAIL  '}  ${result.detail}`);
  const failed = results.filter((r) => !r.ok).length;
  console.log(`\n${results.length - failed} passed, ${failed} failed`);
  return failed === 0 ? 0 : 1;
}

process.exit(await main());
