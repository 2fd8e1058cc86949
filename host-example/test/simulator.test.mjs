// Tests of the Marketo simulator itself, over real loopback HTTP with global fetch.
// Run: node --test host-example/test/simulator.test.mjs   (from the repository root)

import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { startSimulator } from '../simulator/marketo-sim.mjs';

// --- helpers ---------------------------------------------------------------------------------

function virtualClock(start = Date.UTC(2026, 10, 28, 15, 0, 0)) {
  let t = start;
  const clock = () => t;
  clock.advance = (ms) => {
    t += ms;
  };
  return clock;
}

const COOKIE = 'id:123-ABC-456&token:_mch-example.com-1418418733122-51548';

const SEED = {
  leads: [
    { id: 101, email: 'Abe@usa.gov', firstName: 'Abraham', lastName: 'Lincoln', cookies: COOKIE },
    { id: 102, email: 'george@usa.gov', firstName: 'George', lastName: 'Washington' },
    { id: 103, email: 'dup@x.com', firstName: 'Dup1' },
    { id: 104, email: 'dup@x.com', firstName: 'Dup2' },
    { id: 105, email: 'empty@x.com' },
  ],
  lists: [
    { id: 1, name: 'List One' },
    { id: 2, name: 'List Two' },
    { id: 3, name: 'List Three' },
  ],
  campaigns: [
    { id: 10, name: 'Requestable', type: 'trigger', isRequestable: true },
    { id: 11, name: 'Batch', type: 'batch' },
    { id: 12, name: 'Inactive trigger', type: 'trigger', active: false },
  ],
};

async function setup(options = {}) {
  const clock = virtualClock();
  const sim = await startSimulator({ clock, seed: SEED, ...options });
  const token = await getToken(sim);
  const call = (method, path, opts = {}) => request(sim, token, method, path, opts);
  return { sim, clock, token, call };
}

async function getToken(sim) {
  const r = await fetch(
    `${sim.identityUrl}/oauth/token?grant_type=client_credentials&client_id=${sim.clientId}&client_secret=${sim.clientSecret}`,
  );
  return (await r.json()).access_token;
}

/** path is relative to the host (e.g. "/rest/v1/leads.json?x=y"). */
async function request(sim, token, method, path, { json, body, headers = {}, auth = true } = {}) {
  const h = { ...headers };
  if (auth) h.Authorization = `Bearer ${token}`;
  let payload = body;
  if (json !== undefined) {
    h['Content-Type'] = 'application/json';
    payload = JSON.stringify(json);
  }
  const res = await fetch(sim.url + path, { method, headers: h, body: payload });
  const text = await res.text();
  let data;
  try {
    data = JSON.parse(text);
  } catch {
    data = text;
  }
  return { status: res.status, contentType: res.headers.get('content-type'), data, text };
}

function errorCode(data) {
  assert.equal(data.success, false, JSON.stringify(data));
  return data.errors[0].code;
}

function multipart(boundary, parts) {
  let out = '';
  for (const p of parts) {
    out += `--${boundary}\r\n`;
    out += `Content-Disposition: form-data; name="${p.name}"${p.filename ? `; filename="${p.filename}"` : ''}\r\n`;
    if (p.contentType) out += `Content-Type: ${p.contentType}\r\n`;
    out += `\r\n${p.data}\r\n`;
  }
  return out + `--${boundary}--\r\n`;
}

async function bulkImport(call, csv, query = '?format=csv', extraParts = []) {
  const boundary = '------WebKitFormBoundaryBQACkJZyaiIAXogC';
  const body = multipart(boundary, [
    ...extraParts,
    { name: 'file', filename: 'leads.csv', contentType: 'text/csv', data: csv },
  ]);
  return call('POST', `/bulk/v1/leads.json${query}`, {
    body,
    headers: { 'Content-Type': `multipart/form-data; boundary=${boundary}` },
  });
}

// --- identity --------------------------------------------------------------------------------

describe('identity', () => {
  test('same token with falling expires_in; form POST; 401; expiry', async () => {
    const clock = virtualClock();
    const sim = await startSimulator({ clock });
    try {
      const q = `grant_type=client_credentials&client_id=${sim.clientId}&client_secret=${sim.clientSecret}`;
      const r1 = await fetch(`${sim.identityUrl}/oauth/token?${q}`);
      assert.equal(r1.status, 200);
      assert.equal(r1.headers.get('content-type'), 'application/json;charset=UTF-8');
      const t1 = await r1.json();
      assert.equal(t1.token_type, 'bearer');
      assert.equal(t1.expires_in, 3599);
      assert.match(t1.access_token, /^[0-9a-f-]{36}:sim$/);
      assert.equal(typeof t1.scope, 'string');

      clock.advance(100_000);
      const t2 = await (await fetch(`${sim.identityUrl}/oauth/token?${q}`, { method: 'POST' })).json();
      assert.equal(t2.access_token, t1.access_token);
      assert.equal(t2.expires_in, 3499);

      // POST with an x-www-form-urlencoded body
      clock.advance(1_000);
      const t3 = await (
        await fetch(`${sim.identityUrl}/oauth/token`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
          body: q,
        })
      ).json();
      assert.equal(t3.access_token, t1.access_token);
      assert.equal(t3.expires_in, 3498);

      const bad = await fetch(`${sim.identityUrl}/oauth/token?grant_type=client_credentials&client_id=${sim.clientId}&client_secret=nope`);
      assert.equal(bad.status, 401);
      assert.deepEqual(await bad.json(), { error: 'unauthorized', error_description: 'Bad client credentials' });

      // after expiry: a new token; the old one answers 602
      clock.advance(3600_000);
      const t4 = await (await fetch(`${sim.identityUrl}/oauth/token?${q}`)).json();
      assert.notEqual(t4.access_token, t1.access_token);
      assert.equal(t4.expires_in, 3599);
      const old = await request(sim, t1.access_token, 'GET', '/rest/v1/lists.json');
      assert.equal(errorCode(old.data), '602');
      assert.equal(old.data.errors[0].message, 'Access token expired');

      // identity calls are not counted against the limits
      assert.equal(sim.state.counters.identityCalls, 5);
      assert.equal(sim.state.counters.callsToday, 0);
    } finally {
      await sim.close();
    }
  });

  test('600 / 601 / 602 and the deprecated access_token parameter', async () => {
    const { sim, clock, token, call } = await setup({ tokenLifetimeSec: 60 });
    try {
      const missing = await call('GET', '/rest/v1/lists.json', { auth: false });
      assert.equal(missing.status, 200);
      assert.deepEqual(missing.data.errors, [{ code: '600', message: 'Access token not specified' }]);
      assert.match(missing.data.requestId, /^[0-9a-f]+#[0-9a-f]+$/);

      const invalid = await request(sim, 'nope:sim', 'GET', '/rest/v1/lists.json');
      assert.deepEqual(invalid.data.errors, [{ code: '601', message: 'Access token invalid' }]);

      // the legacy query parameter is not accepted, and is counted
      const legacy = await call('GET', `/rest/v1/lists.json?access_token=${token}`, { auth: false });
      assert.equal(errorCode(legacy.data), '600');
      assert.equal(sim.state.counters.deprecatedAccessTokenParam, 1);

      assert.equal((await call('GET', '/rest/v1/lists.json')).data.success, true);
      clock.advance(60_000);
      assert.equal(errorCode((await call('GET', '/rest/v1/lists.json')).data), '602');
    } finally {
      await sim.close();
    }
  });
});

