// A small, dependency-free Swagger 2.0 request validator for the Node tests.
//
// Given Adobe's Swagger documents (host-example/test/swagger/, copied unmodified from Adobe's
// AdobeDocs/marketo-apis repository, see swagger/ORIGIN.md) and a request as the simulator logs
// it ({method, path, query, rawQuery, headers, body, json, form}), it finds the operation whose path template matches and
// returns a list of human-readable problems; an empty list means the request conforms.
//
// What is checked, per the Swagger 2.0 specification:
//   - the path matches a template of some document and the method is declared for it;
//   - path parameters have their declared type (an integer path parameter must be an integer,
//     within int32/int64 when a format is given);
//   - every query parameter sent is declared for the operation, has its declared type
//     (integer, number, boolean, string, enum) and, for arrays, its collectionFormat (csv,
//     ssv, tsv, pipes: one instance split on the separator; multi: one instance per item);
//     a non-array parameter sent more than once is a problem;
//   - required path/query/header/body/formData parameters are present;
//   - a JSON body validates against the referenced schema ($ref, allOf, type, required,
//     properties, items, enum, integer formats). Objects are closed: a property the schema does
//     not declare is a problem (it catches misspelt keys), except in the definitions listed in
//     `freeFormDefinitions` (default `Lead`: a Sync Leads record is a map of the instance's own
//     field names) and where the schema itself allows `additionalProperties`;
//   - multipart/form-data bodies carry every required formData part, a `type: file` parameter as
//     a file part (with a filename), and no undeclared part;
//   - when there is a body, its Content-Type is one of the operation's `consumes`, and the
//     operation declares a body or formData parameter at all.
//
// Marketo conventions applied on top of the plain specification (both are written in Adobe's
// own documents, nothing else is relaxed):
//   - `POST …?_method=GET` is Marketo's documented way to send a long GET: it is validated as
//     the GET operation, with the parameters of its application/x-www-form-urlencoded body
//     counted as query parameters (`_method=DELETE` likewise selects the DELETE operation);
//   - a `collectionFormat: multi` parameter whose own description says its value is a
//     comma-separated list (e.g. `leadIds`: "A comma-separated list of ids of losing records")
//     may also carry several items in one instance (`leadIds=1,2`); each item is still
//     type-checked. Where the description says no such thing, multi is strict.
// Outside `_method`, a form-encoded body does NOT stand in for query parameters: a required
// query parameter sent in a body is reported as missing from the query.

const MEDIA_JSON = /^application\/(?:[\w.+-]*\+)?json$/;
const MEDIA_FORM = 'application/x-www-form-urlencoded';
const MEDIA_MULTIPART = 'multipart/form-data';
const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch'];
const INT_RANGE = {
  int32: [-(2n ** 31n), 2n ** 31n - 1n],
  int64: [-(2n ** 63n), 2n ** 63n - 1n],
};

/**
 * A validator over one or more Swagger 2.0 documents (e.g. mapi + identity + asset).
 * Each operation keeps its own document for `$ref` resolution, so definitions that share a
 * name across documents do not clash.
 *
 * @param {object|object[]} docs
 * @param {{freeFormDefinitions?: string[]}} [options]
 */
