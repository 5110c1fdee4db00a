// docs/ops/grafana-dashboard.json queries only metrics the app exports: every metric name in a
// panel's PromQL is on /metrics of a test app, used as its type allows (rate/increase on counters
// and histogram series), and the dashboard has the panels of the in-app /admin dashboard.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTestApp, metricsOf } from '../helpers/app.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';

const ROOT = path.resolve(import.meta.dirname, '..', '..');
// Every panel and query names its datasource through the DS_PROMETHEUS input/variable.
// biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana's datasource reference, not a JS template
const DS_REFERENCE = { type: 'prometheus', uid: '${DS_PROMETHEUS}' };

interface Target {
  expr?: string;
  datasource?: { type?: string; uid?: string };
}
interface Panel {
  type: string;
  title: string;
  description?: string;
  datasource?: { type?: string; uid?: string };
  targets?: Target[];
  panels?: Panel[];
  fieldConfig?: {
    defaults?: { unit?: string; thresholds?: { steps: Array<{ color: string; value: number | null }> } };
  };
}
interface Dashboard {
  __inputs?: Array<{ name: string; type: string; pluginId: string }>;
  schemaVersion: number;
  uid: string;
  title: string;
  panels: Panel[];
  templating: { list: Array<{ name: string; type: string; query?: string }> };
}

const dashboard = JSON.parse(
  readFileSync(path.join(ROOT, 'docs/ops/grafana-dashboard.json'), 'utf8'),
) as Dashboard;
const panels = dashboard.panels.flatMap((panel) => [panel, ...(panel.panels ?? [])]);
const queryPanels = panels.filter((panel) => panel.type !== 'row');
const exprs = queryPanels.flatMap((panel) => (panel.targets ?? []).map((target) => target.expr ?? ''));

// Words that look like identifiers in PromQL but are not metric names.
const KEYWORDS = new Set([
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'bool',
  'and',
  'or',
  'unless',
  'offset',
  'inf',
  'nan',
]);

/** Metric names of the vector selectors in a PromQL expression. */
function metricNames(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, ' ') // string literals
    .replace(/\{[^}]*\}/g, ' ') // label matchers
    .replace(/\[[^\]]*\]/g, ' ') // range and subquery selectors
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' '); // grouping labels
  const names = new Set<string>();
  for (const match of stripped.matchAll(/(?<![\w:.])([a-zA-Z_:][a-zA-Z0-9_:]*)(?![\w:]|\s*\()/g)) {
    const name = match[1]!;
    if (!KEYWORDS.has(name.toLowerCase())) names.add(name);
  }
  return [...names];
}

