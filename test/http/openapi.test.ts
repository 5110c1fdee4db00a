// The served /openapi.json says what the server does, so that a generated client is typed right:
// the rules a client generator and a reader rely on, and which Redocly cannot know (it lints
// the same document in `npm run openapi:check`). client/schema.d.ts must be what
// openapi-typescript generates from it now.
import { readFile } from 'node:fs/promises';
import { beforeAll, describe, expect, it } from 'vitest';
import { CLIENT_TYPES, clientTypes, servedDocument } from '../../scripts/lib/openapi.js';
import { PROBLEMS } from '../../src/http/errors.js';

interface Operation {
  operationId?: string;
  tags?: string[];
  description?: string;
  security?: unknown[];
  parameters?: Array<{ name: string; in: string; required?: boolean; schema: Record<string, unknown> }>;
  requestBody?: { required?: boolean; content: Record<string, unknown> };
  responses: Record<
    string,
    { description: string; headers?: Record<string, unknown>; content?: Record<string, { schema: unknown }> }
  >;
}

let text: string;
let document: {
  openapi: string;
  servers?: Array<{ url: string }>;
  tags: Array<{ name: string }>;
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, unknown> };
};
const operations = () =>
  Object.entries(document.paths).flatMap(([path, item]) =>
    Object.entries(item).map(([method, operation]) => ({
      name: `${method.toUpperCase()} ${path}`,
      operation,
    })),
  );

beforeAll(async () => {
  text = await servedDocument();
  document = JSON.parse(text);
});

