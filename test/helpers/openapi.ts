// Conformance checks of the sandbox against Symphony's own API specs (test/fixtures/symphony-api-spec/): swagger 2.0
// (pod, login, authenticator) and OpenAPI 3.0 (Agent) read alike. `Conformance.api` sends a request to a running
// sandbox and checks the exchange: query parameters and the request body are declared by the operation, required
// headers are sent when success is expected, a success body matches the operation's declared response schema, an
// error body the declared (or the spec's generic) error schema. Schemas are looked up from
// `paths[template][method]`, never named by hand, so a route whose path or method is not in the spec fails.
// Properties the sandbox returns that the spec does not declare are legal (no `additionalProperties: false`) but are
// collected (`extras`) for the test to check against a short, explained allowlist.
import { readFileSync } from 'node:fs';
import { Ajv, type ValidateFunction } from 'ajv';
import { expect } from 'vitest';
import { parse } from 'yaml';
import type { RunningSandbox } from '../../src/sandbox/server.js';
import { call, type FormField, type Reply, type RequestOptions } from './sandbox.js';

export type Json = Record<string, unknown>;
/** An operation parameter, in either spec version (swagger 2.0 puts `type` on the parameter, OpenAPI 3 a `schema`). */
export interface Parameter { name: string; in: string; required?: boolean; schema?: Json; type?: string }
interface Response { schema?: Json; content?: Record<string, { schema?: Json }> }
export interface Operation {
  parameters?: Parameter[];
  requestBody?: { content?: Record<string, { schema?: Json }> };
  responses: Record<string, Response>;
}
interface SpecDoc {
  swagger?: string;
  openapi?: string;
  paths: Record<string, Record<string, Operation>>;
  definitions?: Record<string, Json>;
  components?: { schemas?: Record<string, Json> };
}

/** A loaded spec and the context paths the sandbox serves it under. */
export interface Spec {
  name: string;
  doc: SpecDoc;
  prefixes: string[];
  /** Named schemas: `definitions` (2.0) or `components.schemas` (3.0). */
  schemas: Record<string, Json>;
  /** Where a local `$ref` points: `#/definitions/` or `#/components/schemas/`. */
  refBase: string;
  /** The schema of the spec's generic error body. */
  errorSchema: Json;
}

const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options'];

/** Load `test/fixtures/symphony-api-spec/<file>`, served by the sandbox under `prefixes`. */
export function loadSpec(name: string, file: string, prefixes: string[], errorSchemaName = 'Error'): Spec {
  const text = readFileSync(new URL(`../fixtures/symphony-api-spec/${file}`, import.meta.url), 'utf8');
  const doc = parse(text) as SpecDoc;
  const v3 = typeof doc.openapi === 'string';
  const refBase = v3 ? '#/components/schemas/' : '#/definitions/';
  return { name, doc, prefixes, schemas: (v3 ? doc.components?.schemas : doc.definitions) ?? {}, refBase, errorSchema: { $ref: `${refBase}${errorSchemaName}` } };
}

/**
 * A copy without `description:` keywords left empty (YAML null), which the pod spec has once
 * (UserAppEntitlementPatchEnum) and JSON Schema's meta-schema refuses. A property named `description` has an
 * object value and stays.
 */
function withoutEmptyDescriptions<T>(schema: T): T {
  if (Array.isArray(schema)) return schema.map(withoutEmptyDescriptions) as T;
  if (typeof schema !== 'object' || schema === null) return schema;
  return Object.fromEntries(Object.entries(schema)
    .filter(([k, v]) => !(k === 'description' && v === null))
    .map(([k, v]) => [k, withoutEmptyDescriptions(v)])) as T;
}

/** Formats the specs use: integers within their width, a loose e-mail shape; unknown ones are ignored. */
const FORMATS: Record<string, Parameters<Ajv['addFormat']>[1]> = {
  int32: { type: 'number', validate: (n: number) => Number.isInteger(n) && n >= -(2 ** 31) && n < 2 ** 31 },
  int64: { type: 'number', validate: (n: number) => Number.isSafeInteger(n) },
  long: { type: 'number', validate: (n: number) => Number.isSafeInteger(n) },
  email: /^[^\s@]+@[^\s@]+$/,
};

