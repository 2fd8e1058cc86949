// Bulk Lead Import: create job (multipart CSV/TSV/SSV), poll status, failures/warnings files.
// See https://experienceleague.adobe.com/en/docs/marketo-developer/marketo/rest/bulk-import/bulk-lead-import
//
// Job life cycle, driven by the simulator clock (options.clock), computed lazily whenever the
// simulator is touched (every HTTP request, or sim.advance()):
//   Queued  (at least bulk.queuedMs, then waits FIFO for one of bulk.maxImporting slots)
//   → Importing (bulk.importingMs)
//   → Complete | Failed   (rows are applied to state.leads at this moment)
// At most bulk.maxQueued jobs may be Queued+Importing at once; one more → 1016.

import { ApiError, messageFor } from './errors.mjs';
import { qstr } from './http-util.mjs';
import { blank } from './common.mjs';
import { boundaryOf, parseMultipart, MultipartError } from './multipart.mjs';
import { parseDelimited, formatRow, DELIMITERS, CsvError } from './csv.mjs';
import { isLookupField, checkCsvValue, findLeads, createLead, updateLead } from './store.mjs';

export const BULK_DEFAULTS = {
  queuedMs: 2000,
  importingMs: 3000,
  maxImporting: 2,
  maxQueued: 10, // including the importing ones
  // Empty CSV cell: UNCONFIRMED in Adobe's docs. Default 'ignore' = leave the field unchanged
  // (Segment writes missing keys as empty cells, so clearing would be destructive); 'clear'
  // writes null.
  emptyCell: 'ignore',
  // Unknown header column: UNCONFIRMED (§11 #13). Default 'fail' = the whole job ends Failed
  // with "Field 'x' not found" (mirrors 1006, which a SnapLogic known-issue page reports);
  // 'ignore' drops the column and adds a warning to every imported row.
  unknownColumn: 'fail',
  // 1019 "Import in progress": refuse a new job for a list that a job is Importing into.
  listLock: true,
};

// POST /bulk/v1/leads.json?format=csv&lookupField=…&listId=…&partitionName=…
export function createImport(ctx) {
  const { sim, state } = ctx;
  const cfg = sim.bulk;
  const boundary = boundaryOf(ctx.headers['content-type']);
  if (!boundary) throw new ApiError(612);
  let parts = ctx.multipart;
  if (!parts) {
    try {
      parts = parseMultipart(ctx.rawBody, boundary);
    } catch (e) {
      if (e instanceof MultipartError) throw new ApiError(613, `${messageFor(613)}: ${e.message}`);
      throw e;
    }
  }
  // Parameters: Swagger puts them in the query; Adobe's cURL example sends `format` as a form
  // field. Query wins when both are present.
  const form = {};
  for (const p of parts) {
    if (p.name && p.name !== 'file' && p.filename === undefined) form[p.name] = p.data.toString('utf8');
  }
  if (form.access_token !== undefined) {
    state.counters.deprecatedAccessTokenParam++;
    ctx.note('deprecated access_token multipart field present (ignored)');
  }
  const param = (name) => qstr(ctx.query, name) ?? form[name];

  const format = param('format');
  if (format === undefined || format === '') throw blank('format');
  if (!DELIMITERS[format]) throw new ApiError(1003, `Invalid data: format '${format}' (csv, tsv or ssv)`);
  const file = parts.find((p) => p.name === 'file');
  if (!file) throw blank('file');
  const lookupField = param('lookupField') || 'email';
  if (!isLookupField(state.fields, lookupField)) throw new ApiError(1011, messageFor(1011, lookupField));
  let listId = null;
  const rawList = param('listId');
  if (rawList !== undefined && rawList !== '') {
    if (!/^\d+$/.test(rawList) || !state.lists.has(Number(rawList))) throw new ApiError(1013);
    listId = Number(rawList);
  }
  let partitionId = 1;
  const partitionName = param('partitionName');
  if (partitionName !== undefined && partitionName !== '') {
    if (!state.partitions.has(partitionName)) throw new ApiError(1008, messageFor(1008, partitionName));
    partitionId = state.partitions.get(partitionName);
  }

  advanceBulk(sim, ctx.now);
  const active = [...state.bulkJobs.values()].filter((j) => j.status === 'Queued' || j.status === 'Importing');
  if (active.length >= cfg.maxQueued) throw new ApiError(1016);
  if (cfg.listLock && listId !== null && active.some((j) => j.listId === listId && j.status === 'Importing')) {
    throw new ApiError(1019);
  }

  const batchId = state.nextBatchId++;
  const job = {
    batchId,
    importId: String(batchId),
    status: 'Queued',
    format,
    lookupField,
    listId,
    partitionName: partitionName || undefined,
    partitionId,
    fileName: file.filename,
    file: Buffer.from(file.data), // copy: the request buffer may be reused
    submittedAt: ctx.now,
    readyAt: ctx.now + cfg.queuedMs,
    startedAt: null,
    endAt: null,
    finishedAt: null,
    numOfLeadsProcessed: 0,
    numOfRowsFailed: 0,
    numOfRowsWithWarning: 0,
    message: undefined,
    header: null,
    failures: [],
    warnings: [],
    requestId: ctx.requestId,
  };
  state.bulkJobs.set(batchId, job);
  return { result: [{ batchId, importId: job.importId, status: 'Queued' }], success: true };
}

