// The deployment files, checked statically (no container engine here): the Dockerfile's stages,
// user, entrypoint and health check; docker-compose.yml's services, ordering and environment —
// the same variables as the README's configuration table, secrets only from the host; and the
// Prometheus and Grafana provisioning files it mounts.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { ENV_VARS, loadConfig } from '../../src/config.js';
import { MIGRATIONS_DIR } from '../../src/db/migrate/files.js';

const ROOT = path.resolve(import.meta.dirname, '..', '..');
const read = (file: string) => readFileSync(path.join(ROOT, file), 'utf8');

type Yaml = Record<string, unknown>;
const asMap = (value: unknown): Yaml => {
  expect(value, 'expected a YAML mapping').toBeTypeOf('object');
  expect(Array.isArray(value)).toBe(false);
  return value as Yaml;
};

/** Variable names of the README's "Configuration" table (rows that start with | `NAME` |). */
function readmeVariables(): string[] {
  const readme = read('README.md');
  const start = readme.indexOf('\n## Configuration');
  expect(start, 'README.md has a "## Configuration" section').toBeGreaterThan(-1);
  const end = readme.indexOf('\n## ', start + 1);
  const section = readme.slice(start, end === -1 ? undefined : end);
  return [...section.matchAll(/^\| `([A-Z][A-Z0-9_]*)` \|/gm)].map((match) => match[1]!);
}

// --- docker-compose.yml ----------------------------------------------------------------------

// merge: true resolves the `<<: *carebook-env` merge keys the way Compose does.
const compose = asMap(parse(read('docker-compose.yml'), { merge: true }));
const services = asMap(compose.services);
const service = (name: string) => asMap(services[name]);

/** `environment` as a map, whether written as a mapping or as a list of NAME=value. */
function environment(name: string): Record<string, string> {
  const env = service(name).environment ?? {};
  const entries = Array.isArray(env)
    ? env.map((item: string) => {
        const at = item.indexOf('=');
        return at === -1 ? [item, ''] : [item.slice(0, at), item.slice(at + 1)];
      })
    : Object.entries(env as Yaml);
  return Object.fromEntries(entries.map(([key, value]) => [String(key), value == null ? '' : String(value)]));
}

const command = (name: string) => {
  const value = service(name).command;
  return Array.isArray(value) ? value.join(' ') : String(value);
};

/** ${VAR}, ${VAR:-}, ${VAR-}, ${VAR:?message} or ${VAR?message}: a value that is never written here. */
const HOST_REFERENCE = /^\$\{[A-Za-z_][A-Za-z0-9_]*(?:(?::?-)|(?::?\?[^}]*))?\}$/;
const SECRET_NAME = /(SECRET|TOKEN|PASSWORD)$/;

/** What Compose would substitute, with `${VAR:?…}` (required) given a placeholder. */
function interpolate(value: string): string {
  return value.replace(
    /\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}/g,
    (_all, name: string, op: string | undefined, rest: string) =>
      op?.endsWith('-') ? rest : op?.endsWith('?') ? `placeholder${name.length}` : '',
  );
}

