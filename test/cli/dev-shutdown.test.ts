// `npm start` on the embedded database, stopped the way a terminal stops it: Ctrl-C sends SIGINT
// to the whole foreground process group, and npm relays it once more. The app logs in as a
// non-superuser; one Ctrl-C drains the request in flight, the worker and the database, and exits
// 0; the data is there after a restart; a second Ctrl-C exits at once (130), and the database
// still stops. Always on an embedded server of its own, whatever DATABASE_URL says. The local fake
// providers it starts for unconfigured providers stop with it; configured ones get none.
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { RELAY_WINDOW_MS } from '../../src/cli/lifecycle.js';
import { startEmbeddedPostgres } from '../../src/db/embedded.js';
import { childEnv, ROOT } from '../helpers/cli.js';

const dataDir = path.join(ROOT, '.carebook', `dev-shutdown-${randomBytes(4).toString('hex')}`);

interface Dev {
  child: ChildProcessWithoutNullStreams;
  url: string;
  output: () => string;
  exited: Promise<number | null>;
  exported: (name: string) => string;
  /** What a terminal's Ctrl-C does: SIGINT to every process of the foreground group. */
  ctrlC: () => void;
}

const started: ChildProcessWithoutNullStreams[] = [];

async function startDev(env: Record<string, string> = {}): Promise<Dev> {
  // detached: a process group of its own, as a terminal gives the command it runs.
  const child = spawn(process.execPath, ['bin/carebook.js', 'dev'], {
    cwd: ROOT,
    detached: true,
    env: childEnv({ PORT: '0', CAREBOOK_DATA_DIR: dataDir, LOG_LEVEL: 'info', ...env }),
  });
  started.push(child);
  let output = '';
  child.stdout.on('data', (chunk) => (output += chunk));
  child.stderr.on('data', (chunk) => (output += chunk));
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
  // The whole output so far, not chunk by chunk: the banner may arrive in one piece or several.
  while (!output.includes('ADMIN_TOKEN=')) {
    if (child.exitCode !== null) throw new Error(`dev exited with ${child.exitCode}: ${output}`);
    await sleep(50);
  }
  const url = output.match(/Carebook is running at (http:\/\/\S+)/)?.[1];
  return {
    child,
    url: url as string,
    output: () => output,
    exited,
    exported: (name) => output.match(new RegExp(`export ${name}=(\\S+)`))?.[1] ?? '',
    ctrlC: () => process.kill(-(child.pid as number), 'SIGINT'),
  };
}

/** Queries the running cluster as its superuser, by sharing it the way `carebook status` does. */
async function query<T extends pg.QueryResultRow>(text: string, values: unknown[] = []): Promise<T[]> {
  const shared = await startEmbeddedPostgres({ dataDir });
  const client = new pg.Client({ connectionString: shared.urlFor('carebook') });
  await client.connect();
  try {
    return (await client.query<T>(text, values)).rows;
  } finally {
    await client.end();
    await shared.stop(); // a no-op: the dev process owns the server
  }
}

/** A signed-in booking whose body is sent in two parts; `finish()` sends the rest, then reads the status. */
async function stalledBooking(dev: Dev, slotId: string): Promise<{ finish: () => Promise<number> }> {
  const { hostname, port } = new URL(dev.url);
  const body = JSON.stringify({ slot_id: slotId });
  const socket = net.connect(Number(port), hostname);
  await new Promise((resolve) => socket.once('connect', resolve));
  let response = '';
  socket.on('data', (chunk) => (response += chunk));
  const closed = new Promise((resolve) => socket.once('close', resolve));
  socket.write(
    [
      'POST /api/appointments HTTP/1.1',
      `Host: ${hostname}:${port}`,
      `Authorization: Bearer ${dev.exported('PATIENT_TOKEN')}`,
      'Content-Type: application/json',
      `Idempotency-Key: stalled-${randomBytes(4).toString('hex')}`,
      `Content-Length: ${Buffer.byteLength(body)}`,
      'Connection: close',
      '',
      body.slice(0, 5),
    ].join('\r\n'),
  );
  // In flight once the server has logged it (a connection with no request yet is closed as idle).
  const inFlight = (line: string) => line.includes('"POST"') && line.includes('"msg":"incoming request"');
  while (!dev.output().split('\n').some(inFlight)) await sleep(20);
  return {
    finish: async () => {
      socket.write(body.slice(5)); // not end(): a half-closed request is abandoned by Node's server
      await closed;
      return Number(response.match(/^HTTP\/1\.1 (\d{3})/)?.[1]);
    },
  };
}

async function freeSlot(dev: Dev): Promise<string> {
  const response = await fetch(
    `${dev.url}/api/clinics/${dev.exported('CLINIC')}/slots?available=true&limit=1`,
    {
      headers: { authorization: `Bearer ${dev.exported('PATIENT_TOKEN')}` },
    },
  );
  return ((await response.json()) as { slots: Array<{ id: string }> }).slots[0]?.id as string;
}

