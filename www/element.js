// <tfa-enrollment>: the views and their wiring. It draws and reacts; the UAPI calls are in
// api.js, the markup in template.js, the words in locales/ (through i18n.js), and every TOTP
// fact and computation (QR, codes, the local check, the drift search, the step length, the
// QR's module size) comes from the wasm module in ./pkg, so the page and the server cannot
// disagree; the drift hint is worded here, at the core's thresholds, in the page's language.
//
// Recovery codes are tfa's own (TfaRecoveryCodes, beyond cPanel): the page offers them only
// where the server does, and on a real cPanel it looks and behaves as before.
//
// Every word comes from the locale's catalog (i18n.js): the language is the `locale` or `lang`
// attribute, then the document's, then the browser's, then English; changing any of them
// re-renders. Errors from the server stay as the server words them (cPanel's English). The
// host page hears of every change through events that bubble out of the shadow root:
// tfa-statechange, tfa-enabled, tfa-removed, tfa-recovery-codes and tfa-error.

import init, * as tfa from './pkg/tfa.js';
import { RECOVERY_MODULE, apiBaseFor, callUapi, clockSkewSecs } from './api.js';
import { LocalError, chooseLocale, loadMessages } from './i18n.js';
import { TEMPLATE } from './template.js';

// Started once, when the module loads; every use of `tfa` waits for it.
const wasmReady = init();

// At this many recovery codes left or fewer, the status view warns.
const RECOVERY_LOW = 2;
// Below this many seconds a clock offset is said in seconds, from here on in whole minutes
// (the core's MINUTES_FROM_SECS, which the server's drift sentence uses).
const MINUTES_FROM_SECS = 120;
// Languages whose sentences follow one another without a space.
const NO_SPACE_BETWEEN_SENTENCES = ['ja', 'zh'];

/** The recovery codes in an answer's data, or null when the server sent none (a real cPanel). */
function recoveryCodesOf(data) {
  const codes = data && data.recovery_codes;
  return Array.isArray(codes) && codes.length && codes.every((c) => typeof c === 'string')
    ? codes : null;
}

/**
 * The catalog key and count of the sentence for a code that matches `steps` TOTP steps of
 * `stepSecs` away (positive: the code is for a later time), at the core's thresholds: seconds
 * under 2 minutes, then whole minutes rounded to the nearest (half a minute rounds up).
 */
export function driftMessage(steps, stepSecs) {
  const secs = Math.abs(steps) * stepSecs;
  const side = steps > 0 ? 'ahead' : 'behind';
  if (secs < MINUTES_FROM_SECS) return [`drift.${side}_seconds`, { n: secs }];
  return [`drift.${side}_minutes`, { n: Math.floor(secs / 60) + (secs % 60 >= 30 ? 1 : 0) }];
}

/** The download's file name: letters, digits, dot, dash and underscore only, whatever the account. */
export function recoveryFileName(account) {
  const safe = (account || '').replace(/[^A-Za-z0-9._-]+/g, '_').replace(/^[._]+/, '').slice(0, 64);
  return safe ? `recovery-codes-${safe}.txt` : 'recovery-codes.txt';
}

/** The parts of the download (and of the printout), in `msg`'s words: title, date, note. */
export function recoveryFileParts({ account, issuer }, msg, now = new Date()) {
  const key = account && issuer ? 'file.title_both'
    : account ? 'file.title_account' : issuer ? 'file.title_issuer' : 'file.title';
  return {
    title: msg.t(key, { account, issuer }),
    made: msg.t('file.made', { date: now.toISOString().slice(0, 10) }),
    note: msg.t('file.note'),
  };
}

/** The text of the download: who, when, the codes, how to use them. */
export function recoveryFileText(r, msg, now = new Date()) {
  const { title, made, note } = recoveryFileParts(r, msg, now);
  return [title, made, '', ...r.codes, '', note, ''].join('\r\n');
}

export class TfaEnrollment extends HTMLElement {
  static get observedAttributes() { return ['lang', 'locale']; }

