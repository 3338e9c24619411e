// The UAPI client: where the API is, one call, and cPanel's envelope. No DOM beyond reading an
// element's attribute, no wasm: the element decides what to show.
//
// The same calls work in a real cPanel theme and against the tfa server, with the session
// cookie (credentials: 'same-origin'); there is no token handling here on purpose.

/** cPanel's own module: every call the page needs on a real cPanel is in it. */
export const MODULE = 'TwoFactorAuth';
/**
 * tfa's own module, beyond cPanel (recovery codes): a name of our own so that a future cPanel
 * function cannot collide with it. A real cPanel has no such module, so callers treat any
 * failure of it as "not available here".
 */
export const RECOVERY_MODULE = 'TfaRecoveryCodes';
// cPanel puts the session in the path: /cpsessNNNNNNNNNN/... (ten digits).
const CPSESS = /^(.*?\/cpsess\d{10}\/)/;

/**
 * A refusal: the server's own errors, shown as they are (cPanel's English, as its API says
 * them), or why the server could not answer, as a catalog key and its parameters (`key`,
 * `params`: the element words it in the page's language; i18n.js).
 */
export class ApiError extends Error {
  constructor(message, warnings = [], key = null, params = {}) {
    super(message);
    this.name = 'ApiError';
    this.warnings = warnings;
    this.key = key;
    this.params = params;
  }
}

/** The UAPI base (the URL prefix before `execute/`), from an attribute or the page's location. */
export function apiBaseFor(element, location = window.location) {
  const explicit = element.getAttribute('api-base') ?? element.dataset.apiBase;
  if (explicit) return explicit.endsWith('/') ? explicit : `${explicit}/`;
  const m = CPSESS.exec(location.pathname);
  return m ? m[1] : '/';
}

/**
 * How many seconds the browser's clock is ahead of the server's (negative: behind), from an
 * HTTP `Date` header, or null without a usable one. The header has whole seconds, so rounding.
 */
export function clockSkewSecs(dateHeader, now = Date.now()) {
  const server = Date.parse(dateHeader ?? '');
  return Number.isNaN(server) ? null : Math.round((now - server) / 1000);
}

/**
 * Calls UAPI `<module>::<func>` (`TwoFactorAuth` unless told) under `base` and returns its
 * `data`, or throws an ApiError with the server's errors verbatim. Parameters make it a POST
 * (it changes state); without them it is a GET. `onDate` receives every answer's `Date`
 * header, even a failed one's.
 */
export async function callUapi(base, func, params = null, onDate = () => {}, module = MODULE) {
  const url = `${base}execute/${module}/${func}`;
  const init = params
    ? { method: 'POST', body: new URLSearchParams(params), credentials: 'same-origin' }
    : { method: 'GET', credentials: 'same-origin' };
  let res;
  try {
    res = await fetch(url, init);
  } catch (e) {
    throw new ApiError(e.message, [], 'api.unreachable', { detail: e.message });
  }
  onDate(res.headers.get('Date'));
  const text = await res.text();
  let body = null;
  try { body = JSON.parse(text); } catch { /* not JSON: reported below */ }
  if (!body || typeof body !== 'object') {
    // A proxy's error page or a login form: show its start rather than "invalid JSON".
    const detail = text.trim().slice(0, 200) || res.statusText;
    throw new ApiError(detail, [], 'api.answered', { status: String(res.status), detail });
  }
  // cPanel's flat /execute/ envelope; also accept the wrapped CLI form.
  const result = body.result && typeof body.result === 'object' ? body.result : body;
  if (result.status !== 1) {
    const warnings = Array.isArray(result.warnings) ? result.warnings : [];
    if (!(Array.isArray(result.errors) && result.errors.length)) {
      throw new ApiError('', warnings, 'api.no_reason', { status: String(res.status) });
    }
    throw new ApiError(result.errors.join('\n'), warnings);
  }
  return result.data ?? {};
}