const clusterOf = (dev: Dev) => dev.output().match(/data in (\S+)\)/)?.[1] as string;

/** The local fake providers it announced ("stripe: local fake at http://…"), by provider. */
const fakesOf = (dev: Dev): Record<string, string> =>
  Object.fromEntries(
    [...dev.output().matchAll(/"msg":"(\w+): local fake at (http:\/\/[^"]+)"/g)].map((m) => [
      m[1] as string,
      m[2] as string,
    ]),
  );

async function refused(url: string): Promise<boolean> {
  return fetch(url, { signal: AbortSignal.timeout(5_000) }).then(
    () => false,
    (error: Error) => (error.cause as { code?: string } | undefined)?.code === 'ECONNREFUSED',
  );
}

async function postmasterGone(clusterDir: string): Promise<void> {
  while (existsSync(path.join(clusterDir, 'postmaster.pid'))) await sleep(100);
}

// A first start creates the cluster and applies every migration: slow on a busy machine.
describe('npm start and Ctrl-C', { timeout: 180_000 }, () => {
  afterAll(async () => {
    // After a failure: end what is still running, then the postmaster it would leave behind
    // (a start stops an orphan, and its stop() stops the fresh one).
    const running = started.filter((child) => child.exitCode === null && child.signalCode === null);
    for (const child of running) child.kill('SIGKILL');
    if (running.length > 0) await (await startEmbeddedPostgres({ dataDir })).stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  let bookedSlot = '';

  it('serves as a non-superuser login; one Ctrl-C (relayed twice) drains, stops the database and exits 0', async () => {
    const dev = await startDev();
    expect((await fetch(`${dev.url}/readyz`)).status).toBe(200);
    const sessions = await query<{ usename: string; application_name: string }>(
      `SELECT usename, application_name FROM pg_stat_activity WHERE application_name LIKE 'carebook%'`,
    );
    expect(sessions.length).toBeGreaterThan(0);
    expect(new Set(sessions.map((session) => session.usename))).toEqual(new Set(['carebook_login']));
    expect(
      await query(`SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = 'carebook_login'`),
    ).toEqual([{ rolsuper: false, rolbypassrls: false }]);

    // No provider variable is set: every provider has a local fake, and the control server answers.
    const fakes = fakesOf(dev);
    expect(Object.keys(fakes).sort()).toEqual(['daily', 'stripe', 'twilio', 'whatsapp']);
    expect((await fetch(dev.exported('FAKES'))).status).toBe(200);

    bookedSlot = await freeSlot(dev);
    const booking = await stalledBooking(dev, bookedSlot);
    dev.ctrlC();
    dev.ctrlC(); // npm's relay of the same keypress
    while (!dev.output().includes('shutting down')) await sleep(50);
    expect(await booking.finish()).toBe(201); // the request in flight was answered
    expect(await dev.exited).toBe(0);
    expect(dev.output()).not.toContain('second signal');
    await postmasterGone(clusterOf(dev));
    for (const line of dev.output().split('\n')) expect(line.length).toBeLessThan(2_000);
    // The fakes stopped with it.
    for (const url of [dev.exported('FAKES'), ...Object.values(fakes)]) expect(await refused(url)).toBe(true);
  });

  it('keeps the data across a restart; a second Ctrl-C exits at once, and the database still stops', async () => {
    // A provider with its own variables gets no fake (the key is never logged).
    const dev = await startDev({
      STRIPE_SECRET_KEY: 'sk_test_never_logged',
      STRIPE_API_BASE: 'http://127.0.0.1:9',
    });
    expect(Object.keys(fakesOf(dev)).sort()).toEqual(['daily', 'twilio', 'whatsapp']);
    expect(dev.output()).not.toContain('sk_test_never_logged');
    expect(
      await query(`SELECT count(*)::int AS n FROM appointments WHERE slot_id = $1`, [bookedSlot]),
    ).toEqual([{ n: 1 }]);
    const booking = await stalledBooking(dev, await freeSlot(dev));
    dev.ctrlC();
    while (!dev.output().includes('shutting down')) await sleep(50);
    await sleep(RELAY_WINDOW_MS * 1.5); // longer than a relay takes: the next Ctrl-C is the user's
    expect(dev.child.exitCode).toBeNull(); // still draining: the stalled request holds it
    dev.ctrlC();
    expect(await dev.exited).toBe(130);
    expect(dev.output()).toContain('second signal: exiting without finishing cleanup');
    await postmasterGone(clusterOf(dev));
    await booking.finish().catch(() => {}); // its server is gone: the socket just closes
  });
});