/** Move every job forward to simulated time `now` (FIFO, maxImporting slots). */
export function advanceBulk(sim, now) {
  const state = sim.state;
  const cfg = sim.bulk;
  let t = state.bulkCursor ?? now;
  for (;;) {
    const jobs = [...state.bulkJobs.values()];
    const running = jobs.filter((j) => j.status === 'Importing');
    const queued = jobs.filter((j) => j.status === 'Queued').sort((a, b) => a.batchId - b.batchId);
    let nextDone = Infinity;
    let doneJob = null;
    for (const j of running) {
      if (j.endAt < nextDone) {
        nextDone = j.endAt;
        doneJob = j;
      }
    }
    const nextStart = running.length < cfg.maxImporting && queued.length ? Math.max(queued[0].readyAt, t) : Infinity;
    const ev = Math.min(nextDone, nextStart);
    if (ev === Infinity || ev > now) break;
    if (nextDone <= nextStart) {
      t = nextDone;
      finishJob(sim, doneJob, t);
    } else {
      t = nextStart;
      const j = queued[0];
      j.status = 'Importing';
      j.startedAt = t;
      j.endAt = t + cfg.importingMs;
    }
  }
  state.bulkCursor = Math.max(t, now);
}

function jobFailed(job, message, at) {
  job.status = 'Failed';
  job.message = message;
  job.finishedAt = at;
}