export function createValidator(docs, options = {}) {
  const list = Array.isArray(docs) ? docs : [docs];
  for (const d of list) {
    if (!d || d.swagger !== '2.0' || typeof d.paths !== 'object') throw new Error('not a Swagger 2.0 document');
  }
  const freeForm = new Set(options.freeFormDefinitions ?? ['Lead']);
  const templates = [];
  for (const doc of list) {
    const base = (doc.basePath ?? '/').replace(/\/$/, '');
    for (const [template, item] of Object.entries(doc.paths)) {
      const full = base + template;
      const names = [];
      const source = full
        .split(/(\{[^}]+\})/)
        .map((part) => {
          const m = /^\{([^}]+)\}$/.exec(part);
          if (!m) return part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
          names.push(m[1]);
          return '([^/]+)';
        })
        .join('');
      const literal = full.replace(/\{[^}]+\}/g, '').length;
      templates.push({ doc, template: full, item, names, regex: new RegExp(`^${source}$`), literal });
    }
  }
  // Most literal first, so `/rest/v1/leads/describe.json` wins over `/rest/v1/leads/{id}.json`.
  templates.sort((a, b) => b.literal - a.literal || a.names.length - b.names.length);

  /** The operation for a method and path: {doc, template, item, op, pathParams} or {problem}. */
  function find(method, path) {
    const matches = [];
    for (const t of templates) {
      const m = t.regex.exec(path);
      if (m) matches.push({ t, m });
    }
    if (matches.length === 0) return { problem: `no path template in the Swagger matches ${path}` };
    const lower = method.toLowerCase();
    const hit = matches.find(({ t }) => t.item[lower]);
    if (!hit) {
      const t = matches[0].t;
      const has = HTTP_METHODS.filter((k) => t.item[k]).map((k) => k.toUpperCase());
      return { problem: `${t.template} declares no ${method.toUpperCase()} operation (it has ${has.join(', ') || 'none'})` };
    }
    const pathParams = {};
    hit.t.names.forEach((n, i) => {
      let v = hit.m[i + 1];
      try { v = decodeURIComponent(v); } catch { /* keep the raw text */ }
      pathParams[n] = v;
    });
    return { doc: hit.t.doc, template: hit.t.template, item: hit.t.item, op: hit.t.item[lower], pathParams };
  }

  /** Problems with one request; [] when it conforms. */
  function validate(request) {
    const problems = [];
    const req = normalize(request);
    let method = req.method;
    let query = req.query;
    let bodyIsParams = false;

    // Marketo's method override: `POST …?_method=GET` (parameters in a form body).
    if (method === 'POST' && Object.prototype.hasOwnProperty.call(query, '_method')) {
      const override = single(query._method).toUpperCase();
      query = { ...query };
      delete query._method;
      if (override !== 'GET' && override !== 'DELETE') {
        problems.push(`_method=${override} is not a method override Marketo supports (GET or DELETE)`);
      } else {
        method = override;
        const formBody = req.media === MEDIA_FORM;
        if (override === 'GET' && req.hasBody && !formBody) {
          problems.push(
            `POST ?_method=GET must carry its parameters in an ${MEDIA_FORM} body; Content-Type is ${show(req.contentType)}`,
          );
        }
        if (formBody) {
          for (const [k, v] of Object.entries(req.form ?? {})) {
            query[k] = k in query ? [...asList(query[k]), ...asList(v)] : v;
          }
          bodyIsParams = true;
        } else if (override === 'GET') {
          bodyIsParams = true; // already reported above (if there was a body)
        }
      }
    }

    const found = find(method, req.path);
    if (found.problem) return [...problems, found.problem];
    const { doc, item, op, pathParams } = found;
    const opName = `${method} ${found.template}${op.operationId ? ` (${op.operationId})` : ''}`;
    const params = mergeParams(doc, item.parameters ?? [], op.parameters ?? []);
    const ref = (s) => resolveRef(doc, s);

    // Path parameters.
    for (const p of params.filter((p) => p.in === 'path')) {
      const v = pathParams[p.name];
      if (v === undefined) {
        problems.push(`path parameter "${p.name}" is declared but not in the template ${found.template}`);
        continue;
      }
      const why = scalarProblem(v, p);
      if (why) problems.push(`path parameter "${p.name}" = ${show(v)}: ${why}`);
    }

    // Query parameters: declared, typed, required.
    const declaredQuery = new Map(params.filter((p) => p.in === 'query').map((p) => [p.name, p]));
    for (const [name, raw] of Object.entries(query)) {
      const p = declaredQuery.get(name);
      if (!p) {
        const known = [...declaredQuery.keys()];
        problems.push(
          `query parameter "${name}" is not declared by ${opName}` +
            (known.length ? ` (declared: ${known.join(', ')})` : ' (it declares no query parameters)'),
        );
        continue;
      }
      for (const why of paramValueProblems(p, raw)) problems.push(`query parameter "${name}" = ${show(raw)}: ${why}`);
    }
    for (const p of declaredQuery.values()) {
      if (p.required && !(p.name in query)) {
        const inBody = !bodyIsParams && req.form && p.name in req.form;
        problems.push(
          `required query parameter "${p.name}" is missing` +
            (inBody ? ` from the query string (it was sent in the ${MEDIA_FORM} body, which ${opName} does not declare)` : ''),
        );
      }
    }

    // Header parameters (only those the operation declares; transport headers are not checked).
    for (const p of params.filter((p) => p.in === 'header')) {
      const v = req.headers[p.name.toLowerCase()];
      if (v === undefined) {
        if (p.required) problems.push(`required header "${p.name}" is missing`);
      } else {
        const why = scalarProblem(String(v), p);
        if (why) problems.push(`header "${p.name}" = ${show(v)}: ${why}`);
      }
    }

    // Body: JSON body parameter or formData parameters.
    const bodyParam = params.find((p) => p.in === 'body');
    const formParams = params.filter((p) => p.in === 'formData');
    const hasBody = req.hasBody && !bodyIsParams;
    if (hasBody) {
      const consumes = op.consumes ?? doc.consumes ?? [];
      if (!bodyParam && formParams.length === 0) {
        problems.push(`${opName} declares no body or formData parameter, but the request has a body`);
      }
      if (!req.contentType) {
        problems.push('the request has a body but no Content-Type');
      } else if (consumes.length && !consumes.map((c) => c.toLowerCase()).includes(req.media)) {
        problems.push(`Content-Type ${show(req.contentType)} is not in consumes [${consumes.join(', ')}] of ${opName}`);
      }
      if (bodyParam && MEDIA_JSON.test(req.media ?? '')) {
        const parsed = req.jsonValue();
        if (parsed.error) problems.push(`the JSON body does not parse: ${parsed.error}`);
        else schemaProblems(parsed.value, bodyParam.schema ?? {}, 'body', { ref, freeForm, problems, def: null });
      }
      if (formParams.length) formProblems(req, formParams, problems);
    } else {
      if (bodyParam?.required) {
        problems.push(`required body parameter "${bodyParam.name}" is missing (the request has no body)`);
      }
      for (const p of formParams.filter((p) => p.required)) {
        problems.push(`required formData parameter "${p.name}"${p.type === 'file' ? ' (file)' : ''} is missing (the request has no body)`);
      }
    }
    return problems;
  }

  return { validate, find };
}