  constructor() {
    super();
    this.attachShadow({ mode: 'open' }).innerHTML = TEMPLATE;
    this.refs = {};
    for (const el of this.shadowRoot.querySelectorAll('[data-ref]')) this.refs[el.dataset.ref] = el;
    this.config = null; // { secret, account, issuer } while setting up
    // { codes, account, issuer, then, url } while the recovery view shows; null otherwise, so
    // that the codes do not outlive the one time they are shown.
    this.recovery = null;
    // Who the codes are for, remembered from set-up for a later "make new codes" (the status
    // answer has the issuer but not the account name).
    this.identity = { account: '', issuer: '' };
    this.timer = null;
    // The words (i18n.js Messages) and what the dynamic texts were made from, so that a change
    // of language re-words them: the status line's key, the alert's error, the clock offset,
    // the status answer, the recovery codes left, the countdown's seconds.
    this.msg = null;
    this.said = null;
    this.alertError = null;
    this.clockSkew = null;
    this.statusData = null;
    this.recoveryLeft = null;
    this.secondsLeft = null;
    this.localeRun = 0;
    this.localeReady = null;
    this.onLanguageChange = () => { this.localize(); };
    this.langObserver = null;
    this.shadowRoot.addEventListener('click', (e) => this.onClick(e));
    this.refs.form.addEventListener('submit', (e) => { e.preventDefault(); this.confirm(); });
    this.refs.regenForm.addEventListener('submit', (e) => {
      e.preventDefault();
      this.regenerate().catch((err) => this.fail(err));
    });
    this.refs.recoverySaved.addEventListener('change', () => {
      this.refs.continueRecovery.disabled = !this.refs.recoverySaved.checked;
    });
  }

  connectedCallback() {
    // The document's language and the browser's languages are sources of the locale too.
    window.addEventListener('languagechange', this.onLanguageChange);
    if (typeof MutationObserver === 'function') {
      this.langObserver = new MutationObserver(this.onLanguageChange);
      this.langObserver.observe(document.documentElement, { attributes: true, attributeFilter: ['lang'] });
    }
    this.localeReady = this.localize();
    if (!this.hasAttribute('state')) this.show('loading');
    this.load();
  }

  attributeChangedCallback(name, previous, value) {
    if (previous !== value && this.isConnected) this.localize();
  }

  // ------------------------------------------------------------------ public API

  /** The view showing: loading, error, status, setup, recovery or done (read-only). */
  get state() {
    return this.getAttribute('state') ?? 'loading';
  }

  /** The locale in use (a catalog's name: en, ar, de, es, fr, ja); setting it sets `locale`. */
  get locale() {
    return this.msg ? this.msg.locale : chooseLocale(this);
  }

  set locale(value) {
    if (value == null || value === '') this.removeAttribute('locale');
    else this.setAttribute('locale', String(value));
  }

  /** The UAPI base (the prefix before execute/): `api-base`, else from the page's location. */
  get apiBase() {
    return apiBaseFor(this);
  }

  set apiBase(value) {
    if (value == null || value === '') this.removeAttribute('api-base');
    else this.setAttribute('api-base', String(value));
  }

  /** Dispatches a CustomEvent that bubbles out of the shadow root to the host page. */
  emit(name, detail) {
    this.dispatchEvent(new CustomEvent(name, { detail, bubbles: true, composed: true }));
  }

  // ------------------------------------------------------------------ words

  /** Loads the chosen locale's words and re-renders every text (the latest choice wins). */
  async localize() {
    const run = ++this.localeRun;
    const msg = await loadMessages(chooseLocale(this));
    if (run !== this.localeRun) return;
    this.msg = msg;
    this.render();
  }

  /** The text of a catalog key in the current locale. */
  t(key, params = {}) {
    return this.msg ? this.msg.t(key, params) : '';
  }

  /** Sentences one after the other, as the language writes them. */
  sentences(parts) {
    const lang = this.msg ? this.msg.lang : 'en';
    return parts.join(NO_SPACE_BETWEEN_SENTENCES.includes(lang) ? '' : ' ');
  }

