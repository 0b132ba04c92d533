/**
 * GitHub's REST description (from `@octokit/openapi`) as a request and response validator for the loopback
 * GitHub server: a request the real API would not accept in this shape must fail the test that sent it.
 *
 * The description is parsed once per process and each operation's validators are compiled on first use.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Ajv, type ValidateFunction } from 'ajv';
import type { FormatsPlugin } from 'ajv-formats';

// ajv-formats is CommonJS whose types declare only a default export; require gives the plugin itself.
const addFormats = createRequire(import.meta.url)('ajv-formats') as FormatsPlugin;

interface ParameterObject {
  name: string;
  in: 'path' | 'query' | 'header' | 'cookie';
  required?: boolean;
  schema?: object;
}

interface OperationObject {
  operationId: string;
  parameters?: (ParameterObject | { $ref: string })[];
  requestBody?: { required?: boolean; content?: Record<string, { schema?: object }> };
  responses: Record<string, { content?: Record<string, { schema?: object }> } | { $ref: string }>;
}

interface Description {
  paths: Record<string, Record<string, unknown>>;
  components: { schemas: Record<string, object>; parameters: Record<string, ParameterObject> };
}

/** A request matched to one operation of the description. */
export interface OperationMatch {
  /** `METHOD /path/{template}`, the key fault injection and request logs use. */
  route: string;
  method: string;
  template: string;
  operationId: string;
  /** Decoded path parameters, as strings. */
  params: Record<string, string>;
}

/** The outcome of validating one request. */
export interface RequestCheck {
  match: OperationMatch | undefined;
  /** Empty when the request fits the description. */
  errors: string[];
}

const HTTP_METHODS = ['get', 'put', 'post', 'patch', 'delete', 'head', 'options'];
const COMPONENTS_ID = 'https://api.github.com/openapi/components';

let cached: Loaded | undefined;

interface Route {
  method: string;
  template: string;
  regex: RegExp;
  names: string[];
  literalSegments: number;
  operation: OperationObject;
}

interface Loaded {
  routes: Route[];
  description: Description;
  /** Bodies and responses: exact types, no coercion. */
  strict: Ajv;
  /** Path and query parameters arrive as strings: coerce them to the declared types. */
  coercing: Ajv;
  validators: Map<string, ValidateFunction>;
}

/** Path of the description file inside `@octokit/openapi`. */
export function descriptionPath(): string {
  const require = createRequire(import.meta.url);
  const pkg = require.resolve('@octokit/openapi/package.json');
  return pkg.replace(/package\.json$/, 'generated/api.github.com.json');
}

function newAjv(coerce: boolean, components: object): Ajv {
  const ajv = new Ajv({
    strict: false,
    allErrors: true,
    validateSchema: false,
    coerceTypes: coerce,
    // OpenAPI 3.0 schemas use `nullable`, which Ajv understands natively.
  });
  addFormats(ajv);
  ajv.addSchema({ $id: COMPONENTS_ID, components }, undefined, undefined, false);
  return ajv;
}

function load(): Loaded {
  if (cached) return cached;
  const description = JSON.parse(readFileSync(descriptionPath(), 'utf8')) as Description;
  const routes: Route[] = [];
  for (const [template, item] of Object.entries(description.paths)) {
    const names: string[] = [];
    const pattern = template
      .split('/')
      .map((segment) => {
        const m = /^\{([^}]+)\}$/.exec(segment);
        if (m?.[1]) {
          names.push(m[1]);
          return '([^/]+)';
        }
        return segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      })
      .join('/');
    const literalSegments = template.split('/').filter((s) => s && !s.startsWith('{')).length;
    for (const method of HTTP_METHODS) {
      const operation = item[method] as OperationObject | undefined;
      if (!operation) continue;
      routes.push({
        method: method.toUpperCase(),
        template,
        regex: new RegExp(`^${pattern}$`),
        names,
        literalSegments,
        operation,
      });
    }
  }
  // Literal segments win over parameters: /issues/comments/{id} before /issues/{number}/comments.
  routes.sort((a, b) => b.literalSegments - a.literalSegments);
  const components = { schemas: description.components.schemas };
  cached = {
    routes,
    description,
    strict: newAjv(false, components),
    coercing: newAjv(true, components),
    validators: new Map(),
  };
  return cached;
}

/** Rewrites local `#/components/...` references so they resolve inside the registered components schema. */
function absolutise(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(absolutise);
  if (schema && typeof schema === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(schema)) {
      out[k] =
        k === '$ref' && typeof v === 'string' && v.startsWith('#/') ? `${COMPONENTS_ID}${v}` : absolutise(v);
    }
    return out;
  }
  return schema;
}

function validator(loaded: Loaded, cacheKey: string, schema: object, coerce: boolean): ValidateFunction {
  let fn = loaded.validators.get(cacheKey);
  if (!fn) {
    fn = (coerce ? loaded.coercing : loaded.strict).compile(absolutise(schema) as object);
    loaded.validators.set(cacheKey, fn);
  }
  return fn;
}