// --- routing ---------------------------------------------------------------------------------

test('610 unknown path, 605 wrong method, double slash is unknown', async () => {
  const { sim, call } = await setup();
  try {
    assert.equal(errorCode((await call('GET', '/rest/v1/nothing.json')).data), '610');
    const wrong = await call('PUT', '/rest/v1/leads.json', { json: { input: [] } });
    assert.deepEqual(wrong.data.errors, [{ code: '605', message: 'HTTP Method not supported' }]);
    assert.equal(errorCode((await call('GET', '//rest/v1/lists.json')).data), '610');
    assert.equal(errorCode((await call('GET', '/bulk/v1/leads.json')).data), '605');
  } finally {
    await sim.close();
  }
});

// --- sync leads ------------------------------------------------------------------------------

describe('sync leads', () => {
  test('statuses in input order, reasons, stored values', async () => {
    const { sim, call } = await setup();
    try {
      const r = await call('POST', '/rest/v1/leads.json', {
        json: {
          input: [
            { email: 'new@x.com', firstName: 'New', leadScore: 0 }, // created
            { email: 'ABE@usa.gov', title: 'President', lastName: null }, // updated (case-insensitive)
            { email: 'dup@x.com', firstName: 'X' }, // 1007
            { email: 'u@x.com', favouriteColour: 'red' }, // 1006
            { firstName: 'no key' }, // 1002
            { email: 'jörg@x.com' }, // non-ASCII email → 1001
            { email: 'score@x.com', leadScore: 'high' }, // 1001
          ],
        },
      });
      assert.equal(r.status, 200);
      assert.equal(r.data.success, true);
      const res = r.data.result;
      assert.equal(res.length, 7);
      assert.equal(res[0].status, 'created');
      assert.equal(typeof res[0].id, 'number');
      assert.deepEqual(res[1], { id: 101, status: 'updated' });
      assert.deepEqual(res[2], { status: 'skipped', reasons: [{ code: '1007', message: 'Multiple leads match the lookup criteria' }] });
      assert.deepEqual(res[3], { status: 'skipped', reasons: [{ code: '1006', message: "Field 'favouriteColour' not found" }] });
      assert.equal(res[4].reasons[0].code, '1002');
      assert.equal(res[5].reasons[0].code, '1001');
      assert.equal(res[6].reasons[0].code, '1001');
      assert.equal(res.some((x) => 'seq' in x), false);

      const created = sim.state.leads.get(res[0].id);
      assert.equal(created.leadScore, 0); // 0 kept
      assert.equal(created.firstName, 'New');
      const abe = sim.state.leads.get(101);
      assert.equal(abe.title, 'President');
      assert.equal(abe.lastName, null); // null clears
      assert.equal(abe.email, 'ABE@usa.gov'); // the record's email is written as sent
      assert.equal(sim.state.leads.size, 6);
    } finally {
      await sim.close();
    }
  });

  test('createOnly / updateOnly / createDuplicate / id rules / other lookupField', async () => {
    const { sim, call } = await setup({ fields: [{ name: 'externalKey', dataType: 'string' }] });
    try {
      const createOnly = await call('POST', '/rest/v1/leads.json', {
        json: { action: 'createOnly', lookupField: 'email', input: [{ email: 'george@usa.gov' }, { email: 'c1@x.com' }, { id: 5, email: 'c2@x.com' }] },
      });
      assert.deepEqual(createOnly.data.result[0], { status: 'skipped', reasons: [{ code: '1005', message: 'Lead already exists' }] });
      assert.equal(createOnly.data.result[1].status, 'created');
      assert.deepEqual(createOnly.data.result[2].reasons, [{ code: '1003', message: 'Invalid data' }]);

      const updateOnly = await call('POST', '/rest/v1/leads.json', {
        json: { action: 'updateOnly', input: [{ email: 'ghost@x.com', firstName: 'G' }, { id: 102, firstName: 'Georgie' }, { id: 999 }] },
      });
      assert.deepEqual(updateOnly.data.result[0], { status: 'skipped', reasons: [{ code: '1004', message: 'Lead not found' }] });
      assert.deepEqual(updateOnly.data.result[1], { id: 102, status: 'updated' });
      assert.equal(updateOnly.data.result[2].reasons[0].code, '1004');
      assert.equal(sim.state.leads.get(102).firstName, 'Georgie');

      const dupl = await call('POST', '/rest/v1/leads.json', {
        json: { action: 'createDuplicate', input: [{ email: 'george@usa.gov' }] },
      });
      assert.equal(dupl.data.result[0].status, 'created');

      const custom = await call('POST', '/rest/v1/leads.json', {
        json: { lookupField: 'externalKey', input: [{ externalKey: 'K1', firstName: 'A' }, { externalKey: 'K1', firstName: 'B' }] },
      });
      assert.equal(custom.data.result[0].status, 'created');
      assert.deepEqual(custom.data.result[1], { id: custom.data.result[0].id, status: 'updated' });
      assert.equal(sim.state.leads.get(custom.data.result[0].id).firstName, 'B');

      const unsupported = await call('POST', '/rest/v1/leads.json', { json: { lookupField: 'firstName', input: [{ firstName: 'A' }] } });
      assert.equal(unsupported.data.result[0].reasons[0].code, '1011');
    } finally {
      await sim.close();
    }
  });

  test('request-level errors: > 300 records, bad JSON, wrong content type, 413', async () => {
    const { sim, call } = await setup();
    try {
      const input = Array.from({ length: 301 }, (_, i) => ({ email: `l${i}@x.com` }));
      assert.equal(errorCode((await call('POST', '/rest/v1/leads.json', { json: { input } })).data), '1003');
      const badJson = await call('POST', '/rest/v1/leads.json', { body: '{"input":[', headers: { 'Content-Type': 'application/json' } });
      assert.equal(errorCode(badJson.data), '609');
      const badType = await call('POST', '/rest/v1/leads.json', { body: '{"input":[]}', headers: { 'Content-Type': 'text/plain' } });
      assert.equal(errorCode(badType.data), '612');

      // exactly 1 MB is accepted by the gateway, one byte more is 413
      const base = JSON.stringify({ input: [{ email: 'big@x.com', title: '' }] });
      const pad = 1048576 - base.length;
      const atLimit = JSON.stringify({ input: [{ email: 'big@x.com', title: 'a'.repeat(pad) }] });
      assert.equal(Buffer.byteLength(atLimit), 1048576);
      const ok = await call('POST', '/rest/v1/leads.json', { body: atLimit, headers: { 'Content-Type': 'application/json' } });
      assert.equal(ok.status, 200);
      const tooBig = await call('POST', '/rest/v1/leads.json', { body: atLimit + ' ', headers: { 'Content-Type': 'application/json' } });
      assert.equal(tooBig.status, 413);
      assert.match(tooBig.text, /413 Request Entity Too Large/);
      const last = sim.requests.at(-1);
      assert.equal(last.status, 413);
      assert.equal(last.bodySize, 1048577);
    } finally {
      await sim.close();
    }
  });
});

