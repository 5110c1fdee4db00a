// The CLI as an operator meets it: one-line errors for bad configuration or an unreachable
// database, usage on misuse, and `carebook dev` (what `npm start` runs) serving /healthz and
// /readyz, then shutting down cleanly on SIGTERM.
import { randomBytes } from 'node:crypto';
import { readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { main } from '../src/cli/program.js';
import { report } from '../src/cli/report.js';
import { ROOT, runCli, startCli, waitForOutput } from './helpers/cli.js';
import { createTestDatabase, type TestDatabase } from './helpers/db.js';

const oneLine = (text: string) => text.trim().split('\n');

describe('carebook CLI', () => {
  it('a malformed DATABASE_URL stops it with one line saying how to fix it', async () => {
    const result = await runCli(['migrate', 'status'], { DATABASE_URL: 'mysql://root@localhost/x' });
    expect(result.code).toBe(2);
    expect(oneLine(result.stderr)).toEqual([
      'carebook: invalid configuration: DATABASE_URL has scheme "mysql:"; expected postgres://user:password@host:5432/database',
    ]);
  });

  it('an unreachable database gives one line without the password, not a stack trace', async () => {
    const result = await runCli(['migrate', 'status'], {
      DATABASE_URL: 'postgres://app:s3cret@127.0.0.1:1/carebook',
    });
    expect(result.code).toBe(1);
    expect(oneLine(result.stderr)).toEqual([
      'carebook: cannot reach the database at postgres://app:***@127.0.0.1:1/carebook: nothing accepts connections on 127.0.0.1:1; is PostgreSQL running there? (ECONNREFUSED)',
    ]);
    expect(result.stderr).not.toContain('s3cret');
  });

  it('lists its problems when several settings are wrong', async () => {
    const result = await runCli(['serve'], {
      PORT: 'eighty',
      LOG_LEVEL: 'loud',
      CAREBOOK_JWT_SECRET: 'short',
    });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('PORT="eighty" is not a whole number from 0 to 65535');
    expect(result.stderr).toContain('LOG_LEVEL="loud" is not one of');
    expect(result.stderr).toContain('CAREBOOK_JWT_SECRET is shorter than 32 characters');
    expect(result.stderr).not.toMatch(/\n\s+at /);
  });

  it('mints a development token that the API accepts, and explains what is missing', async () => {
    const secret = 'cli-test-secret-0123456789abcdefghijklmnopqrstuvwxyz';
    const result = await runCli(
      ['token', '--role', 'staff', '--clinic-id', '11111111-1111-4111-8111-111111111111'],
      {
        CAREBOOK_JWT_SECRET: secret,
      },
    );
    expect(result.code).toBe(0);
    const { createTokenVerifier } = await import('../src/http/auth.js');
    const principal = await createTokenVerifier({
      jwtSecret: secret,
      jwksUrl: null,
      issuer: null,
      audience: null,
      maxAgeSeconds: 43_200,
    })(result.stdout.trim());
    expect(principal).toEqual({
      sub: 'staff-cli',
      role: 'staff',
      clinicId: '11111111-1111-4111-8111-111111111111',
      patientId: null,
    });
    const missing = await runCli(
      ['token', '--role', 'patient', '--clinic-id', '11111111-1111-4111-8111-111111111111'],
      {
        CAREBOOK_JWT_SECRET: secret,
      },
    );
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('a patient token needs --patient-id');
  });

  it('prints usage for an unknown command and for no command', async () => {
    const unknown = await runCli(['frobnicate']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("error: unknown command 'frobnicate'");
    const none = await runCli([]);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('Usage: carebook [options] [command]');
  });

  describe('arguments', () => {
    // `carebook <args>` run in this process, through the same main() and report() as the binary,
    // with what it prints: forty Node starts for the --help sweep cost 47 s of CI, and each start
    // costs 2.6–3.6 s of CPU through tsx on Node 20. Run one at a time (the capture is global).
    async function inProcess(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
      const output = { stdout: '', stderr: '' };
      const writes = { stdout: process.stdout.write, stderr: process.stderr.write };
      const capture = (stream: 'stdout' | 'stderr') =>
        ((chunk: string | Uint8Array) => {
          output[stream] += chunk.toString();
          return true;
        }) as typeof process.stdout.write;
      // As runCli does: no DATABASE_URL, so a command that wrongly got past its checks reaches no
      // database.
      const databaseUrl = process.env.DATABASE_URL;
      delete process.env.DATABASE_URL;
      process.stdout.write = capture('stdout');
      process.stderr.write = capture('stderr');
      try {
        const code = await main(args).catch((error) => report(error, args[0]));
        return { code, ...output };
      } finally {
        process.stdout.write = writes.stdout;
        process.stderr.write = writes.stderr;
        if (databaseUrl !== undefined) process.env.DATABASE_URL = databaseUrl;
      }
    }
    const helpOf = (args: string[]) => inProcess([...args, '--help']);

    // Every command the top-level help lists, and every subcommand of those that have some.
    async function commandsIn(args: string[]): Promise<string[]> {
      const section = (await helpOf(args)).stdout.split('Commands:\n')[1] ?? '';
      return [...section.matchAll(/^ {2}([a-z][a-z-]*)\b/gm)]
        .map((m) => m[1] as string)
        .filter((name) => name !== 'help');
    }

    it('answers --help with exit 0 for every command and subcommand, and --version with the version', async () => {
      const commands = await commandsIn([]);
      expect(commands).toEqual(
        expect.arrayContaining(['dev', 'serve', 'worker', 'migrate', 'status', 'sweep', 'replay', 'token']),
      );
      const paths = [...commands.map((name) => [name])];
      for (const name of commands) for (const sub of await commandsIn([name])) paths.push([name, sub]);
      expect(paths).toContainEqual(['migrate', 'down']);
      for (const path of paths) {
        const result = await helpOf(path);
        expect({ path, code: result.code }).toEqual({ path, code: 0 });
        expect(result.stdout).toContain(`Usage: carebook ${path.join(' ')}`);
      }
      // And as the binary, in a process of its own: the exit code a shell sees.
      const [top, nested, version, helpToken] = await Promise.all([
        runCli(['--help']),
        runCli(['migrate', 'down', '--help']),
        runCli(['--version']),
        runCli(['help', 'token']),
      ]);
      expect(top).toMatchObject({ code: 0, stdout: (await helpOf([])).stdout });
      expect(nested).toMatchObject({ code: 0, stdout: (await helpOf(['migrate', 'down'])).stdout });
      const { version: expected } = JSON.parse(await readFile(path.join(ROOT, 'package.json'), 'utf8'));
      expect(version).toMatchObject({ code: 0, stdout: `${expected}\n` });
      expect(helpToken.stdout).toContain('--role <role>');
    }, 180_000);

    it('exits 2 with a suggestion for a mistyped option or command', async () => {
      const option = await inProcess(['status', '--jsn']);
      const nested = await inProcess(['migrate', 'down', '--tto', '3']);
      // And as the binary: the exit code a shell sees.
      const name = await runCli(['stauts']);
      expect(option).toMatchObject({ code: 2 });
      expect(option.stderr).toContain("error: unknown option '--jsn'\n(Did you mean --json?)");
      expect(nested).toMatchObject({ code: 2 });
      expect(nested.stderr).toContain('(Did you mean --to?)');
      expect(name).toMatchObject({ code: 2 });
      expect(name.stderr).toContain('(Did you mean status?)');
    });

    it('exits 2 on a bad option value, saying what a good one looks like', async () => {
      const to = await inProcess(['migrate', 'down', '--to', '-1']);
      const limit = await inProcess(['replay', '--reason', 'INC-1 test', '--limit', '-5']);
      const role = await inProcess(['token', '--role', 'doctor']);
      // And as the binary: the exit code a shell sees.
      const ttl = await runCli(['token', '--role', 'platform_admin', '--ttl', 'forever']);
      for (const result of [to, limit, role, ttl]) {
        expect(result.code).toBe(2);
        expect(result.stderr).not.toMatch(/\n\s+at /);
      }
      expect(to.stderr).toContain('Expected a whole number from 0 to 99999, e.g. --to 9.');
      expect(limit.stderr).toContain('Expected a whole number from 1 to 100000');
      expect(role.stderr).toContain('Allowed choices are patient, staff, clinic_admin, platform_admin.');
      expect(ttl.stderr).toContain('e.g. 30m, 12h or 7d');
    });

    it('validates --metrics-port as the configuration validates CAREBOOK_WORKER_METRICS_PORT', async () => {
      const result = await runCli(['worker', '--metrics-port', '99999']);
      expect(result.code).toBe(2);
      expect(oneLine(result.stderr)).toEqual([
        'carebook: invalid configuration: CAREBOOK_WORKER_METRICS_PORT="99999" is not a whole number from 0 to 65535',
      ]);
    });
  });

  describe('dev (npm start)', () => {
    let db: TestDatabase | undefined;
    const dataDir = path.join(ROOT, '.carebook', `dev-test-${randomBytes(4).toString('hex')}`);
    afterAll(async () => {
      await db?.drop();
      await rm(dataDir, { recursive: true, force: true });
    });

    it('migrates, serves /healthz and /readyz, prints demo tokens that work, and exits 0 on SIGTERM', async () => {
      // With the embedded server under test, dev starts its own; against DATABASE_URL, dev is
      // pointed at an empty database and migrates it.
      if (!inject('embeddedServer')) db = await createTestDatabase({ empty: true });
      const child = startCli(['dev', '--demo-data'], {
        PORT: '0',
        CAREBOOK_DATA_DIR: dataDir,
        DATABASE_URL: db?.url,
        LOG_LEVEL: 'warn',
      });
      const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
      let output = '';
      child.stdout.on('data', (chunk) => (output += chunk));
      const [, url] = await waitForOutput(child, /Carebook is running at (http:\/\/\S+)/);
      // The tokens may have come in the same chunk as the URL: look at the whole output.
      while (!output.includes('ADMIN_TOKEN=')) await sleep(50);
      const health = await fetch(`${url}/healthz`);
      expect(health.status).toBe(200);
      expect(await health.json()).toEqual({ status: 'ok' });
      const ready = await fetch(`${url}/readyz`);
      expect(ready.status).toBe(200);
      expect(await ready.json()).toMatchObject({
        status: 'ready',
        database: 'ok',
        migrations: { pending: [], problems: [] },
      });

      // The README's walkthrough: list slots, book, retry the same request, cancel.
      const exported = (name: string) => output.match(new RegExp(`export ${name}=(\\S+)`))?.[1] ?? '';
      const auth = {
        authorization: `Bearer ${exported('PATIENT_TOKEN')}`,
        'content-type': 'application/json',
      };
      const slots = await (
        await fetch(`${url}/api/clinics/${exported('CLINIC')}/slots?available=true&limit=1`, {
          headers: auth,
        })
      ).json();
      const booking = {
        method: 'POST',
        headers: { ...auth, 'idempotency-key': 'readme-1' },
        body: JSON.stringify({ slot_id: (slots as { slots: Array<{ id: string }> }).slots[0]?.id }),
      };
      const first = await fetch(`${url}/api/appointments`, booking);
      expect(first.status).toBe(201);
      const retry = await fetch(`${url}/api/appointments`, booking);
      expect(retry.headers.get('idempotent-replayed')).toBe('true');
      const { appointment } = (await first.json()) as { appointment: { id: string } };
      const cancelled = await fetch(`${url}/api/appointments/${appointment.id}/cancel`, {
        method: 'POST',
        headers: { authorization: auth.authorization },
      });
      expect(((await cancelled.json()) as { appointment: { status: string } }).appointment.status).toBe(
        'cancelled',
      );

      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    });
  });
});
