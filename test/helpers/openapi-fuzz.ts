// Requests generated from an operation of the served OpenAPI document: valid ones from its
// schemas, and mutations of them. Whether a request is valid is decided by ajv against the
// document (openapi-document.ts) — the mutations only make invalid ones likely — so a mutation
// that happens to stay valid is judged as valid.
import fc from 'fast-check';
import type { InjectOptions } from 'fastify';
import { type Known, type Schema, SchemaArbitraries } from './openapi-arbitraries.js';
import type { DocumentValidators, OpenApiDocument, Operation, Parameter } from './openapi-document.js';

export interface FuzzRequest {
  options: InjectOptions & { url: string; method: NonNullable<InjectOptions['method']> };
  /** What was done to make it invalid, if anything. */
  mutation: string;
  /** By the document: whether the server must accept its shape (it may still refuse it, declared). */
  valid: boolean;
}

interface Draft {
  path: Record<string, unknown>;
  query: Record<string, unknown>;
  headers: Record<string, unknown>;
  body: unknown;
  /** Raw payload and content type, when a mutation replaced the JSON body. */
  raw?: { payload: string; contentType: string };
}

const MUTATIONS = [
  'none',
  'path value',
  'query value',
  'query unknown',
  'header value',
  'header missing',
  'body field value',
  'body field missing',
  'body field unknown',
  'body not JSON',
  'body as text/plain',
  'body not an object',
] as const;