/** Metric names inside rate( / increase( / irate( — these must be counters (or histogram series). */
function ratedNames(expr: string): string[] {
  return [...expr.matchAll(/\b(?:rate|irate|increase)\(\s*([a-zA-Z_:][a-zA-Z0-9_:]*)/g)].map((m) => m[1]!);
}

/** name → type from `# TYPE` lines; histograms also contribute their _bucket/_sum/_count series. */
function exposition(text: string): Map<string, string> {
  const types = new Map<string, string>();
  for (const match of text.matchAll(/^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (\w+)$/gm)) {
    const [, name, type] = match as unknown as [string, string, string];
    types.set(name, type);
    if (type === 'histogram' || type === 'summary') {
      for (const suffix of ['_bucket', '_sum', '_count']) types.set(`${name}${suffix}`, type);
    }
  }
  return types;
}

describe('PromQL metric-name extraction', () => {
  it('finds the selectors and nothing else', () => {
    expect(
      metricNames('histogram_quantile(0.99, sum by (le) (rate(booking_duration_seconds_bucket[5m])))'),
    ).toEqual(['booking_duration_seconds_bucket']);
    expect(metricNames('sum(max by (provider) (webhook_dead_letters)) or vector(0)')).toEqual([
      'webhook_dead_letters',
    ]);
    expect(
      metricNames('sum by (provider, outcome) (rate(webhook_processed_total{outcome!="success"}[5m]))'),
    ).toEqual(['webhook_processed_total']);
    expect(metricNames('a_total / on (job) group_left b_total offset 5m')).toEqual(['a_total', 'b_total']);
  });
});

describe('docs/ops/grafana-dashboard.json against /metrics', () => {
  let db: TestDatabase;
  let app: FastifyInstance;
  let exported: Map<string, string>;
  beforeAll(async () => {
    db = await createTestDatabase();
    app = (await buildTestApp(db)).app;
    exported = exposition(await metricsOf(app));
  });
  afterAll(async () => {
    await app?.close();
    await db?.drop();
  });

  const missing = (expressions: string[]) =>
    [...new Set(expressions.flatMap(metricNames))].filter((name) => !exported.has(name));

  it('every metric a panel queries is exported by the app', () => {
    expect(exprs.length).toBeGreaterThanOrEqual(9);
    expect(exprs.every((expr) => metricNames(expr).length > 0)).toBe(true);
    expect(missing(exprs)).toEqual([]);
  });

  it('every outbox metric the app exports has a panel, and outbox deliveries are charted by kind and outcome', () => {
    const outbox = [...exported.keys()].filter((name) => name.startsWith('outbox_'));
    expect(outbox.sort()).toEqual(['outbox_jobs', 'outbox_oldest_due_age_seconds']);
    const charted = new Set(exprs.flatMap(metricNames));
    expect(outbox.filter((name) => !charted.has(name))).toEqual([]);
    expect(exprs.some((expr) => /queue_items_settled_total\{kind=~"outbox/.test(expr))).toBe(true);
  });

  it('would catch a misspelled metric', () => {
    expect(missing(['sum by (outcome) (rate(booking_atempts_total[5m]))'])).toEqual([
      'booking_atempts_total',
    ]);
    expect(missing(['webhook_queue_dept'])).toEqual(['webhook_queue_dept']);
  });

  it('takes rate/increase of counters and histogram series only, never of gauges', () => {
    const rated = exprs.flatMap(ratedNames);
    expect(rated.length).toBeGreaterThan(0);
    for (const name of rated)
      expect([name, exported.get(name)]).toEqual([name, expect.stringMatching(/^(counter|histogram)$/)]);
    for (const gauge of [
      'webhook_queue_depth',
      'webhook_dead_letters',
      'webhook_oldest_pending_age_seconds',
      'outbox_jobs',
      'outbox_oldest_due_age_seconds',
    ])
      expect(exported.get(gauge)).toBe('gauge');
  });
});

describe('docs/ops/grafana-dashboard.json panels', () => {
  const panelFor = (pattern: RegExp) =>
    queryPanels.find((panel) => (panel.targets ?? []).some((target) => pattern.test(target.expr ?? '')));

  it.each([
    ['booking attempts by outcome', /sum by \(outcome\) \(rate\(booking_attempts_total\[5m\]\)\)/, 'reqps'],
    ['booking conflicts', /rate\(booking_conflicts_total\[5m\]\)/, 'reqps'],
    [
      'booking latency p99',
      /histogram_quantile\(0\.99, sum by \(le\) \(rate\(booking_duration_seconds_bucket\[5m\]\)\)\)/,
      's',
    ],
    [
      'booking latency p50',
      /histogram_quantile\(0\.5, sum by \(le\) \(rate\(booking_duration_seconds_bucket\[5m\]\)\)\)/,
      's',
    ],
    ['holds expired', /increase\(booking_holds_expired_total\[1h\]\)/, 'short'],
    [
      'webhook processing rate',
      /sum by \(provider, outcome\) \(rate\(webhook_processed_total\[5m\]\)\)/,
      'reqps',
    ],
    ['webhooks received', /webhook_received_total/, 'reqps'],
    ['queue depth', /webhook_queue_depth/, 'short'],
    ['oldest pending age', /webhook_oldest_pending_age_seconds/, 's'],
    ['dead letters', /webhook_dead_letters/, 'short'],
    ['outbox depth (due)', /max by \(kind\) \(outbox_jobs\{state="due"\}\)/, 'short'],
    ['outbox scheduled', /outbox_jobs\{state="scheduled"\}/, 'short'],
    ['oldest due outbox job', /max by \(kind\) \(outbox_oldest_due_age_seconds\)/, 's'],
    [
      'outbox deliveries by kind and outcome',
      /sum by \(kind, outcome\) \(rate\(queue_items_settled_total\{kind=~"outbox/,
      'reqps',
    ],
    ['outbox needs_reconcile', /outbox_jobs\{state="needs_reconcile"\}/, 'short'],
    ['outbox dead letters', /outbox_jobs\{state="dead_letter"\}/, 'short'],
  ])('has a panel for %s', (_name, pattern, unit) => {
    const panel = panelFor(pattern);
    expect(panel).toBeDefined();
    expect(panel!.fieldConfig?.defaults?.unit).toBe(unit);
    expect(panel!.description?.length).toBeGreaterThan(10);
  });

  it.each([
    ['webhook', /webhook_dead_letters/, 'red'],
    ['outbox', /outbox_jobs\{state="dead_letter"\}/, 'red'],
    ['needs_reconcile', /outbox_jobs\{state="needs_reconcile"\}/, 'orange'],
  ])(
    'shows %s dead letters / needs_reconcile as a stat: green at 0, coloured from 1',
    (_name, pattern, colour) => {
      const panel = panelFor(pattern)!;
      expect(panel.type).toBe('stat');
      expect(panel.fieldConfig?.defaults?.thresholds?.steps).toEqual([
        { color: 'green', value: null },
        { color: colour, value: 1 },
      ]);
    },
  );

  it('works imported (__inputs DS_PROMETHEUS) and provisioned (a DS_PROMETHEUS datasource variable)', () => {
    expect(dashboard.schemaVersion).toBe(39);
    expect(dashboard.uid).toBeTruthy();
    expect(dashboard.__inputs).toEqual([
      expect.objectContaining({ name: 'DS_PROMETHEUS', type: 'datasource', pluginId: 'prometheus' }),
    ]);
    expect(dashboard.templating.list).toContainEqual(
      expect.objectContaining({ name: 'DS_PROMETHEUS', type: 'datasource', query: 'prometheus' }),
    );
    const datasources = queryPanels.flatMap((panel) => [
      panel.datasource,
      ...(panel.targets ?? []).map((target) => target.datasource),
    ]);
    for (const datasource of datasources) expect(datasource).toEqual(DS_REFERENCE);
    for (const panel of queryPanels) expect(['timeseries', 'stat']).toContain(panel.type);
  });
});