/** Options of {@link Conformance.api}. */
export interface ApiOptions extends RequestOptions {
  /** Expected status; default 200. */
  status?: number;
  /** The request deliberately breaks its schema (a test of the answer to a bad body): checked to be invalid instead. */
  invalidRequest?: boolean;
}

/** The checks of one test file over a set of specs, and what they have seen. */
export class Conformance {
  readonly specs: Spec[];
  readonly ajv = new Ajv({ strict: false, allErrors: true });
  /** `METHOD template` of every operation answered 2xx and validated. */
  readonly covered = new Set<string>();
  /** `METHOD template status` of answers whose status the spec does not declare for the operation. */
  readonly undeclaredStatuses = new Set<string>();
  /** `METHOD template` → undeclared response properties. */
  readonly extras = new Map<string, Set<string>>();
  readonly #validators = new Map<string, ValidateFunction>();
  /** The keys an error body may have (beyond the spec: the exact shape the sandbox promises). */
  readonly #errorKeys: readonly string[];

  constructor(specs: Spec[], options: { errorKeys?: readonly string[] } = {}) {
    this.specs = specs;
    this.#errorKeys = options.errorKeys ?? ['code', 'message'];
    const usedFormats = new Set<string>();
    for (const spec of specs) {
      JSON.stringify(spec.doc, (key, value: unknown) => {
        if (key === 'format' && typeof value === 'string') usedFormats.add(value);
        return value;
      });
      // One schema per spec holding all its named schemas; a local ref inside it resolves within the spec.
      const base = spec.refBase.slice(2, -1).split('/'); // ['definitions'] or ['components', 'schemas']
      const holder = base.reduceRight<Json>((inner, key) => ({ [key]: inner }), withoutEmptyDescriptions(spec.schemas) as Json);
      this.ajv.addSchema({ $id: `${spec.name}.json`, ...holder });
    }
    for (const format of usedFormats) this.ajv.addFormat(format, FORMATS[format] ?? true);
  }

  /** A copy of an operation's schema whose local refs point into its spec's schema. */
  #rebase(spec: Spec, schema: unknown): unknown {
    if (Array.isArray(schema)) return schema.map((s) => this.#rebase(spec, s));
    if (typeof schema !== 'object' || schema === null) return schema;
    return Object.fromEntries(Object.entries(schema).map(([k, v]) => [
      k, k === '$ref' && typeof v === 'string' && v.startsWith('#/') ? `${spec.name}.json${v}` : this.#rebase(spec, v),
    ]));
  }

