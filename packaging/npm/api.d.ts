// Type declarations for api.js: the element's UAPI client (no DOM beyond an attribute read).

/** cPanel's module, `TwoFactorAuth`. */
export const MODULE: string;
/** tfa's own module for recovery codes, beyond cPanel, `TfaRecoveryCodes`. */
export const RECOVERY_MODULE: string;

/**
 * A refusal: the server's own errors, shown as they are (cPanel's English, as its API words
 * them), or why the server could not answer, as a catalog key and its parameters (the element
 * words those in the page's language).
 */
export class ApiError extends Error {
  constructor(
    message: string,
    warnings?: string[],
    key?: string | null,
    params?: Record<string, string | number>,
  );
  readonly name: 'ApiError';
  warnings: string[];
  /** The message catalog's key, when the page words this error itself; null for the server's. */
  key: string | null;
  params: Record<string, string | number>;
}

/**
 * The UAPI base (the URL prefix before `execute/`, ending in `/`): the element's `api-base`
 * attribute, else the location's `/cpsessNNNNNNNNNN/` prefix, else `/`.
 */
export function apiBaseFor(element: Element, location?: { pathname: string }): string;

/** Seconds the browser's clock is ahead of the server's (negative: behind), from a `Date` header. */
export function clockSkewSecs(dateHeader: string | null | undefined, now?: number): number | null;

/**
 * Calls UAPI `<module>::<func>` under `base` and returns its `data`, or throws an ApiError with
 * the server's errors verbatim. With `params` it is a POST, without a GET.
 */
export function callUapi(
  base: string,
  func: string,
  params?: Record<string, string> | null,
  onDate?: (date: string | null) => void,
  module?: string,
): Promise<unknown>;