  /** An error's words: the page's own from the catalog, the server's as they are. */
  errorText(error) {
    if (error && error.key) {
      return this.sentences([[error.key, error.params], ...(error.more ?? [])]
        .map(([key, params]) => this.t(key, params)));
    }
    return error instanceof Error ? error.message : String(error);
  }

  /** Every text of the element, in the current locale. */
  render() {
    if (!this.msg) return;
    const card = this.refs.card;
    card.setAttribute('lang', this.msg.lang);
    card.setAttribute('dir', this.msg.dir);
    for (const el of this.shadowRoot.querySelectorAll('[data-i18n]')) el.textContent = this.t(el.dataset.i18n);
    for (const el of this.shadowRoot.querySelectorAll('[data-i18n-label]')) {
      el.setAttribute('aria-label', this.t(el.dataset.i18nLabel));
    }
    this.refs.status.textContent = this.said ? this.t(this.said.key, this.said.params) : '';
    if (this.alertError) this.renderAlert();
    this.renderClock();
    this.renderStatus();
    this.renderRecoveryCount();
    this.renderCountdown();
    if (this.config) {
      const { account, issuer } = this.config;
      this.refs.qr.setAttribute('aria-label', this.t('setup.qr_label', { account, issuer }));
    }
  }

  /** The first status request; a failure leaves a way to try again. */
  async load() {
    try {
      await this.localeReady;
      await this.refresh();
    } catch (e) {
      this.show('error');
      this.fail(e);
    }
  }

  disconnectedCallback() {
    window.removeEventListener('languagechange', this.onLanguageChange);
    if (this.langObserver) this.langObserver.disconnect();
    this.langObserver = null;
    this.stopCountdown();
    this.dropRecoveryCodes();
  }

  // ------------------------------------------------------------------ API

  /** A UAPI call with this element's base; the wasm module is ready before any answer is read. */
  async call(func, params = null, module = undefined) {
    await wasmReady;
    return callUapi(this.apiBase, func, params, (date) => this.checkClock(date), module);
  }

  /** Warns when the browser's clock and the server's differ by more than codes can absorb. */
  checkClock(dateHeader) {
    const diff = clockSkewSecs(dateHeader);
    if (diff === null) return;
    // Called once the wasm module is ready (every answer is read after it).
    this.clockSkew = Math.abs(diff) > tfa.clockToleranceSecs() ? diff : null;
    this.renderClock();
  }

  renderClock() {
    const el = this.refs.clockWarning;
    const diff = this.clockSkew;
    if (diff === null) {
      el.hidden = true;
      return;
    }
    el.textContent = this.sentences([
      this.t(diff > 0 ? 'clock.ahead' : 'clock.behind', { n: Math.abs(diff) }),
      this.t('clock.advice'),
    ]);
    el.hidden = false;
  }

  // ------------------------------------------------------------------ views

  show(view) {
    // Leaving the recovery view, by whatever way, forgets the codes.
    if (view !== 'recovery') this.dropRecoveryCodes();
    for (const el of this.shadowRoot.querySelectorAll('[data-view]')) el.hidden = el.dataset.view !== view;
    // Messages sit where the eye is: at the top of the view's own message slot.
    const slot = this.shadowRoot.querySelector(`[data-view="${view}"] [data-slot="messages"]`);
    if (slot && this.refs.messages.parentElement !== slot) slot.append(this.refs.messages);
    const previous = this.getAttribute('state');
    this.setAttribute('state', view);
    if (previous !== view) this.emit('tfa-statechange', { state: view, previous });
  }

  /** The status line: a catalog key (and its parameters), or nothing. */
  say(key = null, params = {}) {
    this.said = key ? { key, params } : null;
    this.refs.status.textContent = key ? this.t(key, params) : '';
  }

  fail(error) {
    this.alertError = error;
    const { message, warnings } = this.renderAlert();
    this.refs.alert.hidden = false;
    this.emit('tfa-error', { message, warnings });
  }

