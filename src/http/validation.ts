// Request validation and JSON parsing, stricter than Fastify's defaults (facts.md):
//   * bodies are never coerced ({"slot_id": 10} is a type error, not "10");
//   * query strings and path parameters are (they arrive as text);
//   * unknown body fields are refused (schemas say additionalProperties: false);
//   * the named component schemas (app.addSchema) are known to both validators, for $refs;
//   * JSON is parsed with prototype-poisoning protection, nesting is bounded before parsing,
//     and NUL characters (which PostgreSQL rejects) are refused here, as a 400.
import { Ajv, type Options } from 'ajv';
import addFormats from 'ajv-formats';
import type { FastifyInstance } from 'fastify';
import secureJson from 'secure-json-parse';
import { ProblemError } from './errors.js';

const MAX_DEPTH = 32;

function makeAjv(options: Options): Ajv {
  const ajv = new Ajv({
    allErrors: false,
    useDefaults: true,
    removeAdditional: false,
    strict: false,
    ...options,
  });
  addFormats.default(ajv, ['uuid', 'date-time', 'date', 'email', 'uri']);
  return ajv;
}

export function registerValidation(app: FastifyInstance): void {
  const bodies = makeAjv({ coerceTypes: false });
  const parameters = makeAjv({ coerceTypes: 'array' });
  const known = new Set<string>();
  app.setValidatorCompiler(({ schema, httpPart }) => {
    // Routes are compiled at ready(), after app.ts has added every component schema.
    for (const [id, shared] of Object.entries(app.getSchemas())) {
      if (known.has(id)) continue;
      bodies.addSchema(shared as object);
      parameters.addSchema(shared as object);
      known.add(id);
    }
    return (httpPart === 'body' ? bodies : parameters).compile(schema as object);
  });
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => {
    try {
      done(null, parseJson(body as string));
    } catch (error) {
      done(error as Error, undefined);
    }
  });
}

/** JSON.parse with the checks above. Throws ProblemError 400. */
export function parseJson(text: string): unknown {
  if (text.trim() === '')
    throw new ProblemError(400, 'malformed_json', 'The body is empty', 'Send a JSON object.');
  if (nestingDepth(text) > MAX_DEPTH) {
    throw new ProblemError(
      400,
      'malformed_json',
      'The JSON is nested too deeply',
      `At most ${MAX_DEPTH} levels are accepted.`,
    );
  }
  let value: unknown;
  try {
    value = secureJson.parse(text, undefined, { protoAction: 'error', constructorAction: 'error' });
  } catch (error) {
    throw new ProblemError(400, 'malformed_json', 'The body is not valid JSON', (error as Error).message);
  }
  if (text.includes('\\u0000') && containsNul(value)) {
    throw new ProblemError(
      400,
      'validation_error',
      'The request is not valid',
      'Text must not contain NUL (\\u0000) characters.',
    );
  }
  return value;
}

/** Deepest bracket nesting outside strings, counted without parsing. */
function nestingDepth(text: string): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92 /* \ */) i++;
      else if (c === 34 /* " */) inString = false;
    } else if (c === 34) inString = true;
    else if (c === 123 || c === 91) deepest = Math.max(deepest, ++depth);
    else if (c === 125 || c === 93) depth--;
  }
  return deepest;
}

function containsNul(value: unknown): boolean {
  if (typeof value === 'string') return value.includes('\0');
  if (Array.isArray(value)) return value.some(containsNul);
  if (value && typeof value === 'object') {
    return Object.entries(value).some(([key, inner]) => key.includes('\0') || containsNul(inner));
  }
  return false;
}