describe('docker-compose.yml', () => {
  const expectedVariables = [...new Set([...readmeVariables(), ...ENV_VARS.map((v) => v.name)])];

  it('the README table and ENV_VARS list the same variables (the set checked below)', () => {
    expect(readmeVariables().length).toBeGreaterThan(10);
    expect([...readmeVariables()].sort()).toEqual(ENV_VARS.map((v) => v.name).sort());
  });

  it('has the services, with the Carebook image for migrate, api and worker', () => {
    expect(Object.keys(services)).toEqual(
      expect.arrayContaining(['postgres', 'migrate', 'api', 'worker', 'prometheus', 'grafana']),
    );
    const image = service('api').image;
    expect(image).toMatch(/^carebook:/);
    for (const name of ['migrate', 'api', 'worker']) {
      expect(service(name).image, name).toBe(image);
      expect(asMap(service(name).build).context, name).toBe('.');
    }
    expect(String(service('postgres').image)).toMatch(/^postgres:15/);
    expect(String(service('prometheus').image)).toMatch(/^prom\/prometheus/);
    expect(String(service('grafana').image)).toMatch(/^grafana\/grafana/);
  });

  it('migrate runs `migrate up` once, after postgres is healthy; api and worker wait for it', () => {
    expect(command('migrate')).toBe('migrate up');
    expect(command('api')).toBe('serve');
    expect(command('worker')).toBe('worker');
    expect(String(service('migrate').restart)).toBe('no');
    expect(asMap(service('migrate').depends_on).postgres).toMatchObject({ condition: 'service_healthy' });
    expect(asMap(service('postgres').healthcheck).test).toBeDefined();
    for (const name of ['api', 'worker']) {
      expect(asMap(service(name).depends_on).migrate, name).toMatchObject({
        condition: 'service_completed_successfully',
      });
    }
  });

  it('publishes the API on 3000, lets Prometheus reach the worker on 9464, Grafana on 3001', () => {
    expect((service('api').ports as string[]).map(String)).toContain('3000:3000');
    const worker = [
      ...((service('worker').expose as unknown[]) ?? []),
      ...((service('worker').ports as unknown[]) ?? []),
    ];
    expect(worker.map(String).some((port) => /(^|:)9464$/.test(port))).toBe(true);
    expect((service('grafana').ports as string[]).some((port) => /(^|:)3001:3000$/.test(String(port)))).toBe(
      true,
    );
    expect(
      (service('prometheus').ports as string[]).some((port) => /(^|:)9090:9090$/.test(String(port))),
    ).toBe(true);
  });

  it('shares one environment anchor (x-carebook-env) between api and worker', () => {
    const raw = read('docker-compose.yml');
    expect(raw).toMatch(/^x-carebook-env: &carebook-env$/m);
    expect(compose['x-carebook-env']).toBeDefined();
    expect(environment('api')).toEqual(environment('worker'));
  });

  it('sets every variable of the README configuration table for api or worker', () => {
    const set = new Set([...Object.keys(environment('api')), ...Object.keys(environment('worker'))]);
    expect(expectedVariables.filter((name) => !set.has(name))).toEqual([]);
  });

  it('takes secrets only from the host environment, never as literals or defaults', () => {
    const offenders: string[] = [];
    for (const name of Object.keys(services)) {
      for (const [key, value] of Object.entries(environment(name))) {
        if (SECRET_NAME.test(key) && !HOST_REFERENCE.test(value)) offenders.push(`${name}.${key}=${value}`);
      }
    }
    expect(offenders).toEqual([]);
    // The database password inside DATABASE_URL is a reference as well.
    const url = environment('api').DATABASE_URL!;
    expect(url).toMatch(/^postgres:\/\/[^:@]+:\$\{[A-Z_]+:\?[^}]*\}@postgres:5432\/[a-z_]+$/);
    expect(asMap(service('grafana').environment).GF_SECURITY_ADMIN_PASSWORD).toMatch(
      /^\$\{GRAFANA_ADMIN_PASSWORD:\?[^}]+\}$/,
    );
    expect(String(asMap(service('grafana').environment).GF_AUTH_ANONYMOUS_ENABLED)).toBe('false');
  });

  it('has values that Carebook accepts: listening on all interfaces, worker metrics on 9464', () => {
    const env = Object.fromEntries(
      Object.entries(environment('worker')).map(([key, value]) => [key, interpolate(value)]),
    );
    const config = loadConfig(env, '/app');
    expect(config.host).toBe('0.0.0.0');
    expect(config.port).toBe(3000);
    expect(config.worker.metricsPort).toBe(9464);
    expect(config.databaseUrl).toMatch(/@postgres:5432\//);
  });

  it('mounts files that exist in the repository', () => {
    const sources = Object.values(services).flatMap((value) =>
      ((asMap(value).volumes as unknown[]) ?? [])
        .map((volume) => (typeof volume === 'string' ? volume.split(':')[0]! : String(asMap(volume).source)))
        .filter((source) => source.startsWith('./')),
    );
    expect(sources).toEqual(
      expect.arrayContaining([
        './docs/ops/prometheus.yml',
        './docs/ops/grafana-dashboard.json',
        './docs/ops/grafana/provisioning/datasources',
        './docs/ops/grafana/provisioning/dashboards',
      ]),
    );
    for (const source of sources) expect(existsSync(path.join(ROOT, source)), source).toBe(true);
  });

  it('provisions Grafana with the Prometheus datasource and the dashboard directory it mounts', () => {
    const datasources = asMap(parse(read('docs/ops/grafana/provisioning/datasources/prometheus.yml')));
    expect(datasources.datasources).toEqual([
      expect.objectContaining({ type: 'prometheus', uid: 'prometheus', url: 'http://prometheus:9090' }),
    ]);
    const dashboards = asMap(parse(read('docs/ops/grafana/provisioning/dashboards/carebook.yml')));
    const provider = (dashboards.providers as Yaml[])[0]!;
    const dashboardPath = String(asMap(provider.options).path);
    const mount = (service('grafana').volumes as string[]).find((volume) =>
      volume.startsWith('./docs/ops/grafana-dashboard.json:'),
    );
    expect(mount?.split(':')[1]).toBe(`${dashboardPath}/carebook.json`);
  });
});

// --- Dockerfile ------------------------------------------------------------------------------