  renderAlert() {
    const error = this.alertError;
    const message = this.errorText(error);
    const warnings = error && Array.isArray(error.warnings) ? error.warnings.map(String) : [];
    this.refs.alert.textContent = [message, ...warnings].join('\n');
    return { message, warnings };
  }

  clearAlert() {
    this.alertError = null;
    this.refs.alert.hidden = true;
    this.refs.alert.textContent = '';
  }

  focusTitle() {
    this.shadowRoot.getElementById('tfa-title').focus();
  }

  /**
   * Asks the server for the status and shows it; `messageKey` is a catalog key to say there.
   * Public (`el.refresh()`): rejects when the server cannot be asked.
   */
  async refresh(messageKey = null) {
    await wasmReady;
    await this.localeReady;
    const data = await this.call('get_user_configuration');
    const enabled = Number(data.is_enabled) === 1;
    this.statusData = { enabled, issuer: data.issuer ? String(data.issuer) : '' };
    this.renderStatus();
    this.refs.enabledActions.hidden = !enabled;
    this.refs.disabledActions.hidden = enabled;
    this.refs.removeConfirm.hidden = true;
    this.refs.regenForm.hidden = true;
    this.refs.recoveryStatus.hidden = true;
    if (data.issuer) this.identity.issuer = data.issuer;
    // Before showing the view, so that it does not jump when the count arrives.
    if (enabled) await this.loadRecoveryStatus();
    this.show('status');
    this.say(typeof messageKey === 'string' ? messageKey : null);
  }

  renderStatus() {
    const s = this.statusData;
    if (!s) return;
    let text = this.t('status.off');
    if (s.enabled) text = s.issuer ? this.t('status.enabled_issuer', { issuer: s.issuer }) : this.t('status.enabled');
    this.refs.stateText.textContent = text;
    this.refs.stateText.className = `state ${s.enabled ? 'on' : 'off'}`;
  }

  /**
   * How many recovery codes are left, from tfa's own module. Any failure means the server has
   * no such module (a real cPanel): the block stays hidden and nothing is said.
   */
  async loadRecoveryStatus() {
    let data;
    try {
      data = await this.call('get_status', null, RECOVERY_MODULE);
    } catch {
      return;
    }
    const remaining = Number(data.remaining);
    if (!Number.isInteger(remaining) || remaining < 0) return;
    this.recoveryLeft = remaining;
    this.renderRecoveryCount();
    this.refs.recoveryStatus.hidden = false;
  }

  renderRecoveryCount() {
    const n = this.recoveryLeft;
    if (n === null) return;
    this.refs.recoveryCount.textContent = this.t('codes.left', { n });
    const low = this.refs.recoveryLow;
    // In words, not only in the warning's colour.
    low.textContent = n === 0 ? this.t('codes.none_warning') : this.t('codes.low_warning', { n });
    low.hidden = n > RECOVERY_LOW;
  }

  async onClick(e) {
    const button = e.target.closest('[data-action]');
    if (!button) return;
    const action = button.dataset.action;
    try {
      // A copy refusal's alert carries what to do next: the copy buttons keep it until they
      // succeed or fail again.
      if (action !== 'copy' && action !== 'copy-codes') this.clearAlert();
      switch (action) {
        case 'setup': await this.startSetup(false); break;
        case 'reconfigure': await this.startSetup(true); break;
        case 'ask-remove':
          this.refs.regenForm.hidden = true;
          this.refs.removeConfirm.hidden = false;
          this.shadowRoot.querySelector('[data-action="cancel-remove"]').focus();
          break;
        case 'cancel-remove':
          this.refs.removeConfirm.hidden = true;
          this.shadowRoot.querySelector('[data-action="ask-remove"]').focus();
          break;
        case 'remove': await this.removeTfa(); break;
        case 'cancel-setup':
          this.stopCountdown();
          this.config = null;
          await this.refresh('status.cancelled');
          this.focusTitle();
          break;
        case 'copy': await this.copyKey(); break;
        case 'back': await this.refresh(); this.focusTitle(); break;
        case 'ask-regenerate':
          this.refs.removeConfirm.hidden = true;
          this.refs.regenCode.value = '';
          this.refs.regenForm.hidden = false;
          this.refs.regenCode.focus();
          break;
        case 'cancel-regenerate':
          this.refs.regenForm.hidden = true;
          this.refs.regenCode.value = '';
          this.shadowRoot.querySelector('[data-action="ask-regenerate"]').focus();
          break;
        case 'copy-codes': await this.copyCodes(); break;
        case 'download-codes': this.downloadCodes(); break;
        case 'print-codes': this.printCodes(); break;
        case 'continue-recovery': await this.continueFromRecovery(); break;
        case 'retry': this.show('loading'); await this.load(); break;
        default: break;
      }
    } catch (err) {
      this.fail(err);
    }
  }

