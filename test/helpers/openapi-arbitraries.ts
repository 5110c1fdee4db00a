// JSON Schema (as the served OpenAPI 3.1 document has it) → fast-check arbitraries, for the
// OpenAPI fuzz. The npm tools for this need fast-check < 4 or only know Swagger 2.0
// (research/reliability_testing.md §2), and the subset TypeBox emits is small: $ref, anyOf,
// enum, const, the JSON types with their bounds, pattern and a few formats.
//
// Values lean towards what the server can act on: uuids are mostly ids of the fixtures (by the
// name of the field or parameter), dates near today; and they include what breaks parsers and
// databases: offsets beyond ±15:59, years 0001 and 9999, NUL, long and non-ASCII text.
import fc from 'fast-check';

export type Schema = { [key: string]: unknown };

export interface Known {
  /** Ids of fixtures by field or parameter name (`clinic_id`, `slot_id`, …); `id` for any. */
  ids: Record<string, string[]>;
  /**
   * Plain string values worth trying by name (`provider`: stripe, twilio, …), or by name and format
   * where one name has several (`from:date` for a local date, `from` for the rest).
   */
  strings: Record<string, string[]>;
}

const DAY = 86_400_000;

/** Text that has broken servers before: NUL, control characters, scripts, emoji, SQL, paths. */
export const HOSTILE_TEXT = [
  '\u0000',
  'a\u0000b',
  '\r\n',
  '<script>alert(1)</script>',
  "' OR 1=1--",
  '../../etc/passwd',
  '𝕮𝖆𝖗𝖊 🩺',
  '\u202e\u0645',
  ' ',
  '%00',
  '{}',
];

const ISO_NOW = () => Date.now();

function isoDate(offsetDays: fc.Arbitrary<number>): fc.Arbitrary<string> {
  return offsetDays.map((days) => new Date(ISO_NOW() + days * DAY).toISOString().slice(0, 10));
}

const dateTime: fc.Arbitrary<string> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc
      .integer({ min: -30 * 24, max: 400 * 24 })
      .map((h) => new Date(ISO_NOW() + h * 3_600_000).toISOString()),
  },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      '2027-05-01T10:00:00+23:59',
      '2027-05-01T10:00:00-16:00',
      '2027-05-01T10:00:00+15:59',
      '0001-01-01T00:00:00Z',
      '9999-12-31T23:30:00Z',
      '2026-02-30T10:00:00Z',
      '2027-05-01T24:00:00Z',
      '2027-05-01T10:00:00.123456789Z',
    ),
  },
);

const date: fc.Arbitrary<string> = fc.oneof(
  { weight: 6, arbitrary: isoDate(fc.integer({ min: -30, max: 120 })) },
  {
    weight: 1,
    arbitrary: fc.constantFrom('0001-01-01', '9999-12-31', '2026-02-29', '2028-02-29', '1900-01-01'),
  },
);

export class SchemaArbitraries {
  constructor(
    private readonly components: Record<string, Schema>,
    private readonly known: Known,
  ) {}

  /** The component a `#/components/schemas/Name` reference points to. */
  resolve(schema: Schema): Schema {
    const ref = schema.$ref;
    if (typeof ref !== 'string') return schema;
    const name = ref.replace('#/components/schemas/', '');
    const target = this.components[name];
    if (!target) throw new Error(`unknown $ref ${ref}`);
    return this.resolve(target);
  }