/** One-shot form of `createValidator(docs, options).validate(request)`. */
export function validateRequest(docs, request, options) {
  return createValidator(docs, options).validate(request);
}

// --- request normalisation -------------------------------------------------------------------

function normalize(request) {
  let path = request.path ?? '/';
  let rawQuery = request.rawQuery;
  const qi = path.indexOf('?');
  if (qi >= 0) {
    rawQuery ??= path.slice(qi + 1);
    path = path.slice(0, qi);
  }
  const query = request.query ? { ...request.query } : parseForm(rawQuery ?? '');
  const headers = {};
  for (const [k, v] of Object.entries(request.headers ?? {})) headers[k.toLowerCase()] = v;
  const contentType = headers['content-type'];
  const media = contentType ? contentType.split(';')[0].trim().toLowerCase() : undefined;
  const body = request.body;
  const multipart = body && typeof body === 'object' && body.multipart ? body : undefined;
  const hasBody =
    (typeof body === 'string' && body.length > 0) ||
    Boolean(multipart) ||
    (body !== undefined && body !== null && typeof body === 'object' && !multipart) ||
    request.json !== undefined;
  let form = request.form;
  if (!form && media === MEDIA_FORM && typeof body === 'string') form = parseForm(body);
  const jsonValue = () => {
    if (request.json !== undefined) return { value: request.json };
    if (body && typeof body === 'object' && !multipart) return { value: body };
    try {
      return { value: JSON.parse(typeof body === 'string' ? body : '') };
    } catch (e) {
      return { error: e.message };
    }
  };
  return { method: String(request.method ?? 'GET').toUpperCase(), path, query, headers, contentType, media, multipart, form, hasBody, jsonValue };
}