/** Parse the file and apply its rows: the moment a job completes. */
function finishJob(sim, job, at) {
  const state = sim.state;
  const cfg = sim.bulk;
  const delimiter = DELIMITERS[job.format];
  // Whole-job failures (messages are simulator wording, UNCONFIRMED).
  let rows;
  try {
    rows = parseDelimited(job.file.toString('utf8'), delimiter);
  } catch (e) {
    if (e instanceof CsvError) return jobFailed(job, `Invalid file format: ${e.message}`, at);
    throw e;
  }
  rows = rows.filter((r) => !(r.length === 1 && r[0] === '')); // blank lines
  if (rows.length === 0) return jobFailed(job, 'Import file is empty: no header row', at);
  const header = rows[0].map((h) => h.trim());
  job.header = rows[0];
  const seen = new Set();
  const ignored = new Set();
  for (const name of header) {
    if (name === '') return jobFailed(job, 'Empty column name in header', at);
    if (seen.has(name)) return jobFailed(job, `Duplicate column '${name}' in header`, at);
    seen.add(name);
    if (!state.fields.has(name)) {
      if (cfg.unknownColumn === 'ignore') ignored.add(name);
      else return jobFailed(job, messageFor(1006, name), at);
    }
  }
  if (!header.includes(job.lookupField)) {
    return jobFailed(job, `Lookup field '${job.lookupField}' is missing from the header`, at);
  }

  let imported = 0;
  for (const row of rows.slice(1)) {
    const fail = (why) => job.failures.push({ cells: row, reason: why });
    if (row.length !== header.length) {
      fail(`Row has ${row.length} values but the header has ${header.length} columns`);
      continue;
    }
    const values = {};
    const warns = [];
    let failure = null;
    for (let i = 0; i < header.length && !failure; i++) {
      const name = header[i];
      const text = row[i];
      if (ignored.has(name)) {
        if (text !== '') warns.push(`Column '${name}' ignored: field not found`);
        continue;
      }
      const field = state.fields.get(name);
      if (text === '') {
        if (cfg.emptyCell === 'clear' && field.updateable) values[name] = null;
        continue;
      }
      if (!field.updateable && name !== job.lookupField) continue; // id etc. only as lookup
      const checked = checkCsvValue(field, text);
      if (checked.fail) failure = checked.fail;
      else {
        values[name] = checked.value;
        if (checked.warn) warns.push(checked.warn);
      }
    }
    if (failure) {
      fail(failure);
      continue;
    }
    const key = values[job.lookupField];
    if (key === undefined || key === null) {
      fail(`Missing value for lookup field '${job.lookupField}'`);
      continue;
    }
    let matches = findLeads(state, job.lookupField, key);
    if (job.partitionName) matches = matches.filter((l) => l.leadPartitionId === job.partitionId);
    let lead;
    if (job.lookupField === 'id') {
      // lookupField=id means update only [SPEC-MAPI].
      if (matches.length === 0) {
        fail('Lead not found');
        continue;
      }
      delete values.id;
    }
    if (matches.length === 0) lead = createLead(sim, values, job.partitionId);
    else {
      // Several leads share the key: the simulator updates the most recently updated one
      // (UNCONFIRMED; Marketo's list-import dedupe rule as commonly described).
      lead = [...matches].sort((a, b) => (a.updatedAt < b.updatedAt ? 1 : a.updatedAt > b.updatedAt ? -1 : b.id - a.id))[0];
      updateLead(sim, lead, values);
    }
    if (job.listId !== null) state.lists.get(job.listId)?.members.add(lead.id);
    imported++;
    if (warns.length) job.warnings.push({ cells: row, reason: warns.join('; ') });
  }

  job.status = 'Complete';
  job.finishedAt = at;
  job.numOfLeadsProcessed = imported;
  job.numOfRowsFailed = job.failures.length;
  job.numOfRowsWithWarning = job.warnings.length;
  // Message texts from Adobe's samples [BI][BLI][BPMI]; combined forms are extrapolated.
  const w = job.warnings.length;
  const warnText = w ? `, ${w} warning${w === 1 ? '' : 's'}.` : '';
  job.message = job.failures.length
    ? `Import completed with errors, ${imported} records imported (${imported} members), ${job.failures.length} failed${warnText}`
    : `Import succeeded, ${imported} records imported (${imported} members)${warnText}`;
}

function jobOr1013(ctx) {
  advanceBulk(ctx.sim, ctx.now);
  const job = ctx.state.bulkJobs.get(Number(ctx.params.batchId));
  // UNCONFIRMED: error for an unknown batchId; 1013 "Object not found" is the simulator's choice.
  if (!job) throw new ApiError(1013);
  return job;
}

/** Status messages before the job finishes (UNCONFIRMED wording). */
const RUNNING_MESSAGE = { Queued: 'Queued', Importing: 'Importing' };

// GET /bulk/v1/leads/batch/{batchId}.json
export function importStatus(ctx) {
  const job = jobOr1013(ctx);
  return {
    result: [
      {
        batchId: job.batchId,
        importId: job.importId,
        status: job.status,
        numOfLeadsProcessed: job.numOfLeadsProcessed,
        numOfRowsFailed: job.numOfRowsFailed,
        numOfRowsWithWarning: job.numOfRowsWithWarning,
        message: job.message ?? RUNNING_MESSAGE[job.status],
      },
    ],
    success: true,
  };
}

/**
 * The failures / warnings file: the job's original header plus a reason column, then each
 * affected row's original values plus its reason, in the job's format (CSV quoting re-applied).
 * Before the job has finished, or for a job that failed as a whole, only the header (if any).
 */
function reportFile(ctx, kind) {
  const job = jobOr1013(ctx);
  const d = DELIMITERS[job.format];
  const column = kind === 'failures' ? 'Import Failure Reason' : 'Import Warning Reason';
  const lines = [];
  if (job.header) {
    lines.push(formatRow([...job.header, column], d));
    for (const r of job[kind]) lines.push(formatRow([...r.cells, r.reason], d));
  }
  return { raw: lines.map((l) => l + '\n').join(''), contentType: 'text/csv;charset=UTF-8' };
}

// GET /bulk/v1/leads/batch/{batchId}/failures.json
export function importFailures(ctx) {
  return reportFile(ctx, 'failures');
}

// GET /bulk/v1/leads/batch/{batchId}/warnings.json
export function importWarnings(ctx) {
  return reportFile(ctx, 'warnings');
}