  validatorFor(spec: Spec, schema: Json): ValidateFunction {
    const key = `${spec.name}:${JSON.stringify(schema)}`;
    let v = this.#validators.get(key);
    if (v === undefined) {
      v = this.ajv.compile(this.#rebase(spec, schema) as Json);
      this.#validators.set(key, v);
    }
    return v;
  }

  expectValid(spec: Spec, schema: Json, value: unknown, what: string): void {
    const validate = this.validatorFor(spec, schema);
    const ok = validate(value);
    expect(ok, `${what} does not match ${JSON.stringify(schema)}: ${this.ajv.errorsText(validate.errors)}\n${JSON.stringify(value)}`).toBe(true);
  }

  /** The spec, path template and operation serving a sandbox URL path; throws when the spec has none. */
  operation(method: string, url: string): { spec: Spec; template: string; op: Operation; params: Parameter[] } {
    const path = url.split('?')[0]!;
    const specs = this.specs.filter((s) => s.prefixes.some((p) => path.startsWith(`${p}/`)));
    if (specs.length === 0) throw new Error(`${path} is under no spec's context path`);
    // Under a context path several specs share (/sessionauth), the first that has the path serves it.
    let best: { spec: Spec; template: string; literals: number } | undefined;
    for (const spec of specs) {
      const prefix = spec.prefixes.find((p) => path.startsWith(`${p}/`))!;
      const parts = path.slice(prefix.length).split('/').filter(Boolean);
      for (const template of Object.keys(spec.doc.paths)) {
        const segments = template.split('/').filter(Boolean);
        if (segments.length !== parts.length) continue;
        if (!segments.every((s, i) => (s.startsWith('{') && s.endsWith('}')) || s === parts[i])) continue;
        const literals = segments.filter((s) => !s.startsWith('{')).length;
        if (best === undefined || (best.spec === spec && literals > best.literals)) best = { spec, template, literals };
      }
    }
    if (best === undefined) throw new Error(`${specs.map((s) => s.name).join(', ')} spec has no path for ${path}`);
    const spec = best.spec;
    const op = spec.doc.paths[best.template]![method.toLowerCase()];
    if (op === undefined) throw new Error(`${spec.name} spec has no ${method} ${best.template}`);
    return { spec, template: best.template, op, params: op.parameters ?? [] };
  }

  /** Every operation of every spec, as `METHOD template` (templates without the context path). */
  operations(spec: Spec): string[] {
    return Object.entries(spec.doc.paths).flatMap(([template, methods]) =>
      Object.keys(methods).filter((m) => METHODS.includes(m)).map((m) => `${m.toUpperCase()} ${template}`));
  }

  /** The request body schema of an operation for a content type (2.0: the `body` parameter). */
  requestSchema(op: Operation, params: Parameter[], contentType: string): Json | undefined {
    if (op.requestBody !== undefined) return op.requestBody.content?.[contentType]?.schema;
    return params.find((p) => p.in === 'body')?.schema;
  }

  /**
   * The declared response of an operation for a status: whether it is declared, its content type (2.0: JSON, the
   * only one the specs produce) and its schema, if any.
   */
  responseSchema(op: Operation, status: number): { declared: boolean; contentType: string; schema?: Json } {
    const r = op.responses[String(status)];
    if (r === undefined) return { declared: false, contentType: 'application/json' };
    const [contentType, content] = Object.entries(r.content ?? {})[0] ?? ['application/json', undefined];
    const schema = r.schema ?? content?.schema;
    return schema === undefined ? { declared: true, contentType } : { declared: true, contentType, schema };
  }

  /** Follow a local ref within a spec. */
  deref(spec: Spec, schema: Json): Json {
    let s = schema;
    for (let i = 0; i < 20 && typeof s.$ref === 'string'; i++) s = spec.schemas[(s.$ref as string).split('/').pop()!]!;
    return s;
  }

  /** Properties of a schema, with allOf parts merged. */
  #declaredProperties(spec: Spec, schema: Json): { properties?: Record<string, Json>; additional?: unknown } {
    const s = this.deref(spec, schema);
    let properties = s.properties as Record<string, Json> | undefined;
    let additional = s.additionalProperties;
    for (const part of (s.allOf as Json[] | undefined) ?? []) {
      const merged = this.#declaredProperties(spec, part);
      if (merged.properties !== undefined) properties = { ...properties, ...merged.properties };
      additional ??= merged.additional;
    }
    return { ...(properties === undefined ? {} : { properties }), ...(additional === undefined ? {} : { additional }) };
  }

  /** Paths (`.a.b[]`) of the properties in `value` that `schema` does not declare. */
  undeclared(spec: Spec, schema: Json, value: unknown, at: string, out: Set<string>): void {
    const s = this.deref(spec, schema);
    if (Array.isArray(value)) {
      if (typeof s.items === 'object' && s.items !== null) for (const item of value) this.undeclared(spec, s.items as Json, item, `${at}[]`, out);
      return;
    }
    if (typeof value !== 'object' || value === null) return;
    const { properties, additional } = this.#declaredProperties(spec, s);
    if (properties === undefined && additional === undefined) return; // free-form object
    for (const [key, v] of Object.entries(value)) {
      const declared = properties?.[key];
      if (declared !== undefined) this.undeclared(spec, declared, v, `${at}.${key}`, out);
      else if (typeof additional === 'object' && additional !== null) this.undeclared(spec, additional as Json, v, `${at}.${key}`, out);
      else if (additional !== true) out.add(`${at}.${key}`);
    }
  }