  async startSetup(reconfigure) {
    await wasmReady;
    const data = await this.call('generate_user_configuration');
    const parsed = tfa.parseOtpauth(data.otpauth_str);
    const { secret } = data;
    // The QR carries the URI's secret and the page sends `secret`: if they differed, the app's
    // codes could never be confirmed (cPanel's own doc sample has this mistake).
    if (typeof secret !== 'string' || parsed.secret !== secret.toUpperCase()) {
      throw new LocalError('setup.secret_mismatch');
    }
    this.config = { secret, account: parsed.account, issuer: parsed.issuer ?? '' };
    this.identity = { account: this.config.account, issuer: this.config.issuer };

    const svg = tfa.qrSvg(data.otpauth_str).replace(/^<\?xml[^>]*\?>/, '');
    const qr = this.refs.qr;
    qr.innerHTML = svg;
    const svgEl = qr.querySelector('svg');
    // style.css sizes the QR from these: a whole number of pixels per module keeps it crisp.
    const modules = Number(svgEl.getAttribute('width')) / tfa.qrSvgModulePx();
    qr.style.setProperty('--modules', String(modules));
    qr.style.setProperty('--module-px', `${tfa.qrModulePx()}px`);
    qr.style.setProperty('--min-module-px', `${tfa.qrMinModulePx()}px`);
    svgEl.setAttribute('aria-hidden', 'true');
    svgEl.setAttribute('focusable', 'false');
    // The text alternative of the QR is the manual key (under "Can't scan it?").
    qr.setAttribute('aria-label', this.t('setup.qr_label', this.config));
    qr.setAttribute('aria-describedby', 'tfa-manual-key');

    this.refs.account.textContent = this.config.account;
    this.refs.issuer.textContent = this.config.issuer;
    this.refs.key.textContent = tfa.groupSecret(secret);
    this.refs.otpauthLink.href = data.otpauth_str;
    this.refs.reconfigureWarning.hidden = !reconfigure;
    this.refs.code.value = '';
    this.refs.manual.open = false;
    this.show('setup');
    this.startCountdown();
    this.say();
    this.refs.code.focus();
  }

  startCountdown() {
    this.stopCountdown();
    const tick = () => {
      if (!this.config) return;
      const now = tfa.nowSecs();
      const { secondsLeft } = tfa.currentCode(this.config.secret, now);
      this.secondsLeft = secondsLeft;
      this.renderCountdown();
      this.refs.bar.style.width = `${(secondsLeft / tfa.stepSecs()) * 100}%`;
    };
    tick();
    this.timer = setInterval(tick, 1000);
  }

  stopCountdown() {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.secondsLeft = null;
  }

  renderCountdown() {
    const n = this.secondsLeft;
    this.refs.countdown.textContent = n === null ? '' : this.t('setup.countdown', { n });
  }

  async copyKey() {
    const key = this.config ? this.config.secret.toUpperCase() : '';
    try {
      if (!navigator.clipboard) throw new Error('no clipboard');
      await navigator.clipboard.writeText(key);
      this.say('setup.key_copied');
    } catch {
      // Select the key so that Ctrl+C / Cmd+C works.
      const range = document.createRange();
      range.selectNodeContents(this.refs.key);
      // Chromium selects inside a shadow root through it; Firefox through the window.
      const sel = this.shadowRoot.getSelection?.() ?? window.getSelection();
      sel.removeAllRanges();
      sel.addRange(range);
      this.fail(new LocalError('setup.copy_refused'));
    }
  }