function resolveParameter(loaded: Loaded, p: ParameterObject | { $ref: string }): ParameterObject {
  if ('$ref' in p) {
    const name = p.$ref.replace('#/components/parameters/', '');
    const resolved = loaded.description.components.parameters[name];
    if (!resolved) throw new Error(`unresolvable parameter reference ${p.$ref}`);
    return resolved;
  }
  return p;
}

function describeErrors(fn: ValidateFunction, where: string, strip = ''): string[] {
  return (fn.errors ?? []).map((e) =>
    `${where}${e.instancePath.slice(strip.length)} ${e.message ?? 'is invalid'}`.trim(),
  );
}

/** Finds the operation a method and path belong to. */
export function matchOperation(method: string, pathname: string): OperationMatch | undefined {
  const loaded = load();
  const upper = method.toUpperCase();
  for (const route of loaded.routes) {
    if (route.method !== upper) continue;
    const m = route.regex.exec(pathname);
    if (!m) continue;
    const params: Record<string, string> = {};
    route.names.forEach((name, i) => {
      params[name] = decodeURIComponent(m[i + 1] ?? '');
    });
    return {
      route: `${upper} ${route.template}`,
      method: upper,
      template: route.template,
      operationId: route.operation.operationId,
      params,
    };
  }
  return undefined;
}

function operationOf(match: OperationMatch): OperationObject {
  const loaded = load();
  const route = loaded.routes.find((r) => r.method === match.method && r.template === match.template);
  if (!route) throw new Error(`no operation for ${match.route}`);
  return route.operation;
}

/**
 * Validates a request's path, path and query parameters and JSON body against the description. Stricter than
 * GitHub in one way on purpose: unknown query parameters and unknown top-level body properties are errors,
 * because GitHub silently ignores them and a typo would otherwise pass unnoticed.
 */
export function validateRequest(req: {
  method: string;
  pathname: string;
  query: URLSearchParams;
  body: unknown;
}): RequestCheck {
  const loaded = load();
  const match = matchOperation(req.method, req.pathname);
  if (!match)
    return { match, errors: [`${req.method} ${req.pathname} is not an operation of the GitHub REST API`] };
  const op = operationOf(match);
  const errors: string[] = [];
  const params = (op.parameters ?? []).map((p) => resolveParameter(loaded, p));
  for (const p of params) {
    if (p.in !== 'path' && p.in !== 'query') continue;
    const raw = p.in === 'path' ? match.params[p.name] : (req.query.get(p.name) ?? undefined);
    if (raw === undefined) {
      if (p.required) errors.push(`${p.in} parameter ${p.name} is required`);
      continue;
    }
    if (!p.schema) continue;
    // Coercion needs a parent object to write the coerced value into.
    const fn = validator(
      loaded,
      `${match.route} ${p.in}:${p.name}`,
      { type: 'object', properties: { value: p.schema } },
      true,
    );
    if (!fn({ value: raw })) errors.push(...describeErrors(fn, `${p.in} parameter ${p.name}`, '/value'));
  }
  const known = new Set(params.filter((p) => p.in === 'query').map((p) => p.name));
  for (const name of new Set(req.query.keys())) {
    if (!known.has(name)) errors.push(`query parameter ${name} is not accepted by ${match.operationId}`);
  }
  const bodySchema = op.requestBody?.content?.['application/json']?.schema as
    { type?: string; properties?: Record<string, unknown> } | undefined;
  if (req.body === undefined) {
    if (op.requestBody?.required) errors.push(`a JSON request body is required by ${match.operationId}`);
  } else if (!bodySchema) {
    errors.push(`${match.operationId} takes no JSON request body`);
  } else {
    const fn = validator(loaded, `${match.route} body`, bodySchema, false);
    if (!fn(req.body)) errors.push(...describeErrors(fn, 'body'));
    if (bodySchema.properties && req.body && typeof req.body === 'object' && !Array.isArray(req.body)) {
      for (const name of Object.keys(req.body)) {
        if (!(name in bodySchema.properties))
          errors.push(`body property ${name} is not accepted by ${match.operationId}`);
      }
    }
  }
  return { match, errors };
}

/** Validates a JSON response body the loopback server is about to send; returns the mismatches. */
export function validateResponse(match: OperationMatch, status: number, body: unknown): string[] {
  const loaded = load();
  const op = operationOf(match);
  const response = op.responses[String(status)];
  if (!response) return [`${match.operationId} does not document status ${status}`];
  if ('$ref' in response) return [];
  const schema = response.content?.['application/json']?.schema;
  if (!schema) return body === undefined ? [] : [`${match.operationId} ${status} documents no JSON body`];
  const fn = validator(loaded, `${match.route} response ${status}`, schema, false);
  return fn(body) ? [] : describeErrors(fn, `response ${status}`);
}