  /** Call the sandbox and check the exchange against the spec. */
  async api(sandbox: RunningSandbox, method: string, url: string, options: ApiOptions = {}): Promise<Reply> {
    const { status = 200, invalidRequest = false, ...request } = options;
    const { spec, template, op, params } = this.operation(method, url);
    const name = `${method} ${template}`;
    const query = new URLSearchParams(url.split('?')[1] ?? '');
    for (const key of query.keys()) {
      expect(params.some((p) => p.in === 'query' && p.name === key), `${name} declares no query parameter ${key}`).toBe(true);
    }
    const checkBody = (contentType: string, value: (schema: Json) => unknown) => {
      const schema = this.requestSchema(op, params, contentType);
      expect(schema, `${name} declares no ${contentType} body`).toBeDefined();
      if (!invalidRequest) this.expectValid(spec, schema!, value(schema!), `${contentType} body of ${name}`);
      else expect(this.validatorFor(spec, schema!)(value(schema!)), `the ${contentType} body of ${name} was meant to break its schema`).toBe(false);
    };
    if (request.json !== undefined) checkBody('application/json', () => request.json);
    if (request.multipart !== undefined) checkBody('multipart/form-data', (schema) => formObject(this.deref(spec, schema), request.multipart!));
    if (status < 300) {
      const sent = Object.keys(request.headers ?? {}).map((h) => h.toLowerCase());
      for (const p of params.filter((q) => q.in === 'header' && q.required === true)) {
        expect(sent, `${name} requires header ${p.name}`).toContain(p.name.toLowerCase());
      }
    }

    const reply = await call(sandbox, method, url, request);
    expect(reply.status, `${method} ${url}: ${reply.body.toString('utf8').slice(0, 300)}`).toBe(status);
    const declared = this.responseSchema(op, reply.status);
    if (!declared.declared) this.undeclaredStatuses.add(`${name} ${reply.status}`);
    if (reply.status < 300) {
      this.covered.add(name);
      if (reply.status === 204) return reply;
      expect(declared.schema, `${name} declares no ${reply.status} schema`).toBeDefined();
      expect(String(reply.headers['content-type']), `content type of ${name}`).toMatch(new RegExp(`^${declared.contentType}`));
      if (declared.contentType === 'application/json') {
        this.expectValid(spec, declared.schema!, reply.json, `${reply.status} body of ${name}`);
        const found = new Set<string>();
        this.undeclared(spec, declared.schema!, reply.json, '', found);
        if (found.size > 0) this.extras.set(name, new Set([...(this.extras.get(name) ?? []), ...found]));
      }
    } else {
      expect(String(reply.headers['content-type'])).toMatch(/^application\/json/);
      this.expectValid(spec, declared.schema ?? spec.errorSchema, reply.json, `${reply.status} body of ${name}`);
      this.expectValid(spec, spec.errorSchema, reply.json, `${reply.status} body of ${name}`);
      expect(reply.json).toMatchObject({ code: reply.status, message: expect.any(String) });
      expect(Object.keys(reply.json).every((k) => this.#errorKeys.includes(k)), `error keys ${Object.keys(reply.json).join(', ')}`).toBe(true);
    }
    return reply;
  }
}

/**
 * The fields of a form as the object a multipart schema describes: one value per field name, a file as a string
 * stand-in (schemas declare files as `string`, `format: binary`), and for a field the schema types `array` the list
 * of its values (several parts, or one comma-separated part).
 */
function formObject(schema: Json, fields: readonly FormField[]): Json {
  const properties = (schema.properties ?? {}) as Record<string, Json>;
  const out: Json = {};
  for (const f of fields) {
    const text = typeof f.value === 'string' ? f.value : `<${f.value.length} bytes>`;
    if (properties[f.name]?.type === 'array') out[f.name] = [...((out[f.name] as string[] | undefined) ?? []), ...text.split(',')];
    else out[f.name] = text;
  }
  return out;
}

/** Every route a route module registers, read by letting it register on a recorder. */
export function registeredRoutes(register: (router: never) => void): Array<{ method: string; pattern: string }> {
  const routes: Array<{ method: string; pattern: string }> = [];
  const recorder = { add(method: string, pattern: string) { routes.push({ method, pattern }); return recorder; } };
  register(recorder as never);
  return routes;
}