  /** The local check, then set_user_configuration. */
  async confirm() {
    this.clearAlert();
    if (!this.config) return;
    await wasmReady;
    const token = tfa.cleanToken(this.refs.code.value);
    const { secret } = this.config;
    const now = tfa.nowSecs();
    const verdict = tfa.verifyCode(secret, token, now);
    if (!verdict.ok && verdict.reason === 'malformed') {
      this.fail(new LocalError(token ? 'setup.code_malformed' : 'setup.code_empty'));
      this.refs.code.focus();
      return;
    }
    if (!verdict.ok) {
      // Only a match beyond the window means a wrong clock: the server would refuse that code
      // anyway, so say why here and send nothing.
      const drift = tfa.findDrift(secret, token, now);
      if (drift != null && Math.abs(drift) > tfa.windowSteps()) {
        // The core's thresholds (what the server says for the same code), in the page's words.
        const e = new LocalError(...driftMessage(drift, tfa.stepSecs()));
        e.more = [['drift.advice', {}], ['drift.not_sent', {}]];
        this.fail(e);
        this.refs.code.select();
        return;
      }
      // A plain mismatch: let the server judge and show its message.
    }
    const button = this.refs.confirm;
    button.disabled = true;
    try {
      const data = await this.call('set_user_configuration', { secret, tfa_token: token });
      this.stopCountdown();
      const { account, issuer } = this.config;
      this.config = null;
      const codes = recoveryCodesOf(data);
      this.refs.doneWithCodes.hidden = !codes;
      this.refs.doneWithoutCodes.hidden = !!codes;
      this.emit('tfa-enabled', { account, issuer, recoveryCodes: codes ? codes.length : 0 });
      if (codes) this.emit('tfa-recovery-codes', { count: codes.length });
      if (codes) {
        // tfa's server sends the codes; they must be saved before "done".
        this.showRecovery({ codes, account, issuer, then: 'done' });
      } else {
        // A real cPanel makes no codes: straight to done, which then says to ask the administrator.
        this.showDone();
      }
    } catch (err) {
      this.fail(err);
      this.refs.code.select();
    } finally {
      button.disabled = false;
    }
  }

  showDone() {
    this.show('done');
    this.say();
    this.refs.doneText.focus();
  }

  // ------------------------------------------------------------------ recovery codes

  /** The codes, once, behind the "I have saved these codes" gate; `then` is where Continue goes. */
  showRecovery({ codes, account, issuer, then }) {
    this.dropRecoveryCodes();
    const list = this.refs.recoveryCodes;
    for (const c of codes) {
      const li = document.createElement('li');
      const code = document.createElement('code');
      code.textContent = c;
      li.append(code);
      list.append(li);
    }
    this.show('recovery');
    this.recovery = { codes: [...codes], account, issuer, then, url: null };
    this.say();
    this.refs.recoveryTitle.focus();
  }

  /** Forgets the codes: the list, the gate, and a download link not yet revoked. */
  dropRecoveryCodes() {
    const r = this.recovery;
    if (r && r.url) URL.revokeObjectURL(r.url);
    this.recovery = null;
    this.refs.recoveryCodes.replaceChildren();
    this.refs.recoverySaved.checked = false;
    this.refs.continueRecovery.disabled = true;
  }

  async continueFromRecovery() {
    const r = this.recovery;
    // The button is disabled until then; this guards a scripted click.
    if (!r || !this.refs.recoverySaved.checked) return;
    if (r.then === 'done') {
      this.showDone();
    } else {
      await this.refresh('codes.made');
      this.focusTitle();
    }
  }

