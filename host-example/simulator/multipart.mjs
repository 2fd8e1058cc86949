// multipart/form-data parsing (RFC 7578 / RFC 2046), binary-safe: works on a Buffer and never
// decodes part bodies. Strict about CRLF line breaks, as servers are: a body built with bare LF
// is rejected (the simulator answers 613 "Invalid Multipart Request").

export class MultipartError extends Error {}

/** Boundary from a Content-Type header value, or null. */
export function boundaryOf(contentType) {
  if (!contentType || !/^multipart\/form-data\s*(;|$)/i.test(contentType)) return null;
  const m = /;\s*boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType);
  return m ? (m[1] ?? m[2]) : null;
}

const CRLF = Buffer.from('\r\n');

/**
 * Parse a multipart body into parts: `{ headers: {lower-name: value}, name, filename,
 * contentType, data: Buffer }`. Preamble and epilogue are ignored.
 */
export function parseMultipart(body, boundary) {
  const delim = Buffer.from('--' + boundary);
  const parts = [];
  let pos = body.indexOf(delim);
  if (pos < 0) throw new MultipartError('boundary not found in body');
  // The first delimiter must start the body or follow a CRLF (end of the preamble).
  if (pos > 0 && !(body[pos - 2] === 0x0d && body[pos - 1] === 0x0a)) {
    throw new MultipartError('first boundary not at a line start');
  }
  const nextDelim = Buffer.concat([CRLF, delim]);
  for (;;) {
    pos += delim.length;
    if (body[pos] === 0x2d && body[pos + 1] === 0x2d) return parts; // closing "--boundary--"
    while (body[pos] === 0x20 || body[pos] === 0x09) pos++; // transport padding
    if (!(body[pos] === 0x0d && body[pos + 1] === 0x0a)) {
      throw new MultipartError('boundary line not terminated by CRLF');
    }
    pos += 2;
    let headerText;
    let dataStart;
    if (body[pos] === 0x0d && body[pos + 1] === 0x0a) {
      headerText = ''; // no headers at all
      dataStart = pos + 2;
    } else {
      const headerEnd = body.indexOf('\r\n\r\n', pos);
      if (headerEnd < 0) throw new MultipartError('part headers not terminated');
      headerText = body.subarray(pos, headerEnd).toString('utf8');
      dataStart = headerEnd + 4;
    }
    const end = body.indexOf(nextDelim, dataStart);
    if (end < 0) throw new MultipartError('part not terminated by a boundary');
    const headers = {};
    for (const line of headerText.split('\r\n')) {
      if (!line) continue;
      const colon = line.indexOf(':');
      if (colon < 0) throw new MultipartError(`malformed part header "${line}"`);
      headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    const disp = parseDisposition(headers['content-disposition'] ?? '');
    parts.push({
      headers,
      name: disp.name,
      filename: disp.filename,
      contentType: headers['content-type'],
      data: body.subarray(dataStart, end),
    });
    pos = end + 2; // at the next delimiter
  }
}

/** `form-data; name="file"; filename="leads.csv"` → {type, name, filename}. */
export function parseDisposition(value) {
  const semi = value.indexOf(';');
  const out = { type: (semi < 0 ? value : value.slice(0, semi)).trim().toLowerCase() };
  const re = /;\s*([^=;\s]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;]*))/g;
  let m;
  while ((m = re.exec(value))) {
    const key = m[1].toLowerCase();
    let v = m[2] !== undefined ? m[2].replace(/\\(.)/g, '$1') : m[3].trim();
    if (key === 'filename*') {
      // RFC 5987: UTF-8''percent-encoded
      const ext = /^([^']*)'[^']*'(.*)$/.exec(v);
      if (ext) {
        try {
          v = decodeURIComponent(ext[2]);
        } catch {
          /* keep raw */
        }
      }
      out.filename = v;
    } else if (!(key === 'filename' && out.filename !== undefined)) {
      out[key] = v;
    }
  }
  return out;
}

/** Log-friendly summary of a parsed multipart body (text of each part decoded as UTF-8). */
export function summarizeMultipart(boundary, parts) {
  return {
    multipart: true,
    boundary,
    parts: parts.map((p) => ({
      name: p.name,
      filename: p.filename,
      contentType: p.contentType,
      headers: p.headers,
      size: p.data.length,
      text: p.data.toString('utf8'),
    })),
  };
}