  /** Values valid for `schema` (mostly: formats and patterns are followed, bounds kept). */
  valid(input: Schema, name = '', depth = 0): fc.Arbitrary<unknown> {
    const schema = this.resolve(input);
    if (Array.isArray(schema.anyOf) || Array.isArray(schema.oneOf)) {
      const members = (schema.anyOf ?? schema.oneOf) as Schema[];
      return fc.oneof(...members.map((member) => this.valid(member, name, depth)));
    }
    if (Array.isArray(schema.enum)) return fc.constantFrom(...(schema.enum as unknown[]));
    if ('const' in schema) return fc.constant(schema.const);
    const type = Array.isArray(schema.type) ? schema.type : [schema.type];
    if (type.length > 1) return fc.oneof(...type.map((t) => this.valid({ ...schema, type: t }, name, depth)));
    switch (type[0]) {
      case 'string':
        return this.string(schema, name);
      case 'integer':
      case 'number': {
        const min = typeof schema.minimum === 'number' ? schema.minimum : -1_000_000;
        const max = typeof schema.maximum === 'number' ? schema.maximum : 1_000_000;
        return type[0] === 'integer'
          ? fc.integer({ min: Math.ceil(min), max: Math.floor(max) })
          : fc.double({ min, max, noNaN: true });
      }
      case 'boolean':
        return fc.boolean();
      case 'null':
        return fc.constant(null);
      case 'array': {
        const minLength = typeof schema.minItems === 'number' ? schema.minItems : 0;
        const maxLength = Math.max(
          minLength,
          Math.min(typeof schema.maxItems === 'number' ? schema.maxItems : 4, 4),
        );
        const items = (schema.items as Schema | undefined) ?? {};
        return fc.array(this.valid(items, name, depth + 1), { minLength, maxLength });
      }
      case 'object':
        return this.object(schema, depth);
      default:
        return fc.jsonValue({ maxDepth: 2 });
    }
  }

  /** An object with its required properties and any of its optional ones. */
  object(schema: Schema, depth = 0): fc.Arbitrary<Record<string, unknown>> {
    const properties = (schema.properties ?? {}) as Record<string, Schema>;
    const required = (schema.required ?? []) as string[];
    if (Object.keys(properties).length === 0 || depth > 4) return fc.constant({});
    const model = Object.fromEntries(
      Object.entries(properties).map(([key, value]) => [key, this.valid(value, key, depth + 1)]),
    );
    return fc.record(model, { requiredKeys: required.filter((key) => key in model) }) as fc.Arbitrary<
      Record<string, unknown>
    >;
  }

  private string(schema: Schema, name: string): fc.Arbitrary<string> {
    const maxLength = typeof schema.maxLength === 'number' ? schema.maxLength : 200;
    const minLength = typeof schema.minLength === 'number' ? schema.minLength : 0;
    const fit = (value: string) => value.length >= minLength && value.length <= maxLength;
    const knownStrings =
      this.known.strings[`${name}:${String(schema.format)}`] ?? this.known.strings[name] ?? [];
    const shaped = this.shapedString(schema, name, minLength, maxLength, fit);
    return knownStrings.length
      ? fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...knownStrings) }, shaped)
      : shaped;
  }

  private shapedString(
    schema: Schema,
    name: string,
    minLength: number,
    maxLength: number,
    fit: (value: string) => boolean,
  ): fc.Arbitrary<string> {
    switch (schema.format) {
      case 'uuid': {
        const ids = this.known.ids[name] ?? this.known.ids.id ?? [];
        return ids.length
          ? fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...ids) }, fc.uuid())
          : fc.uuid();
      }
      case 'date-time':
        return dateTime;
      case 'date':
        return date;
      case 'email':
        return fc.emailAddress().filter(fit);
      case 'uri':
        return fc.webUrl().filter(fit);
    }
    return typeof schema.pattern === 'string'
      ? fc.stringMatching(new RegExp(schema.pattern as string)).filter(fit)
      : fc.oneof(
          { weight: 4, arbitrary: fc.string({ minLength, maxLength: Math.min(maxLength, 40) }) },
          { weight: 1, arbitrary: fc.constantFrom(...HOSTILE_TEXT).filter(fit) },
          {
            weight: 1,
            arbitrary: fc.string({ unit: 'grapheme', minLength, maxLength: Math.min(maxLength, 20) }),
          },
        );
  }

  /** Values that are wrong for `schema` in type or shape (the validator decides which truly are). */
  wrong(): fc.Arbitrary<unknown> {
    return fc.oneof(
      fc.constantFrom(
        123,
        -1,
        0,
        1e300,
        true,
        null,
        [],
        {},
        ['x'],
        { a: 1 },
        '',
        'not-a-uuid',
        '9'.repeat(400),
      ),
      fc.constantFrom(...HOSTILE_TEXT),
      dateTime,
      date,
    );
  }
}