  /** Selects the list so that Ctrl+C works when the clipboard is refused. */
  selectCodes() {
    const range = document.createRange();
    range.selectNodeContents(this.refs.recoveryCodes);
    const sel = this.shadowRoot.getSelection?.() ?? window.getSelection();
    sel.removeAllRanges();
    sel.addRange(range);
  }

  async copyCodes() {
    const r = this.recovery;
    if (!r) return;
    try {
      if (!navigator.clipboard) throw new Error('no clipboard');
      await navigator.clipboard.writeText(r.codes.join('\n'));
      this.clearAlert();
      this.say('recovery.copied');
    } catch {
      this.selectCodes();
      this.fail(new LocalError('recovery.copy_refused'));
    }
  }

  /** A .txt file made in the page (Blob + <a download>): the codes never go back to a server. */
  downloadCodes() {
    const r = this.recovery;
    if (!r) return;
    const name = recoveryFileName(r.account);
    const blob = new Blob([recoveryFileText(r, this.msg)], { type: 'text/plain;charset=utf-8' });
    if (r.url) URL.revokeObjectURL(r.url);
    r.url = URL.createObjectURL(blob);
    const a = document.createElement('a');
    a.href = r.url;
    a.download = name;
    a.hidden = true;
    this.shadowRoot.append(a);
    a.click();
    a.remove();
    this.say('recovery.downloaded', { file: name });
  }

  /**
   * Prints the codes alone, from a small window of their own (a print stylesheet could not hide
   * the host page around the element). A blocked pop-up is said, not thrown.
   */
  printCodes() {
    const r = this.recovery;
    if (!r) return;
    let w = null;
    try {
      w = window.open('', '_blank', 'popup,width=480,height=640');
    } catch {
      w = null;
    }
    if (!w) {
      this.fail(new LocalError('recovery.print_blocked'));
      return;
    }
    // Built node by node: the about:blank window shares this page's Content-Security-Policy,
    // and the browser's default styles (monospace <code>) are all a printout needs.
    const d = w.document;
    d.documentElement.lang = this.msg.lang;
    d.documentElement.dir = this.msg.dir;
    const { title, made, note: noteText } = recoveryFileParts(r, this.msg);
    d.title = this.t('file.title');
    const h1 = d.createElement('h1');
    h1.textContent = title;
    const p = d.createElement('p');
    p.textContent = made;
    const ol = d.createElement('ol');
    ol.dir = 'ltr';
    for (const c of r.codes) {
      const li = d.createElement('li');
      const code = d.createElement('code');
      code.textContent = c;
      li.append(code);
      ol.append(li);
    }
    const note = d.createElement('p');
    note.textContent = noteText;
    d.body.replaceChildren(h1, p, ol, note);
    w.addEventListener('afterprint', () => w.close());
    w.focus();
    w.print();
  }

  /** TfaRecoveryCodes::regenerate behind the current security code; then the new codes, once. */
  async regenerate() {
    this.clearAlert();
    await wasmReady;
    const token = tfa.cleanToken(this.refs.regenCode.value);
    if (!token) {
      this.fail(new LocalError('codes.enter_code'));
      this.refs.regenCode.focus();
      return;
    }
    const button = this.refs.regenSubmit;
    button.disabled = true;
    try {
      const data = await this.call('regenerate', { tfa_token: token }, RECOVERY_MODULE);
      const codes = recoveryCodesOf(data);
      if (!codes) throw new LocalError('codes.none_sent');
      this.emit('tfa-recovery-codes', { count: codes.length });
      this.refs.regenForm.hidden = true;
      this.refs.regenCode.value = '';
      this.showRecovery({ codes, ...this.identity, then: 'status' });
    } catch (err) {
      this.fail(err);
      this.refs.regenCode.select();
    } finally {
      button.disabled = false;
    }
  }

  /** Removes 2FA. Not `remove()`: that is the DOM's (a host detaching the element). */
  async removeTfa() {
    // An empty parameter set still makes it a POST: it changes state.
    await this.call('remove_user_configuration', {});
    this.emit('tfa-removed', {});
    await this.refresh('status.removed');
    this.focusTitle();
  }
}