describe('the served OpenAPI document', () => {
  it('is OpenAPI 3.1 with servers, declared tags and named component schemas', () => {
    expect(document.openapi).toBe('3.1.0');
    expect(document.servers?.length).toBeGreaterThan(0);
    expect(Object.keys(document.components.schemas)).toEqual(
      expect.arrayContaining([
        'Appointment',
        'Slot',
        'Payment',
        'Problem',
        'BookingResult',
        'DashboardStats',
      ]),
    );
    const tags = document.tags.map((tag) => tag.name);
    for (const { name, operation } of operations()) {
      expect(operation.tags?.length, name).toBe(1);
      expect(tags, name).toContain(operation.tags?.[0]);
    }
  });

  it('names every operation once and describes it and each of its answers', () => {
    const ids = operations().map(({ operation }) => operation.operationId);
    expect(ids.every((id) => typeof id === 'string' && /^[a-z][A-Za-z]+$/.test(id))).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
    for (const { name, operation } of operations()) {
      expect(operation.description, name).toBeTruthy();
      for (const [status, response] of Object.entries(operation.responses)) {
        expect(response.description, `${name} ${status}`).not.toMatch(/^(Default Response)?$/);
      }
    }
  });

  it('declares every error as problem+json with the Problem schema, naming codes of that status', () => {
    for (const { name, operation } of operations()) {
      for (const [status, response] of Object.entries(operation.responses)) {
        if (Number(status) < 400) continue;
        expect(Object.keys(response.content ?? {}), `${name} ${status}`).toEqual([
          'application/problem+json',
        ]);
        expect(response.content?.['application/problem+json']?.schema).toEqual({
          $ref: '#/components/schemas/Problem',
        });
        const codes = [...response.description.matchAll(/`([a-z_]+)`/g)].map(
          (m) => m[1] as keyof typeof PROBLEMS,
        );
        expect(codes.length, `${name} ${status} names its codes`).toBeGreaterThan(0);
        for (const code of codes) expect(PROBLEMS[code]?.status, `${name}: ${code}`).toBe(Number(status));
      }
    }
  });

  it('declares what any route can answer: 500, 503 (database), 429 and 401 behind a token, 413 with a body', () => {
    for (const { name, operation } of operations()) {
      const statuses = Object.keys(operation.responses);
      expect(statuses, name).toEqual(expect.arrayContaining(['500', '503']));
      if (operation.security?.length !== 0)
        expect(statuses, name).toEqual(expect.arrayContaining(['401', '429']));
      if (operation.requestBody) expect(statuses, name).toEqual(expect.arrayContaining(['400', '413']));
      if (operation.requestBody?.content['application/json'] && !name.includes('/webhooks/')) {
        expect(statuses, name).toContain('415');
      }
      if (operation.parameters?.length) expect(statuses, name).toContain('400');
      for (const status of ['429', '503']) {
        if (operation.responses[status])
          expect(operation.responses[status].headers, name).toHaveProperty('retry-after');
      }
    }
    const ingestion = document.paths['/webhooks/{provider}']?.post;
    expect(Object.keys(ingestion?.responses ?? {})).toEqual(expect.arrayContaining(['401', '429', '503']));
  });

  it('requires Idempotency-Key where the server does and declares Idempotent-Replayed', () => {
    for (const [path, method] of [
      ['/api/appointments', 'post'],
      ['/api/appointments/{id}/reschedule', 'post'],
    ] as const) {
      const operation = document.paths[path]?.[method] as Operation;
      expect(operation.parameters).toContainEqual(
        expect.objectContaining({ in: 'header', name: 'idempotency-key', required: true }),
      );
      const success = Object.entries(operation.responses).find(([status]) => status.startsWith('2'))?.[1];
      expect(success?.headers).toHaveProperty('idempotent-replayed');
      expect(operation.responses['400']?.description).toContain('`missing_idempotency_key`');
    }
  });

  it('paginates every list: optional limit with a maximum, cursor, next_cursor and has_more', () => {
    const lists = operations().filter(({ operation }) =>
      JSON.stringify(operation.responses['200'] ?? {}).includes('Page"'),
    );
    expect(lists.map(({ name }) => name).sort()).toEqual([
      'GET /admin/outbox',
      'GET /admin/webhook-events',
      'GET /api/appointments',
      'GET /api/clinics',
      'GET /api/clinics/{id}/patients',
      'GET /api/clinics/{id}/practitioners',
      'GET /api/clinics/{id}/slots',
    ]);
    for (const { name, operation } of lists) {
      const limit = operation.parameters?.find((p) => p.name === 'limit');
      expect(limit, name).toMatchObject({ in: 'query', required: false });
      expect(limit?.schema.maximum, name).toBeGreaterThan(1);
      expect(
        operation.parameters?.find((p) => p.name === 'cursor'),
        name,
      ).toMatchObject({ required: false });
      expect(operation.responses['400']?.description, name).toContain('`invalid_cursor`');
      const page = JSON.stringify(operation.responses['200']).match(/schemas\/(\w+Page)/)?.[1] as string;
      expect(document.components.schemas[page], name).toMatchObject({
        required: expect.arrayContaining(['next_cursor', 'has_more']),
      });
    }
  });

  it('has the shapes clients got wrong before: optional cancel body, nullable fields, text webhook answers', () => {
    expect(document.paths['/api/appointments/{id}/cancel']?.post?.requestBody?.required).toBe(false);
    const odd: string[] = [];
    const walk = (value: unknown, at: string): void => {
      if (!value || typeof value !== 'object') return;
      const node = value as Record<string, unknown>;
      if ('nullable' in node) odd.push(`${at}: nullable`);
      if (Array.isArray(node.enum) && node.enum.includes(null)) odd.push(`${at}: enum [null]`);
      const members = node.anyOf;
      if (Array.isArray(members) && members.every((m) => Array.isArray(m?.enum) && m.enum.length === 1)) {
        odd.push(`${at}: anyOf of one-value enums`);
      }
      for (const [key, inner] of Object.entries(node)) walk(inner, `${at}/${key}`);
    };
    walk(document, '#');
    expect(odd).toEqual([]);
    expect(
      Object.keys(document.paths['/webhooks/{provider}']?.post?.responses['200']?.content ?? {}),
    ).toEqual(['application/json', 'text/xml']);
    const handshake = document.paths['/webhooks/{provider}']?.get as Operation;
    expect(Object.keys(handshake.responses['200']?.content ?? {})).toEqual(['text/plain']);
    expect(handshake.responses).toHaveProperty('403');
    expect(handshake.parameters?.map((p) => `${p.in}:${p.name}`)).toEqual([
      'query:hub.mode',
      'query:hub.verify_token',
      'query:hub.challenge',
      'path:provider',
    ]);
    const account = document.paths['/webhooks/{provider}/{integrationId}']?.post as Operation;
    expect(account.parameters?.filter((p) => p.in === 'path').map((p) => [p.name, p.required])).toEqual([
      ['provider', true],
      ['integrationId', true],
    ]);
    expect(
      document.paths['/admin/stats']?.get?.responses['200']?.content?.['application/json']?.schema,
    ).toEqual({
      $ref: '#/components/schemas/DashboardStats',
    });
  });

  it('generates the committed client types (client/schema.d.ts) unchanged', async () => {
    const committed = await readFile(CLIENT_TYPES, 'utf8');
    expect(committed.split('\n')[0]).toMatch(/^\/\/ Generated by .*do not edit/);
    expect(
      committed === (await clientTypes(text)),
      'client/schema.d.ts is stale: run npm run openapi:generate',
    ).toBe(true);
  });
});