/** application/x-www-form-urlencoded decoding as a Java servlet does it (`+` = space). */
export function parseForm(raw) {
  const out = {};
  for (const part of (raw ?? '').split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const dec = (s) => {
      const spaced = s.replace(/\+/g, ' ');
      try { return decodeURIComponent(spaced); } catch { return spaced; }
    };
    const k = dec(eq < 0 ? part : part.slice(0, eq));
    const v = eq < 0 ? '' : dec(part.slice(eq + 1));
    if (Object.prototype.hasOwnProperty.call(out, k)) out[k] = [...asList(out[k]), v];
    else Object.defineProperty(out, k, { value: v, enumerable: true, writable: true, configurable: true });
  }
  return out;
}

// --- parameters ------------------------------------------------------------------------------

function mergeParams(doc, pathLevel, opLevel) {
  const byKey = new Map();
  for (const p of [...pathLevel, ...opLevel]) {
    const r = p.$ref ? resolveRef(doc, p).schema : p;
    if (r) byKey.set(`${r.in} ${r.name}`, r);
  }
  return [...byKey.values()];
}

function asList(v) {
  return Array.isArray(v) ? v : [v];
}

function single(v) {
  return Array.isArray(v) ? v.join(',') : String(v);
}

const SEPARATORS = { csv: ',', ssv: ' ', tsv: '\t', pipes: '|' };

/** Problems with the value(s) of a query or formData parameter (strings, as sent). */
function paramValueProblems(p, raw) {
  const instances = asList(raw);
  if (p.type !== 'array') {
    if (instances.length > 1) return [`sent ${instances.length} times, but it is a single ${p.type}, not an array`];
    const why = scalarProblem(instances[0], p);
    return why ? [why] : [];
  }
  const format = p.collectionFormat ?? 'csv';
  let items;
  if (format === 'multi') {
    const commaList = /comma[- ]separated/i.test(p.description ?? '') || /\b\w+=[^\s,]+,[^\s,]+/.test(p.description ?? '');
    items = commaList ? instances.flatMap((s) => s.split(',')) : instances;
  } else {
    if (instances.length > 1) {
      return [`sent ${instances.length} times, but its collectionFormat is ${format} (one instance, items separated by ${JSON.stringify(SEPARATORS[format])})`];
    }
    items = instances[0] === '' ? [] : instances[0].split(SEPARATORS[format] ?? ',');
  }
  const out = [];
  const itemSchema = p.items ?? {};
  items.forEach((item, i) => {
    const why = scalarProblem(item, itemSchema);
    if (why) out.push(`item ${i} ${show(item)}: ${why}`);
  });
  if (p.minItems !== undefined && items.length < p.minItems) out.push(`has ${items.length} items, fewer than minItems ${p.minItems}`);
  if (p.maxItems !== undefined && items.length > p.maxItems) out.push(`has ${items.length} items, more than maxItems ${p.maxItems}`);
  return out;
}

/** Why a string (from a URL or form) is not a valid value of a simple-typed schema, or null. */
function scalarProblem(value, schema) {
  const type = schema.type;
  const s = String(value);
  if (type === 'integer') {
    if (!/^[+-]?\d+$/.test(s)) return `expected an integer${fmt(schema)}`;
    const range = INT_RANGE[schema.format];
    if (range && (BigInt(s) < range[0] || BigInt(s) > range[1])) return `out of ${schema.format} range`;
  } else if (type === 'number') {
    if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(s)) return `expected a number${fmt(schema)}`;
  } else if (type === 'boolean') {
    if (s !== 'true' && s !== 'false') return 'expected a boolean (true or false)';
  } else if (type === 'array' || type === 'object' || type === 'file') {
    return `a ${type} cannot be checked as a single value here`;
  }
  if (schema.enum && !schema.enum.map(String).includes(s)) return `not one of the enum values [${schema.enum.join(', ')}]`;
  if (schema.pattern && !new RegExp(schema.pattern).test(s)) return `does not match the pattern ${schema.pattern}`;
  return null;
}

