// The served OpenAPI document as the fuzz reads it, and Schemathesis' checks on an answer
// (research/reliability_testing.md §1): no server error, only declared statuses and content types,
// bodies that match the declared schema, and a 4xx for a request the document calls invalid.
import { Ajv, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import type { Schema } from './openapi-arbitraries.js';

export interface Parameter {
  name: string;
  in: 'path' | 'query' | 'header';
  required?: boolean;
  schema: Schema;
}

export interface Operation {
  method: string;
  path: string;
  parameters?: Parameter[];
  requestBody?: { required?: boolean; content: Record<string, { schema: Schema }> };
  responses: Record<string, { content?: Record<string, { schema: Schema }> }>;
  security?: unknown[];
}

export interface OpenApiDocument {
  paths: Record<string, Record<string, Omit<Operation, 'method' | 'path'>>>;
  components: { schemas: Record<string, Schema> };
}

export function operationsOf(document: OpenApiDocument): Operation[] {
  return Object.entries(document.paths).flatMap(([path, item]) =>
    Object.entries(item).map(([method, operation]) => ({ ...operation, method: method.toUpperCase(), path })),
  );
}

/**
 * ajv validators for the document's schemas, resolving #/components/schemas/… against it:
 * parameters as the server parses them (text, coerced), bodies uncoerced, responses.
 */
export class DocumentValidators {
  private readonly ajv = {
    params: new Ajv({ strict: false, coerceTypes: 'array' }),
    body: new Ajv({ strict: false }),
    response: new Ajv({ strict: false, allErrors: true }),
  };
  private readonly compiled = new Map<string, ValidateFunction>();

  constructor(document: OpenApiDocument) {
    const components = JSON.parse(localRefs({ $id: 'openapi.json', components: document.components }));
    for (const ajv of Object.values(this.ajv)) {
      addFormats.default(ajv, ['uuid', 'date-time', 'date', 'email', 'uri']);
      ajv.addSchema(components);
    }
  }

  params(key: string, schema: Schema): ValidateFunction {
    return this.compile('params', key, schema);
  }
  body(key: string, schema: Schema): ValidateFunction {
    return this.compile('body', key, schema);
  }
  response(key: string, schema: Schema): ValidateFunction {
    return this.compile('response', key, schema);
  }
  errorsText(validate: ValidateFunction): string {
    return this.ajv.response.errorsText(validate.errors);
  }

  private compile(kind: keyof DocumentValidators['ajv'], key: string, schema: Schema): ValidateFunction {
    let validate = this.compiled.get(`${kind}:${key}`);
    if (!validate) {
      validate = this.ajv[kind].compile(JSON.parse(localRefs(schema)));
      this.compiled.set(`${kind}:${key}`, validate);
    }
    return validate;
  }
}

function localRefs(value: unknown): string {
  return JSON.stringify(value).replaceAll('"#/components/', '"openapi.json#/components/');
}

/** What is wrong with the answer to `request`, by the document (empty: nothing). */
export function conformanceProblems(
  validators: DocumentValidators,
  operation: Operation,
  request: { valid: boolean; mutation: string },
  response: { statusCode: number; headers: Record<string, unknown>; body: string },
): string[] {
  const status = response.statusCode;
  const problems: string[] = [];
  if (status >= 500) problems.push(`server error ${status}: ${response.body.slice(0, 300)}`);
  if (!request.valid && status < 400)
    problems.push(`invalid request (${request.mutation}) answered ${status}`);
  const declared = operation.responses[String(status)] ?? operation.responses.default;
  if (!declared) return [...problems, `undeclared status ${status}: ${response.body.slice(0, 200)}`];
  if (!declared.content || response.body === '') return problems;
  const contentType =
    String(response.headers['content-type'] ?? '')
      .split(';')[0]
      ?.trim() ?? '';
  const media = declared.content[contentType];
  if (!media) return [...problems, `${status} as undeclared content type "${contentType}"`];
  if (!contentType.endsWith('json')) return problems;
  const validate = validators.response(
    `${operation.method} ${operation.path} ${status} ${contentType}`,
    media.schema,
  );
  let body: unknown;
  try {
    body = JSON.parse(response.body);
  } catch {
    return [...problems, `${status} ${contentType} body is not JSON`];
  }
  if (!validate(body)) {
    problems.push(`${status} body does not match its schema: ${validators.errorsText(validate)}`);
  }
  return problems;
}