/** Instructions with continuation lines joined and comments dropped. */
function dockerfileInstructions(text: string): Array<{ keyword: string; args: string }> {
  const logical = text
    .replace(/\\\r?\n/g, ' ')
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
  return logical.map((line) => {
    const [keyword, ...rest] = line.split(/\s+/);
    return { keyword: keyword!.toUpperCase(), args: rest.join(' ') };
  });
}

describe('Dockerfile', () => {
  const instructions = dockerfileInstructions(read('Dockerfile'));
  const lastFrom = instructions.map((i) => i.keyword).lastIndexOf('FROM');
  const runtime = instructions.slice(lastFrom);
  const index = (keyword: string) => runtime.findIndex((i) => i.keyword === keyword);

  it('is multi-stage on node 24 slim', () => {
    const froms = instructions.filter((i) => i.keyword === 'FROM');
    expect(froms.length).toBeGreaterThanOrEqual(2);
    expect(read('Dockerfile')).toMatch(/node:24-bookworm-slim/);
    const build = instructions.filter((i) => i.keyword === 'RUN').map((i) => i.args);
    expect(build.some((args) => /npm ci\b/.test(args) && !/--omit=dev/.test(args))).toBe(true);
    expect(build).toContain('npm run build');
    // The production install skips `prepare` (tsc is a dev dependency).
    expect(build.some((args) => /npm ci .*--omit=dev/.test(args) && /--ignore-scripts/.test(args))).toBe(
      true,
    );
  });

  it('ships dist/, migrations/ where the runner looks for them, tools/, production node_modules', () => {
    expect(path.relative(ROOT, MIGRATIONS_DIR)).toBe('migrations');
    const copies = runtime.filter((i) => i.keyword === 'COPY').map((i) => i.args);
    expect(copies).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^--from=\w+ \/app\/dist \.\/dist$/),
        expect.stringMatching(/^--from=\w+ \/app\/node_modules \.\/node_modules$/),
        'migrations ./migrations',
        'tools ./tools',
        'bin ./bin',
        expect.stringMatching(/^package\.json/),
      ]),
    );
    expect(runtime.find((i) => i.keyword === 'WORKDIR')?.args).toBe('/app');
  });

  it('runs as a non-root user, node dist/cli.js, serve by default, with a health check', () => {
    const user = runtime[index('USER')];
    expect(user, 'USER in the runtime stage').toBeDefined();
    expect(user!.args).not.toMatch(/^(root|0)(:|$)/);
    expect(index('USER')).toBeLessThan(index('ENTRYPOINT'));
    expect(JSON.parse(runtime[index('ENTRYPOINT')]!.args)).toEqual(['node', 'dist/cli.js']);
    expect(JSON.parse(runtime[index('CMD')]!.args)).toEqual(['serve']);
    const healthcheck = runtime[index('HEALTHCHECK')];
    expect(healthcheck?.args).toMatch(/\/healthz/);
    expect(healthcheck?.args).toMatch(/fetch\(/);
    expect(runtime[index('EXPOSE')]?.args.split(/\s+/)).toEqual(expect.arrayContaining(['3000', '9464']));
    expect(runtime.some((i) => i.keyword === 'ENV' && /HOST=0\.0\.0\.0/.test(i.args))).toBe(true);
  });

  it('has a .dockerignore that keeps local state out of the build context', () => {
    const ignored = read('.dockerignore').split(/\r?\n/);
    for (const entry of ['node_modules', 'dist', '.carebook', 'artifacts', '.git', 'coverage', '*.log'])
      expect(ignored).toContain(entry);
  });
});

// --- docs/ops/prometheus.yml -----------------------------------------------------------------

describe('docs/ops/prometheus.yml', () => {
  const config = asMap(parse(read('docs/ops/prometheus.yml')));
  const jobs = (config.scrape_configs as Yaml[]).map((job) => ({
    name: job.job_name,
    path: job.metrics_path ?? '/metrics',
    targets: ((job.static_configs as Yaml[]) ?? []).flatMap((c) => c.targets as string[]),
  }));

  it('scrapes the API and the worker every 15 s on the metrics ports compose gives them', () => {
    expect(asMap(config.global).scrape_interval).toBe('15s');
    expect(jobs).toEqual(
      expect.arrayContaining([
        {
          name: 'carebook-api',
          path: '/metrics',
          targets: [`api:${environment('api').CAREBOOK_METRICS_PORT}`],
        },
        {
          name: 'carebook-worker',
          path: '/metrics',
          targets: [`worker:${environment('worker').CAREBOOK_WORKER_METRICS_PORT}`],
        },
      ]),
    );
    expect(jobs.map((job) => job.targets[0])).toEqual(expect.arrayContaining(['api:9465', 'worker:9464']));
  });
});
