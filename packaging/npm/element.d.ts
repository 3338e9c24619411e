// Type declarations for element.js: the <tfa-enrollment> custom element.
// Importing element.js does not define the element; app.js (the package's main entry) does.

/** The view the element shows, reflected in its read-only `state` attribute. */
export type TfaState = 'loading' | 'error' | 'status' | 'setup' | 'recovery' | 'done';

/** The `color-scheme` attribute: `auto` (the default) follows `prefers-color-scheme`. */
export type TfaColorScheme = 'light' | 'dark' | 'auto';

/** `tfa-statechange`: on every change of view. `previous` is null for the first one. */
export interface TfaStateChangeDetail {
  state: TfaState;
  previous: TfaState | null;
}

/** `tfa-enabled`: two-factor authentication was turned on (set_user_configuration succeeded). */
export interface TfaEnabledDetail {
  /** The account name in the authenticator app (the cPanel user). */
  account: string;
  /** The issuer shown in the authenticator app. */
  issuer: string;
  /** How many recovery codes were shown: 0 against a real cPanel, which has none. */
  recoveryCodes: number;
}

/** `tfa-removed`: two-factor authentication was turned off. */
export type TfaRemovedDetail = Record<string, never>;

/** `tfa-recovery-codes`: a new set of recovery codes was made (and shown once). */
export interface TfaRecoveryCodesDetail {
  count: number;
}

/** `tfa-error`: the element shows an error (the server's own words, verbatim). */
export interface TfaErrorDetail {
  message: string;
  warnings: string[];
}

/**
 * The element's events. All are `CustomEvent`s with `bubbles: true` and `composed: true`, so a
 * listener on the element, on any ancestor or on `document` receives them.
 */
export interface TfaEnrollmentEventMap {
  'tfa-statechange': CustomEvent<TfaStateChangeDetail>;
  'tfa-enabled': CustomEvent<TfaEnabledDetail>;
  'tfa-removed': CustomEvent<TfaRemovedDetail>;
  'tfa-recovery-codes': CustomEvent<TfaRecoveryCodesDetail>;
  'tfa-error': CustomEvent<TfaErrorDetail>;
}

/**
 * `<tfa-enrollment>`: sets up, shows and removes TOTP two-factor authentication for the
 * logged-in cPanel user, through cPanel's UAPI (`TwoFactorAuth`) or the tfa server.
 *
 * Attributes:
 * - `api-base`: the URL prefix before `execute/` (default: the page's `/cpsessNNNNNNNNNN/`
 *   prefix, else `/`);
 * - `lang` / `locale`: the language (default: the document's, then `navigator.languages`,
 *   then English);
 * - `color-scheme`: `light`, `dark` or `auto` (default: follows `prefers-color-scheme`);
 * - `state` (read-only, reflected): `loading`, `error`, `status`, `setup`, `recovery`, `done`.
 *
 * CSS custom properties (set them on the element or an ancestor; they apply in both colour
 * schemes): `--tfa-accent`, `--tfa-accent-fg`, `--tfa-bg`, `--tfa-border`, `--tfa-danger`,
 * `--tfa-fg`, `--tfa-font`, `--tfa-font-size`, `--tfa-muted`, `--tfa-ok`, `--tfa-radius`,
 * `--tfa-warn-bg`. The QR code stays dark on white with its quiet zone whatever they say.
 *
 * Files: the element loads `style.css`, `pkg/tfa_bg.wasm` and `locales/*.json` relative to its
 * modules' URL (`import.meta.url`); a bundle must keep them beside it (see the README).
 */
export class TfaEnrollment extends HTMLElement {
  /** The view shown now (the `state` attribute). */
  readonly state: TfaState;
  /** The language (the `locale` attribute); setting it re-renders in that language. */
  locale: string;
  /** The UAPI base, ending in `/` (the `api-base` attribute, or the one found from the location). */
  apiBase: string;
  /** Asks the server for the current status again and shows it. */
  refresh(): Promise<void>;

  addEventListener<K extends keyof TfaEnrollmentEventMap>(
    type: K,
    listener: (this: TfaEnrollment, ev: TfaEnrollmentEventMap[K]) => unknown,
    options?: boolean | AddEventListenerOptions,
  ): void;
  addEventListener<K extends keyof HTMLElementEventMap>(
    type: K,
    listener: (this: TfaEnrollment, ev: HTMLElementEventMap[K]) => unknown,
    options?: boolean | AddEventListenerOptions,
  ): void;
  addEventListener(
    type: string,
    listener: EventListenerOrEventListenerObject,
    options?: boolean | AddEventListenerOptions,
  ): void;
  removeEventListener<K extends keyof TfaEnrollmentEventMap>(
    type: K,
    listener: (this: TfaEnrollment, ev: TfaEnrollmentEventMap[K]) => unknown,
    options?: boolean | EventListenerOptions,
  ): void;
  removeEventListener<K extends keyof HTMLElementEventMap>(
    type: K,
    listener: (this: TfaEnrollment, ev: HTMLElementEventMap[K]) => unknown,
    options?: boolean | EventListenerOptions,
  ): void;
  removeEventListener(
    type: string,
    listener: EventListenerOrEventListenerObject,
    options?: boolean | EventListenerOptions,
  ): void;
}

declare global {
  interface HTMLElementTagNameMap {
    'tfa-enrollment': TfaEnrollment;
  }
  // The events bubble out of the shadow root, so a host page may listen anywhere above it.
  interface GlobalEventHandlersEventMap extends TfaEnrollmentEventMap {}
}