function fmt(schema) {
  return schema.format ? ` (${schema.format})` : '';
}

function show(v) {
  if (v === undefined) return '(none)';
  const text = JSON.stringify(v);
  return text.length > 120 ? `${text.slice(0, 117)}…` : text;
}

// --- formData ---------------------------------------------------------------------------------

function formProblems(req, formParams, problems) {
  const declared = new Map(formParams.map((p) => [p.name, p]));
  /** name → [{text, filename}] */
  const fields = new Map();
  if (req.media === MEDIA_MULTIPART) {
    if (!/;\s*boundary=/i.test(req.contentType ?? '')) problems.push('multipart/form-data Content-Type has no boundary');
    for (const part of req.multipart?.parts ?? []) {
      if (!part.name) {
        problems.push('a multipart part has no name in its Content-Disposition');
        continue;
      }
      if (!fields.has(part.name)) fields.set(part.name, []);
      fields.get(part.name).push({ text: part.text ?? '', filename: part.filename });
    }
    if (!req.multipart) problems.push('the multipart body could not be parsed into parts');
  } else if (req.media === MEDIA_FORM) {
    for (const [k, v] of Object.entries(req.form ?? {})) fields.set(k, asList(v).map((text) => ({ text })));
  } else {
    return; // Content-Type already reported against consumes
  }
  for (const [name, values] of fields) {
    const p = declared.get(name);
    if (!p) {
      problems.push(`formData part "${name}" is not declared (declared: ${[...declared.keys()].join(', ')})`);
      continue;
    }
    if (p.type === 'file') {
      if (req.media !== MEDIA_MULTIPART) problems.push(`formData parameter "${name}" is a file, which needs multipart/form-data`);
      else if (values.some((v) => v.filename === undefined)) problems.push(`formData part "${name}" must be a file part (with a filename)`);
      if (values.length > 1) problems.push(`formData file "${name}" sent ${values.length} times`);
    } else {
      const raw = values.length === 1 ? values[0].text : values.map((v) => v.text);
      for (const why of paramValueProblems(p, raw)) problems.push(`formData parameter "${name}" = ${show(raw)}: ${why}`);
    }
  }
  for (const p of formParams) {
    if (p.required && !fields.has(p.name)) problems.push(`required formData parameter "${p.name}"${p.type === 'file' ? ' (file)' : ''} is missing`);
  }
}

// --- JSON schema ------------------------------------------------------------------------------

/** {schema, name} for a `$ref` (local refs only: `#/definitions/X`, `#/parameters/X`). */
function resolveRef(doc, schema) {
  if (!schema?.$ref) return { schema, name: null };
  const m = /^#\/(definitions|parameters)\/(.+)$/.exec(schema.$ref);
  const target = m ? doc[m[1]]?.[decodeURIComponent(m[2]).replace(/~1/g, '/').replace(/~0/g, '~')] : undefined;
  return { schema: target, name: m ? m[2] : schema.$ref, missing: target === undefined };
}

function jsonType(v) {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
}