function text(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

export class OpenApiFuzzer {
  private readonly arbitraries: SchemaArbitraries;

  constructor(
    document: OpenApiDocument,
    private readonly validators: DocumentValidators,
    known: Known,
  ) {
    this.arbitraries = new SchemaArbitraries(document.components.schemas, known);
  }

  /** Requests for `operation`: valid ones from its schemas, and mutations of them. */
  requests(operation: Operation, tokens: fc.Arbitrary<string | null>): fc.Arbitrary<FuzzRequest> {
    const parameters = operation.parameters ?? [];
    const group = (where: Parameter['in']) => {
      const of = parameters.filter((p) => p.in === where);
      return this.arbitraries.object({
        type: 'object',
        properties: Object.fromEntries(of.map((p) => [p.name, p.schema])),
        required: of.filter((p) => p.required || where === 'path').map((p) => p.name),
      });
    };
    const bodySchema = operation.requestBody?.content['application/json']?.schema;
    const body = bodySchema
      ? operation.requestBody?.required === false
        ? fc.option(this.arbitraries.valid(bodySchema), { nil: undefined })
        : this.arbitraries.valid(bodySchema)
      : fc.constant(undefined);
    return fc
      .record({
        draft: fc.record({ path: group('path'), query: group('query'), headers: group('header'), body }),
        token: tokens,
        // Half as declared, half mutated.
        mutation: fc.oneof(
          { weight: MUTATIONS.length - 1, arbitrary: fc.constant(MUTATIONS[0]) },
          fc.constantFrom(...MUTATIONS.slice(1)),
        ),
        wrong: this.arbitraries.wrong(),
        pick: fc.nat(),
      })
      .map(({ draft, token, mutation, wrong, pick }) => {
        const applied = this.mutate(draft as Draft, mutation, wrong, pick, bodySchema);
        return this.build(operation, applied.draft, token, applied.mutation);
      });
  }

  private mutate(
    draft: Draft,
    mutation: (typeof MUTATIONS)[number],
    wrong: unknown,
    pick: number,
    bodySchema: Schema | undefined,
  ): { draft: Draft; mutation: string } {
    const choose = (keys: string[]) => keys[pick % keys.length];
    const objectBody =
      draft.body && typeof draft.body === 'object' && !Array.isArray(draft.body)
        ? (draft.body as Record<string, unknown>)
        : null;
    const next: Draft = structuredClone(draft);
    const nextBody = next.body as Record<string, unknown>;
    switch (mutation) {
      case 'path value':
      case 'query value':
      case 'header value': {
        const where =
          mutation === 'path value' ? next.path : mutation === 'query value' ? next.query : next.headers;
        const key = choose(Object.keys(where));
        if (!key) break;
        // Header values must stay sendable: latin-1 without control characters.
        where[key] = mutation === 'header value' ? text(wrong).replace(/[^\x20-\xff]/g, '?') : wrong;
        return { draft: next, mutation: `${mutation}: ${key}` };
      }
      case 'query unknown':
        next.query.fuzz_unknown = text(wrong);
        return { draft: next, mutation };
      case 'header missing': {
        const key = choose(Object.keys(next.headers));
        if (!key) break;
        delete next.headers[key];
        return { draft: next, mutation: `${mutation}: ${key}` };
      }
      case 'body field value':
      case 'body field missing': {
        const key = objectBody && choose(Object.keys(objectBody));
        if (!key) break;
        if (mutation === 'body field value') nextBody[key] = wrong;
        else delete nextBody[key];
        return { draft: next, mutation: `${mutation}: ${key}` };
      }
      case 'body field unknown':
        if (!objectBody) break;
        nextBody.fuzz_unknown = wrong;
        return { draft: next, mutation };
      case 'body not JSON':
      case 'body as text/plain':
        if (!bodySchema) break;
        next.raw = {
          payload: mutation === 'body not JSON' ? `{"a":${text(wrong)}` : JSON.stringify(draft.body ?? {}),
          contentType: mutation === 'body not JSON' ? 'application/json' : 'text/plain',
        };
        return { draft: next, mutation };
      case 'body not an object':
        if (!bodySchema) break;
        next.body = wrong;
        return { draft: next, mutation };
    }
    return { draft, mutation: 'none' };
  }

  private build(operation: Operation, draft: Draft, token: string | null, mutation: string): FuzzRequest {
    // What the server receives, as text: the validity check below judges exactly that.
    const sent: Record<Parameter['in'], Record<string, string | string[]>> = {
      path: {},
      query: {},
      header: {},
    };
    const url = operation.path.replace(/\{([^}]+)\}/g, (_, name: string) => {
      const value = text(draft.path[name] ?? 'x') || 'x';
      sent.path[name] = value;
      return encodeURIComponent(value);
    });
    const query = new URLSearchParams();
    for (const [key, value] of Object.entries(draft.query)) {
      for (const item of Array.isArray(value) ? value : [value]) query.append(key, text(item));
    }
    for (const key of new Set(query.keys())) {
      const values = query.getAll(key);
      sent.query[key] = values.length === 1 ? (values[0] as string) : values;
    }
    const headers: Record<string, string> = {};
    for (const [key, value] of Object.entries(draft.headers)) {
      headers[key] = text(value);
      sent.header[key] = headers[key];
    }
    if (token) headers.authorization = `Bearer ${token}`;
    let payload: string | undefined;
    if (draft.raw) {
      payload = draft.raw.payload;
      headers['content-type'] = draft.raw.contentType;
    } else if (draft.body !== undefined) {
      payload = JSON.stringify(draft.body);
      headers['content-type'] = 'application/json';
    }
    const search = query.toString();
    const request = {
      method: operation.method as FuzzRequest['options']['method'],
      url: `${url}${search ? `?${search}` : ''}`,
      headers,
      ...(payload !== undefined ? { payload } : {}),
    };
    return { options: request, mutation, valid: this.isValid(operation, draft, sent) };
  }

  /** Whether the request is what the document declares, judged as the server receives it. */
  private isValid(
    operation: Operation,
    draft: Draft,
    sent: Record<Parameter['in'], Record<string, string | string[]>>,
  ): boolean {
    if (draft.raw) return false;
    const parameters = operation.parameters ?? [];
    for (const where of ['path', 'query', 'header'] as const) {
      const of = parameters.filter((p) => p.in === where);
      const schema = {
        type: 'object',
        properties: Object.fromEntries(of.map((p) => [p.name, p.schema])),
        required: of.filter((p) => p.required || where === 'path').map((p) => p.name),
      };
      const validate = this.validators.params(`${operation.method} ${operation.path} ${where}`, schema);
      if (!validate(structuredClone(sent[where]))) return false;
    }
    const bodySchema = operation.requestBody?.content['application/json']?.schema;
    if (!bodySchema || (draft.body === undefined && operation.requestBody?.required === false)) return true;
    if (draft.body === undefined) return false;
    const body = structuredClone(draft.body);
    return this.validators.body(`${operation.method} ${operation.path} body`, bodySchema)(body) === true;
  }
}