// --- get leads by filter ---------------------------------------------------------------------

describe('get leads by filter', () => {
  test('default fields with explicit nulls, case-insensitive email, no match', async () => {
    const { sim, call } = await setup();
    try {
      const r = await call('GET', '/rest/v1/leads.json?filterType=email&filterValues=abe@USA.gov,empty@x.com');
      assert.equal(r.data.success, true);
      assert.equal(r.data.result.length, 2);
      assert.deepEqual(Object.keys(r.data.result[1]).sort(), ['createdAt', 'email', 'firstName', 'id', 'lastName', 'updatedAt']);
      assert.equal(r.data.result[1].firstName, null);
      assert.match(r.data.result[0].createdAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
      assert.equal('moreResult' in r.data, false);

      const fields = await call('GET', '/rest/v1/leads.json?filterType=id&filterValues=102&fields=email,title');
      assert.deepEqual(fields.data.result, [{ id: 102, email: 'george@usa.gov', title: null }]);

      const none = await call('GET', '/rest/v1/leads.json?filterType=email&filterValues=nobody@x.com');
      assert.deepEqual(Object.keys(none.data).sort(), ['requestId', 'result', 'success']);
      assert.deepEqual(none.data.result, []);

      // "+" in a query means space: an unencoded plus-address does not match
      await call('POST', '/rest/v1/leads.json', { json: { input: [{ email: 'a+b@x.com' }] } });
      const raw = await call('GET', '/rest/v1/leads.json?filterType=email&filterValues=a+b@x.com');
      assert.deepEqual(raw.data.result, []);
      const enc = await call('GET', '/rest/v1/leads.json?filterType=email&filterValues=a%2Bb@x.com');
      assert.equal(enc.data.result.length, 1);
    } finally {
      await sim.close();
    }
  });

  test('errors: unsupported filterType, > 300 values, unknown field, > 1000 matches', async () => {
    const many = Array.from({ length: 1001 }, (_, i) => ({ id: 5000 + i, email: `m${i}@x.com`, sfdcAccountId: 'ACC' }));
    const clock = virtualClock();
    const sim = await startSimulator({ clock, seed: { leads: many } });
    const token = await getToken(sim);
    const call = (m, p) => request(sim, token, m, p);
    try {
      const unsupported = await call('GET', '/rest/v1/leads.json?filterType=firstName&filterValues=A');
      assert.deepEqual(unsupported.data.errors, [{ code: '1011', message: "Field 'firstName' not supported" }]);
      const values = Array.from({ length: 301 }, (_, i) => i + 1).join(',');
      assert.equal(errorCode((await call('GET', `/rest/v1/leads.json?filterType=id&filterValues=${values}`)).data), '1003');
      assert.equal(errorCode((await call('GET', '/rest/v1/leads.json?filterType=id&filterValues=1&fields=nope')).data), '1006');
      const tooMany = await call('GET', '/rest/v1/leads.json?filterType=sfdcAccountId&filterValues=ACC');
      assert.deepEqual(tooMany.data.errors, [{ code: '1003', message: 'Too many results match the filter' }]);
    } finally {
      await sim.close();
    }
  });

  test('paging with batchSize and nextPageToken', async () => {
    const { sim, call } = await setup();
    try {
      const ids = '101,102,103,104,105';
      const p1 = await call('GET', `/rest/v1/leads.json?filterType=id&filterValues=${ids}&batchSize=2`);
      assert.deepEqual(p1.data.result.map((l) => l.id), [101, 102]);
      assert.equal(p1.data.moreResult, true);
      assert.equal(typeof p1.data.nextPageToken, 'string');
      const p2 = await call('GET', `/rest/v1/leads.json?filterType=id&filterValues=${ids}&batchSize=2&nextPageToken=${encodeURIComponent(p1.data.nextPageToken)}`);
      assert.deepEqual(p2.data.result.map((l) => l.id), [103, 104]);
      const p3 = await call('GET', `/rest/v1/leads.json?filterType=id&filterValues=${ids}&batchSize=2&nextPageToken=${encodeURIComponent(p2.data.nextPageToken)}`);
      assert.deepEqual(p3.data.result.map((l) => l.id), [105]);
      assert.equal(p3.data.moreResult, undefined);
      assert.equal(errorCode((await call('GET', `/rest/v1/leads.json?filterType=id&filterValues=1&batchSize=301`)).data), '1003');
    } finally {
      await sim.close();
    }
  });

  test('cookie filter: %26 matches, a raw & is mis-parsed and finds nothing, garbage is 1012', async () => {
    const { sim, call } = await setup();
    try {
      const encoded = COOKIE.replace('&', '%26');
      const ok = await call('GET', `/rest/v1/leads.json?filterType=cookies&filterValues=${encoded}&fields=cookies,email`);
      assert.deepEqual(ok.data.result, [{ id: 101, cookies: '_mch-example.com-1418418733122-51548', email: 'Abe@usa.gov' }]);

      const rawAmp = await call('GET', `/rest/v1/leads.json?filterType=cookies&filterValues=${COOKIE}&fields=cookies,email`);
      assert.equal(rawAmp.data.success, true);
      assert.deepEqual(rawAmp.data.result, []);
      const logged = sim.requests.at(-1);
      assert.equal(logged.query.filterValues, 'id:123-ABC-456'); // the query string split at '&'
      assert.equal(logged.query['token:_mch-example.com-1418418733122-51548'], '');
      assert.equal(sim.state.counters.truncatedCookieFilters, 1);

      const garbage = await call('GET', '/rest/v1/leads.json?filterType=cookies&filterValues=hello');
      assert.deepEqual(garbage.data.errors, [{ code: '1012', message: "Invalid cookie value 'hello'" }]);
    } finally {
      await sim.close();
    }
  });

  test('414 for a URI over 8 KB, and POST ?_method=GET with a form body', async () => {
    const { sim, call } = await setup();
    try {
      const emails = Array.from({ length: 299 }, (_, i) => `someone.with.a.long.address.${i}@example.com`);
      emails.push('george@usa.gov');
      const qs = `filterType=email&filterValues=${emails.map(encodeURIComponent).join(',')}&fields=email`;
      assert.ok(qs.length > 8192);
      const long = await call('GET', `/rest/v1/leads.json?${qs}`);
      assert.equal(long.status, 414);
      assert.equal(sim.requests.at(-1).status, 414);

      const post = await call('POST', '/rest/v1/leads.json?_method=GET', {
        body: qs,
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      });
      assert.equal(post.status, 200);
      assert.deepEqual(post.data.result, [{ id: 102, email: 'george@usa.gov' }]);
      const logged = sim.requests.at(-1);
      assert.equal(logged.method, 'POST');
      assert.equal(logged.effectiveMethod, 'GET');
      assert.equal(logged.rawQuery, '_method=GET');
      assert.equal(logged.body, qs);

      // exactly 8192 bytes of request target is still accepted
      const prefix = '/rest/v1/leads.json?filterType=email&filterValues=george@usa.gov&x=';
      const exact = prefix + 'a'.repeat(8192 - prefix.length);
      assert.equal((await call('GET', exact)).status, 200);
      assert.equal((await call('GET', exact + 'a')).status, 414);
    } finally {
      await sim.close();
    }
  });
});

// --- static lists ----------------------------------------------------------------------------

test('list add / remove statuses, query ids, unknown list', async () => {
  const { sim, call } = await setup();
  try {
    const add = await call('POST', '/rest/v1/lists/1/leads.json', { json: { input: [{ id: 101 }, { id: 999 }, { id: 102 }] } });
    assert.deepEqual(add.data.result, [
      { id: 101, status: 'added' },
      { id: 999, status: 'skipped', reasons: [{ code: '1004', message: 'Lead not found' }] },
      { id: 102, status: 'added' },
    ]);
    assert.deepEqual([...sim.state.lists.get(1).members].sort(), [101, 102]);
    const again = await call('POST', '/rest/v1/lists/1/leads.json?id=101');
    assert.deepEqual(again.data.result, [{ id: 101, status: 'added' }]);

    const remove = await call('DELETE', '/rest/v1/lists/1/leads.json', { json: { input: [{ id: 101 }, { id: 103 }, { id: 999 }] } });
    assert.deepEqual(remove.data.result, [
      { id: 101, status: 'removed' },
      { id: 103, status: 'skipped', reasons: [{ code: '1015', message: 'Lead not in list' }] },
      { id: 999, status: 'skipped', reasons: [{ code: '1004', message: 'Lead not found' }] },
    ]);
    const removeQuery = await call('DELETE', '/rest/v1/lists/1/leads.json?id=102&id=101');
    assert.deepEqual(removeQuery.data.result.map((r) => r.status), ['removed', 'skipped']);
    assert.equal(sim.state.lists.get(1).members.size, 0);

    const missing = await call('POST', '/rest/v1/lists/77/leads.json', { json: { input: [{ id: 101 }] } });
    assert.deepEqual(missing.data.errors, [{ code: '1013', message: 'Object not found' }]);
    const tooMany = await call('POST', '/rest/v1/lists/1/leads.json', { json: { input: Array.from({ length: 301 }, (_, i) => ({ id: i + 1 })) } });
    assert.equal(errorCode(tooMany.data), '1003');

    // string ids are accepted but noted
    await call('POST', '/rest/v1/lists/2/leads.json', { json: { input: [{ id: '101' }] } });
    assert.match(sim.requests.at(-1).notes[0], /string/);
  } finally {
    await sim.close();
  }
});

// --- request campaign ------------------------------------------------------------------------

test('request campaign: success, state.triggers, errors', async () => {
  const { sim, call } = await setup();
  try {
    const ok = await call('POST', '/rest/v1/campaigns/10/trigger.json', {
      json: { input: { leads: [{ id: 101 }], tokens: [{ name: '{{my.message}}', value: 'Hello' }] } },
    });
    assert.deepEqual(ok.data.result, [{ id: 10 }]);
    assert.equal(ok.data.success, true);
    assert.equal(sim.state.triggers.length, 1);
    assert.deepEqual(sim.state.triggers[0].leadIds, [101]);
    assert.deepEqual(sim.state.triggers[0].tokens, [{ name: '{{my.message}}', value: 'Hello' }]);

    const body = { input: { leads: [{ id: 101 }] } };
    assert.deepEqual((await call('POST', '/rest/v1/campaigns/11/trigger.json', { json: body })).data.errors, [{ code: '1003', message: 'Invalid data' }]);
    assert.equal(errorCode((await call('POST', '/rest/v1/campaigns/12/trigger.json', { json: body })).data), '1003');
    assert.equal(errorCode((await call('POST', '/rest/v1/campaigns/99/trigger.json', { json: body })).data), '1013');
    const badToken = await call('POST', '/rest/v1/campaigns/10/trigger.json', { json: { input: { leads: [{ id: 101 }], tokens: [{ name: 'message', value: 'x' }] } } });
    assert.equal(errorCode(badToken.data), '1003');
    const leads = Array.from({ length: 101 }, () => ({ id: 101 }));
    assert.equal(errorCode((await call('POST', '/rest/v1/campaigns/10/trigger.json', { json: { input: { leads } } })).data), '1003');
    const tokens = Array.from({ length: 101 }, (_, i) => ({ name: `{{my.t${i}}}`, value: 'v' }));
    assert.equal(errorCode((await call('POST', '/rest/v1/campaigns/10/trigger.json', { json: { input: { leads: [{ id: 101 }], tokens } } })).data), '1003');
    assert.equal(errorCode((await call('POST', '/rest/v1/campaigns/10/trigger.json', { json: { input: { leads: [{ id: 4242 }] } } })).data), '1004');
    assert.equal(sim.state.triggers.length, 1);
  } finally {
    await sim.close();
  }
});

// --- merge -----------------------------------------------------------------------------------

test('merge: fields, list memberships, losers removed, 1080, 1004', async () => {
  const { sim, call } = await setup();
  try {
    sim.state.lists.get(2).members.add(103);
    sim.state.leads.get(103).title = 'CTO';
    const r = await call('POST', '/rest/v1/leads/105/merge.json?leadIds=103,104&mergeInCRM=false');
    assert.deepEqual(Object.keys(r.data).sort(), ['requestId', 'success']);
    assert.equal(r.data.success, true);
    const winner = sim.state.leads.get(105);
    assert.equal(winner.email, 'empty@x.com'); // winner's non-empty value kept
    assert.equal(winner.firstName, 'Dup1'); // empty field taken from the first loser
    assert.equal(winner.title, 'CTO');
    assert.equal(sim.state.leads.has(103), false);
    assert.equal(sim.state.leads.has(104), false);
    assert.ok(sim.state.lists.get(2).members.has(105));
    assert.deepEqual(sim.state.merges[0].loserIds, [103, 104]);
    assert.equal(sim.state.merges[0].mergeInCRM, false);

    const single = await call('POST', '/rest/v1/leads/101/merge.json?leadId=102');
    assert.equal(single.data.success, true);

    const ids = Array.from({ length: 26 }, (_, i) => 200 + i).join(',');
    assert.equal(errorCode((await call('POST', `/rest/v1/leads/101/merge.json?leadIds=${ids}`)).data), '1080');
    assert.equal(errorCode((await call('POST', '/rest/v1/leads/101/merge.json?leadIds=103')).data), '1004'); // merged away
    assert.equal(errorCode((await call('POST', '/rest/v1/leads/999/merge.json?leadIds=101')).data), '1004');
  } finally {
    await sim.close();
  }
});

// --- listing ---------------------------------------------------------------------------------

test('listing: lists.json and campaigns.json paging, staticLists/smartCampaigns offset paging', async () => {
  const { sim, call } = await setup();
  try {
    const l1 = await call('GET', '/rest/v1/lists.json?batchSize=2');
    assert.deepEqual(l1.data.result.map((l) => l.id), [1, 2]);
    assert.equal(l1.data.moreResult, true);
    const l2 = await call('GET', `/rest/v1/lists.json?batchSize=2&nextPageToken=${encodeURIComponent(l1.data.nextPageToken)}`);
    assert.deepEqual(l2.data.result.map((l) => [l.id, l.name]), [[3, 'List Three']]);
    assert.equal(l2.data.nextPageToken, undefined);

    const a1 = await call('GET', '/rest/asset/v1/staticLists.json?offset=0&maxReturn=2');
    assert.deepEqual(a1.data.result.map((l) => l.id), [1, 2]);
    assert.match(a1.data.result[0].createdAt, /Z\+0000$/);
    const a2 = await call('GET', '/rest/asset/v1/staticLists.json?offset=2&maxReturn=2');
    assert.deepEqual(a2.data.result.map((l) => l.id), [3]);
    const a3 = await call('GET', '/rest/asset/v1/staticLists.json?offset=4&maxReturn=2');
    assert.equal(a3.data.success, true);
    assert.deepEqual(a3.data.warnings, ['No assets found for the given search criteria.']);
    assert.equal('result' in a3.data, false);
    assert.equal(errorCode((await call('GET', '/rest/asset/v1/staticLists.json?maxReturn=201')).data), '1003');

    const trig = await call('GET', '/rest/v1/campaigns.json?isTriggerable=true');
    assert.deepEqual(trig.data.result.map((c) => c.id), [10]);
    const all = await call('GET', '/rest/v1/campaigns.json?batchSize=2');
    assert.equal(all.data.moreResult, true);

    const sc = await call('GET', '/rest/asset/v1/smartCampaigns.json?maxReturn=200');
    assert.deepEqual(sc.data.result.map((c) => [c.id, c.isRequestable, c.isActive, c.type]), [
      [10, true, true, 'trigger'],
      [11, false, false, 'batch'],
      [12, false, false, 'trigger'],
    ]);
    const scEnd = await call('GET', '/rest/asset/v1/smartCampaigns.json?offset=3');
    assert.equal('result' in scEnd.data, false);
  } finally {
    await sim.close();
  }
});

// --- bulk import -----------------------------------------------------------------------------

describe('bulk import', () => {
  test('life cycle, rows applied at completion, failures and warnings files', async () => {
    const { sim, clock, call } = await setup();
    try {
      const long = 'x'.repeat(300);
      const csv =
        'email,firstName,lastName,leadScore,title\r\n' +
        'george@usa.gov,"Washington, George","Says ""hi""",10,\r\n' +
        'bulk1@x.com,Bulk,"Multi\nLine",5,Boss\r\n' +
        'bad-email,No,At,1,\r\n' +
        'score@x.com,Bad,Score,TEXT_VALUE_IN_INTEGER_FIELD,\r\n' +
        'jürgen@x.com,Non,Ascii,1,\r\n' +
        `long@x.com,Long,Title,2,${long}\r\n`;
      const created = await bulkImport(call, csv, '?format=csv&lookupField=email&listId=3');
      assert.equal(created.data.success, true);
      const { batchId, importId, status } = created.data.result[0];
      assert.equal(status, 'Queued');
      assert.equal(importId, String(batchId));
      const logged = sim.requests.at(-1);
      assert.equal(logged.body.parts[0].name, 'file');
      assert.equal(logged.body.parts[0].text, csv);

      const poll = async () => (await call('GET', `/bulk/v1/leads/batch/${batchId}.json`)).data.result[0];
      assert.equal((await poll()).status, 'Queued');
      clock.advance(2000);
      assert.equal((await poll()).status, 'Importing');
      assert.equal(sim.state.leads.get(102).firstName, 'George'); // not applied yet
      clock.advance(3000);
      const done = await poll();
      assert.deepEqual(done, {
        batchId,
        importId,
        status: 'Complete',
        numOfLeadsProcessed: 3,
        numOfRowsFailed: 3,
        numOfRowsWithWarning: 1,
        message: 'Import completed with errors, 3 records imported (3 members), 3 failed, 1 warning.',
      });
      assert.equal(sim.state.leads.get(102).firstName, 'Washington, George');
      assert.equal(sim.state.leads.get(102).lastName, 'Says "hi"');
      assert.equal(sim.state.leads.get(102).leadScore, 10);
      assert.equal(sim.state.leads.get(102).title, undefined); // empty cell left unchanged
      const bulk1 = [...sim.state.leads.values()].find((l) => l.email === 'bulk1@x.com');
      assert.equal(bulk1.lastName, 'Multi\nLine');
      assert.ok(sim.state.lists.get(3).members.has(102));
      assert.ok(sim.state.lists.get(3).members.has(bulk1.id));
      assert.equal(sim.state.lists.get(3).members.size, 3);

      const failures = await call('GET', `/bulk/v1/leads/batch/${batchId}/failures.json`);
      assert.equal(failures.status, 200);
      assert.match(failures.contentType, /^text\/csv/);
      assert.equal(
        failures.text,
        'email,firstName,lastName,leadScore,title,Import Failure Reason\n' +
          'bad-email,No,At,1,,Invalid email address\n' +
          'score@x.com,Bad,Score,TEXT_VALUE_IN_INTEGER_FIELD,,Invalid data type in field Lead Score\n' +
          'jürgen@x.com,Non,Ascii,1,,Invalid email address\n',
      );
      const warnings = await call('GET', `/bulk/v1/leads/batch/${batchId}/warnings.json`);
      assert.equal(
        warnings.text,
        'email,firstName,lastName,leadScore,title,Import Warning Reason\n' +
          `long@x.com,Long,Title,2,${long},Value truncated to 255 characters in field Job Title\n`,
      );
    } finally {
      await sim.close();
    }
  });

  test('format as a form field, FormData from fetch, success message', async () => {
    const { sim, clock, call, token } = await setup();
    try {
      const fd = new FormData();
      fd.append('format', 'csv');
      fd.append('file', new Blob(['email,firstName\nfd@x.com,Form\n'], { type: 'text/csv' }), 'leads.csv');
      const r = await fetch(`${sim.url}/bulk/v1/leads.json`, { method: 'POST', headers: { Authorization: `Bearer ${token}` }, body: fd });
      const data = await r.json();
      assert.equal(data.success, true, JSON.stringify(data));
      clock.advance(5000);
      const st = (await call('GET', `/bulk/v1/leads/batch/${data.result[0].batchId}.json`)).data.result[0];
      assert.equal(st.status, 'Complete');
      assert.equal(st.message, 'Import succeeded, 1 records imported (1 members)');
      assert.ok([...sim.state.leads.values()].some((l) => l.email === 'fd@x.com' && l.firstName === 'Form'));
    } finally {
      await sim.close();
    }
  });

  test('whole-job failures: missing lookup column, unknown column, empty file', async () => {
    const { sim, clock, call } = await setup();
    try {
      const a = (await bulkImport(call, 'firstName\nX\n')).data.result[0].batchId;
      const b = (await bulkImport(call, 'email,favouriteColour\nx@x.com,red\n')).data.result[0].batchId;
      const c = (await bulkImport(call, '')).data.result[0].batchId;
      clock.advance(60_000);
      const st = async (id) => (await call('GET', `/bulk/v1/leads/batch/${id}.json`)).data.result[0];
      assert.equal((await st(a)).status, 'Failed');
      assert.match((await st(a)).message, /email/);
      assert.deepEqual([(await st(b)).status, (await st(b)).message], ['Failed', "Field 'favouriteColour' not found"]);
      assert.equal((await st(c)).status, 'Failed');
      assert.equal(sim.state.leads.size, 5);
    } finally {
      await sim.close();
    }
  });

  test('queue: 2 importing at once, 1016 for the 11th job, 413 over 10 MB, bad multipart', async () => {
    const { sim, clock, call } = await setup();
    try {
      const ids = [];
      for (let i = 0; i < 10; i++) {
        const r = await bulkImport(call, `email\nq${i}@x.com\n`);
        assert.equal(r.data.success, true);
        ids.push(r.data.result[0].batchId);
      }
      const eleventh = await bulkImport(call, 'email\nq10@x.com\n');
      assert.deepEqual(eleventh.data.errors, [{ code: '1016', message: 'Too many imports' }]);

      clock.advance(2000);
      sim.advance();
      const statuses = () => ids.map((id) => sim.state.bulkJobs.get(id).status);
      assert.deepEqual(statuses().filter((s) => s === 'Importing').length, 2);
      clock.advance(3000);
      sim.advance();
      assert.deepEqual(statuses().slice(0, 4), ['Complete', 'Complete', 'Importing', 'Importing']);
      // two slots freed: new jobs are accepted again
      assert.equal((await bulkImport(call, 'email\nq10@x.com\n')).data.success, true);
      clock.advance(60_000);
      sim.advance();
      assert.ok(statuses().every((s) => s === 'Complete'));

      const big = 'email\n' + 'x'.repeat(10 * 1024 * 1024) + '\n';
      const tooBig = await bulkImport(call, big);
      assert.equal(tooBig.status, 413);

      const bare = await call('POST', '/bulk/v1/leads.json?format=csv', {
        body: '--b\nContent-Disposition: form-data; name="file"\n\nemail\n--b--\n',
        headers: { 'Content-Type': 'multipart/form-data; boundary=b' },
      });
      assert.equal(errorCode(bare.data), '613');
      const notMultipart = await call('POST', '/bulk/v1/leads.json?format=csv', { json: { a: 1 } });
      assert.equal(errorCode(notMultipart.data), '612');
      assert.equal(errorCode((await bulkImport(call, 'email\nx@x.com\n', '')).data), '701'); // no format
      assert.equal(errorCode((await bulkImport(call, 'email\nx@x.com\n', '?format=xml')).data), '1003');
      assert.equal(errorCode((await bulkImport(call, 'email\nx@x.com\n', '?format=csv&listId=404')).data), '1013');
    } finally {
      await sim.close();
    }
  });

  test('1019 while another job is importing into the same list; tsv format', async () => {
    const { sim, clock, call } = await setup();
    try {
      const first = await bulkImport(call, 'email\tfirstName\nt1@x.com\tTab\n', '?format=tsv&listId=1');
      assert.equal(first.data.success, true);
      clock.advance(2000); // first job is Importing now
      const second = await bulkImport(call, 'email\nt2@x.com\n', '?format=csv&listId=1');
      assert.deepEqual(second.data.errors, [{ code: '1019', message: 'Import in progress' }]);
      assert.equal((await bulkImport(call, 'email\nt2@x.com\n', '?format=csv&listId=2')).data.success, true);
      clock.advance(3000);
      sim.advance();
      const lead = [...sim.state.leads.values()].find((l) => l.email === 't1@x.com');
      assert.equal(lead.firstName, 'Tab');
      assert.ok(sim.state.lists.get(1).members.has(lead.id));
    } finally {
      await sim.close();
    }
  });
});

// --- limits ----------------------------------------------------------------------------------

describe('limits', () => {
  test('606 after 100 calls in 20 s, sliding window; identity exempt', async () => {
    const { sim, clock, call } = await setup();
    try {
      for (let i = 0; i < 100; i++) {
        const r = await call('GET', '/rest/v1/lists.json');
        assert.equal(r.data.success, true);
        clock.advance(100); // 100 calls over 10 s
      }
      const limited = await call('GET', '/rest/v1/lists.json');
      assert.deepEqual(limited.data.errors, [{ code: '606', message: "Max rate limit '100' exceeded with in '20' secs" }]);
      await getToken(sim); // identity is not limited
      clock.advance(10_000); // the first call (t=0) leaves the window at t=20000
      assert.equal((await call('GET', '/rest/v1/lists.json')).data.success, true);
      assert.equal(errorCode((await call('GET', '/rest/v1/lists.json')).data), '606');
      assert.equal(sim.errorCount('606'), 2);
      assert.equal(sim.state.counters.peakRate, 100);
    } finally {
      await sim.close();
    }
  });

  test('615 beyond 10 concurrent calls', async () => {
    const { sim, call } = await setup({ latencyMs: 300 });
    try {
      const results = await Promise.all(Array.from({ length: 11 }, () => call('GET', '/rest/v1/lists.json')));
      const refused = results.filter((r) => r.data.success === false);
      assert.equal(refused.length, 1);
      assert.deepEqual(refused[0].data.errors, [{ code: '615', message: "Concurrent access limit '10' reached" }]);
      assert.equal(sim.state.counters.peakConcurrency, 10);
      assert.equal(sim.errorCount('615'), 1);
    } finally {
      await sim.close();
    }
  });

  test('607 daily quota, reset at midnight America/Chicago; 601/602 not counted', async () => {
    const { sim, clock, call } = await setup({ limits: { dailyQuota: 3 } });
    try {
      await request(sim, 'bogus', 'GET', '/rest/v1/lists.json'); // 601: never admitted
      for (let i = 0; i < 3; i++) assert.equal((await call('GET', '/rest/v1/lists.json')).data.success, true);
      assert.deepEqual((await call('GET', '/rest/v1/lists.json')).data.errors, [{ code: '607', message: 'Daily quota reached' }]);
      // 2026-11-28 15:00Z is 09:00 in Chicago; 15 h later is the next Chicago day
      clock.advance(15 * 3600_000);
      const fresh = await getToken(sim); // the first token expired meanwhile
      assert.equal((await request(sim, fresh, 'GET', '/rest/v1/lists.json')).data.success, true);
      assert.equal(sim.state.counters.callsToday, 1);
    } finally {
      await sim.close();
    }
  });
});

// --- fault injection -------------------------------------------------------------------------

describe('fault injection', () => {
  test('code, http, html, times', async () => {
    const { sim, call } = await setup();
    try {
      sim.inject({ path: '/rest/v1/lists.json', times: 2, kind: { code: '604' } });
      assert.deepEqual((await call('GET', '/rest/v1/lists.json')).data.errors, [{ code: '604', message: 'Request time-out' }]);
      assert.equal(errorCode((await call('GET', '/rest/v1/lists.json')).data), '604');
      assert.equal((await call('GET', '/rest/v1/lists.json')).data.success, true);
      assert.equal(sim.state.counters.callsToday, 1); // 604 is not counted

      sim.inject({ path: /lists\.json$/, method: 'GET', kind: { http: 500 } });
      assert.equal((await call('GET', '/rest/v1/lists.json')).status, 500);
      sim.inject({ path: /lists\.json$/, kind: { html: true } });
      const html = await call('GET', '/rest/v1/lists.json');
      assert.equal(html.status, 502);
      assert.match(html.contentType, /text\/html/);
      assert.match(html.text, /<html>/);
      sim.inject({ path: /lists\.json$/, kind: { http: 502 } });
      assert.equal((await call('GET', '/rest/v1/lists.json')).status, 502);
      // method filter: a POST fault does not hit a GET
      sim.inject({ path: /lists\.json$/, method: 'POST', kind: { code: '611' } });
      assert.equal((await call('GET', '/rest/v1/lists.json')).data.success, true);
      // identity can fail too
      sim.inject({ path: '/identity/oauth/token', kind: { http: 503 } });
      const id = await fetch(`${sim.identityUrl}/oauth/token?grant_type=client_credentials&client_id=${sim.clientId}&client_secret=${sim.clientSecret}`);
      assert.equal(id.status, 503);
    } finally {
      await sim.close();
    }
  });

  test('drop, slowMs, afterApply', async () => {
    const { sim, call } = await setup();
    try {
      sim.inject({ path: '/trigger.json', kind: { drop: true } });
      await assert.rejects(call('POST', '/rest/v1/campaigns/10/trigger.json', { json: { input: { leads: [{ id: 101 }] } } }));
      assert.equal(sim.state.triggers.length, 0);
      assert.equal(sim.requests.at(-1).dropped, true);

      sim.inject({ path: '/trigger.json', kind: { afterApply: { code: '611' } } });
      const r = await call('POST', '/rest/v1/campaigns/10/trigger.json', { json: { input: { leads: [{ id: 101 }] } } });
      assert.deepEqual(r.data.errors, [{ code: '611', message: 'System error' }]);
      assert.equal(sim.state.triggers.length, 1); // the change happened anyway

      sim.inject({ path: '/trigger.json', kind: { afterApply: { drop: true } } });
      await assert.rejects(call('POST', '/rest/v1/campaigns/10/trigger.json', { json: { input: { leads: [{ id: 101 }] } } }));
      assert.equal(sim.state.triggers.length, 2);

      sim.inject({ path: '/rest/v1/lists.json', kind: { slowMs: 200 } });
      const t0 = Date.now();
      assert.equal((await call('GET', '/rest/v1/lists.json')).data.success, true);
      assert.ok(Date.now() - t0 >= 190);
      assert.equal(sim.state.counters.inFlight, 0);
    } finally {
      await sim.close();
    }
  });
});

test('request log records every request with exact bodies', async () => {
  const { sim, call } = await setup();
  try {
    sim.reset();
    const body = '{"input":[{"email":"log@x.com","leadScore":0,"firstName":"Łukasz"}]}';
    await call('POST', '/rest/v1/leads.json?partitionName=x', { body, headers: { 'Content-Type': 'application/json' } });
    assert.equal(sim.requests.length, 1);
    const e = sim.requests[0];
    assert.equal(e.method, 'POST');
    assert.equal(e.path, '/rest/v1/leads.json');
    assert.equal(e.rawQuery, 'partitionName=x');
    assert.deepEqual(e.query, { partitionName: 'x' });
    assert.equal(e.headers['content-type'], 'application/json');
    assert.equal(e.body, body);
    assert.deepEqual(e.json, JSON.parse(body));
    assert.equal(e.status, 200);
    assert.equal(e.response.success, true);
    assert.equal(typeof e.at, 'number');
  } finally {
    await sim.close();
  }
});
