// Marketo error vocabulary and the exception types the handlers throw.
//
// Marketo reports almost every error as HTTP 200 with
//   {"requestId":"e42b#14272d07d78","success":false,"errors":[{"code":"601","message":"..."}]}
// (https://experienceleague.adobe.com/en/docs/marketo-developer/marketo/rest/error-codes). `code` is a STRING in Adobe's Swagger (`Error.code`), so we always
// emit strings. Messages follow Adobe's error-code table; where Adobe gives a printf-style
// template ("Field '%s' not found") the handler fills it in.

/** Default messages by code (https://experienceleague.adobe.com/en/docs/marketo-developer/marketo/rest/error-codes). */
export const MESSAGES = {
  600: 'Access token not specified',
  601: 'Access token invalid',
  602: 'Access token expired',
  603: 'Access denied',
  604: 'Request time-out',
  605: 'HTTP Method not supported',
  606: "Max rate limit '%s' exceeded with in '%s' secs",
  607: 'Daily quota reached',
  608: 'API Temporarily Unavailable',
  609: 'Invalid JSON',
  610: 'Requested resource not found',
  611: 'System error',
  612: 'Invalid Content Type',
  613: 'Invalid Multipart Request',
  614: 'Invalid Subscription',
  615: "Concurrent access limit '%s' reached",
  701: '%s cannot be blank',
  702: 'No data found for a given search scenario',
  709: 'Business Rule Violation',
  713: 'Transient Error',
  1001: "Invalid value '%s'. Required of type '%s'",
  1002: "Missing value for the required parameter '%s'",
  1003: 'Invalid data',
  1004: 'Lead not found',
  1005: 'Lead already exists',
  1006: "Field '%s' not found",
  1007: 'Multiple leads match the lookup criteria',
  1008: "Access denied to partition '%s'",
  1011: "Field '%s' not supported",
  1012: "Invalid cookie value '%s'",
  1013: 'Object not found',
  1015: 'Lead not in list',
  1016: 'Too many imports',
  1019: 'Import in progress',
  1080: 'Too many ids in leadIds, the maximum is 25', // message UNCONFIRMED (code from [LEADS])
};

/**
 * Codes that Adobe's table marks with an asterisk: "An API call that returns this response code
 * is not counted against your daily quota, or your rate limit" (https://experienceleague.adobe.com/en/docs/marketo-developer/marketo/rest/marketo-integration-best-practices).
 * The simulator un-counts such calls from the rate window and the daily counter.
 */
export const UNCOUNTED_CODES = new Set(['601', '602', '604', '605', '608', '611']);

/** Fill a '%s' template left to right. */
export function fmt(template, ...args) {
  let i = 0;
  return template.replace(/%s/g, () => (i < args.length ? String(args[i++]) : '%s'));
}

/** Message for a code, with template arguments. */
export function messageFor(code, ...args) {
  const t = MESSAGES[code];
  if (t === undefined) return 'Error';
  return args.length ? fmt(t, ...args) : t;
}

/** Response-level Marketo error: becomes HTTP 200 + success:false. */
export class ApiError extends Error {
  constructor(code, message) {
    super(message ?? messageFor(code));
    this.code = String(code);
  }
}

/** Record-level reason object (`reasons[]` of a skipped record). */
export function reason(code, ...args) {
  return { code: String(code), message: messageFor(code, ...args) };
}

/** nginx-style HTML page, what the gateway in front of Marketo sends for 413/414/502. */
export function nginxPage(status, text) {
  return (
    `<html>\r\n<head><title>${status} ${text}</title></head>\r\n<body>\r\n` +
    `<center><h1>${status} ${text}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n`
  );
}

export const HTTP_TEXT = {
  400: 'Bad Request',
  401: 'Unauthorized',
  404: 'Not Found',
  413: 'Request Entity Too Large',
  414: 'Request-URI Too Large',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Temporarily Unavailable',
  504: 'Gateway Time-out',
};