function schemaProblems(value, schema, at, ctx, depth = 0) {
  const { problems, freeForm } = ctx;
  if (depth > 64) return;
  let def = ctx.def;
  let s = schema;
  // Follow $ref chains, remembering the definition name for messages and free-form maps.
  for (let i = 0; s?.$ref && i < 16; i++) {
    const r = ctx.ref(s);
    if (r.missing) {
      problems.push(`${at}: unresolvable $ref ${s.$ref}`);
      return;
    }
    def = r.name;
    s = r.schema;
  }
  if (!s) return;
  const where = def ? ` (${def})` : '';
  // allOf members are checked in full except for unknown properties, which are judged here
  // against the properties of all members together.
  for (const sub of s.allOf ?? []) schemaProblems(value, sub, at, { ...ctx, def, members: true }, depth + 1);

  const type = s.type ?? (s.properties ? 'object' : undefined);
  const actual = jsonType(value);
  if (value === null) {
    if (type && !s['x-nullable']) problems.push(`${at}: is null, expected ${type}${where}`);
    return;
  }
  if (type) {
    const ok =
      actual === type ||
      (type === 'number' && actual === 'integer') ||
      (type === 'file' && actual === 'string');
    if (!ok) {
      problems.push(`${at}: expected ${type}${s.format ? ` (${s.format})` : ''}, got ${actual} ${show(value)}${where}`);
      return;
    }
  }
  if (s.enum && !s.enum.some((e) => e === value)) problems.push(`${at}: ${show(value)} is not one of [${s.enum.join(', ')}]${where}`);
  if (type === 'integer') {
    const range = INT_RANGE[s.format];
    if (range && (BigInt(value) < range[0] || BigInt(value) > range[1])) problems.push(`${at}: ${value} is out of ${s.format} range${where}`);
  }
  if (typeof value === 'string') {
    if (s.maxLength !== undefined && value.length > s.maxLength) problems.push(`${at}: longer than maxLength ${s.maxLength}${where}`);
    if (s.minLength !== undefined && value.length < s.minLength) problems.push(`${at}: shorter than minLength ${s.minLength}${where}`);
    if (s.pattern && !new RegExp(s.pattern).test(value)) problems.push(`${at}: does not match ${s.pattern}${where}`);
  }
  if (actual === 'array') {
    if (s.maxItems !== undefined && value.length > s.maxItems) problems.push(`${at}: ${value.length} items, more than maxItems ${s.maxItems}${where}`);
    if (s.minItems !== undefined && value.length < s.minItems) problems.push(`${at}: ${value.length} items, fewer than minItems ${s.minItems}${where}`);
    if (s.items) value.forEach((v, i) => schemaProblems(v, s.items, `${at}[${i}]`, { ...ctx, def: def && `${def}[]`, members: false }, depth + 1));
  }
  if (actual === 'object') {
    const props = s.properties ?? {};
    for (const r of s.required ?? []) {
      if (!Object.prototype.hasOwnProperty.call(value, r)) problems.push(`${at}: required property "${r}" is missing${where}`);
    }
    for (const [k, v] of Object.entries(value)) {
      if (Object.prototype.hasOwnProperty.call(props, k)) {
        schemaProblems(v, props[k], `${at}.${k}`, { ...ctx, def: def && `${def}.${k}`, members: false }, depth + 1);
      } else if (s.additionalProperties && typeof s.additionalProperties === 'object') {
        schemaProblems(v, s.additionalProperties, `${at}.${k}`, { ...ctx, def: def && `${def}.*`, members: false }, depth + 1);
      }
    }
    if (ctx.members) return; // the allOf owner judges unknown properties
    const known = declaredProperties(s, ctx.ref);
    const open =
      (def && freeForm.has(def)) || known.open || s.additionalProperties === true || (typeof s.additionalProperties === 'object');
    if (!open) {
      for (const k of Object.keys(value)) {
        if (!known.names.has(k)) {
          problems.push(`${at}.${k}: not a property of ${def ?? 'the schema'} (declared: ${[...known.names].join(', ') || 'none'})`);
        }
      }
    }
  }
}

/** The property names a schema declares, through allOf; `open` when it declares none at all. */
function declaredProperties(schema, ref, depth = 0) {
  let s = schema;
  for (let i = 0; s?.$ref && i < 16; i++) s = ref(s).schema;
  const names = new Set(Object.keys(s?.properties ?? {}));
  let open = !s?.properties && !s?.allOf;
  if (s?.allOf && depth < 16) {
    open = false;
    for (const sub of s.allOf) {
      const inner = declaredProperties(sub, ref, depth + 1);
      inner.names.forEach((n) => names.add(n));
      if (inner.open && !(sub.properties || sub.$ref)) open = true;
    }
  }
  return { names, open };
}
