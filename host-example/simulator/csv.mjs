// RFC 4180 CSV (and TSV / semicolon-SSV, the other formats Bulk Import accepts) parsing and
// writing. Binary-safe input is decoded as UTF-8 by the caller; a leading BOM is ignored.

export const DELIMITERS = { csv: ',', tsv: '\t', ssv: ';' };

export class CsvError extends Error {}

/**
 * Parse delimited text into rows of string cells.
 * - Quoted fields may contain the delimiter, CR/LF and doubled quotes ("" → ").
 * - Records end with CRLF, LF or a lone CR.
 * - A trailing line break does not produce an extra empty record.
 * - A quote inside an unquoted field is kept literally (lenient, like most real parsers);
 *   an unterminated quoted field is an error.
 * Each row also carries `line`, the 1-based physical line where the record starts.
 */
export function parseDelimited(text, delimiter = ',') {
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const rows = [];
  let row = [];
  let field = '';
  let quoted = false; // currently inside quotes
  let fieldHasQuotes = false; // field began with a quote
  let line = 1;
  let rowLine = 1;
  let i = 0;
  const n = text.length;
  const endField = () => {
    row.push(field);
    field = '';
    fieldHasQuotes = false;
  };
  const endRow = () => {
    endField();
    row.line = rowLine;
    rows.push(row);
    row = [];
  };
  while (i < n) {
    const c = text[i];
    if (quoted) {
      if (c === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i += 2;
        } else {
          quoted = false;
          i += 1;
        }
      } else {
        if (c === '\n') line++;
        field += c;
        i += 1;
      }
      continue;
    }
    if (c === '"' && field === '' && !fieldHasQuotes) {
      quoted = true;
      fieldHasQuotes = true;
      i += 1;
    } else if (c === delimiter) {
      endField();
      i += 1;
    } else if (c === '\r' || c === '\n') {
      endRow();
      i += c === '\r' && text[i + 1] === '\n' ? 2 : 1;
      line++;
      rowLine = line;
    } else {
      field += c;
      i += 1;
    }
  }
  if (quoted) throw new CsvError(`Unterminated quoted field starting on line ${rowLine}`);
  if (field !== '' || row.length > 0 || fieldHasQuotes) endRow();
  return rows;
}

/** Quote a cell if it contains the delimiter, a quote, CR or LF (RFC 4180 minimal quoting). */
export function formatCell(value, delimiter = ',') {
  const s = value === null || value === undefined ? '' : String(value);
  if (s.includes(delimiter) || s.includes('"') || s.includes('\n') || s.includes('\r')) {
    return '"' + s.replace(/"/g, '""') + '"';
  }
  return s;
}

export function formatRow(cells, delimiter = ',') {
  return cells.map((c) => formatCell(c, delimiter)).join(delimiter);
}
