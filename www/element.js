// <tfa-enrollment>: the views and their wiring. It draws and reacts; the UAPI calls are in
// api.js, the markup in template.js, and every TOTP fact and computation (QR, codes, the local
// check, the drift search and its sentence, the step length, the QR's module size) comes from
// the wasm module in ./pkg, so the page and the server cannot disagree.
//
// Recovery codes are tfa's own (TfaRecoveryCodes, beyond cPanel): the page offers them only
// where the server does, and on a real cPanel it looks and behaves as before.

import init, * as tfa from './pkg/tfa.js';
import { ApiError, RECOVERY_MODULE, apiBaseFor, callUapi, clockSkewSecs } from './api.js';
import { TEMPLATE } from './template.js';

// Started once, when the module loads; every use of `tfa` waits for it.
const wasmReady = init();

// At this many recovery codes left or fewer, the status view warns.
const RECOVERY_LOW = 2;
const PLURAL = new Intl.PluralRules('en');

/** The recovery codes in an answer's data, or null when the server sent none (a real cPanel). */
function recoveryCodesOf(data) {
  const codes = data && data.recovery_codes;
  return Array.isArray(codes) && codes.length && codes.every((c) => typeof c === 'string')
    ? codes : null;
}

/** "N recovery codes left.", in words a person reads aloud (English only for now). */
export function recoveryCountSentence(n) {
  if (n === 0) return 'No recovery codes left.';
  return `${n} recovery ${PLURAL.select(n) === 'one' ? 'code' : 'codes'} left.`;
}

/** The download's file name: letters, digits, dot, dash and underscore only, whatever the account. */
export function recoveryFileName(account) {
  const safe = (account || '').replace(/[^A-Za-z0-9._-]+/g, '_').replace(/^[._]+/, '').slice(0, 64);
  return safe ? `recovery-codes-${safe}.txt` : 'recovery-codes.txt';
}

/** The text of the download (and of the printout): who, when, the codes, how to use them. */
export function recoveryFileText({ codes, account, issuer }, now = new Date()) {
  const whom = [account, issuer && `at ${issuer}`].filter(Boolean).join(' ');
  return [
    `Recovery codes${whom ? ` for ${whom}` : ''}`,
    `Made on ${now.toISOString().slice(0, 10)}`,
    '',
    ...codes,
    '',
    'Each code works once, in place of a security code, if you lose your phone.',
    '',
  ].join('\r\n');
}

export class TfaEnrollment extends HTMLElement {
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
    this.apiBase = apiBaseFor(this);
    this.load();
  }

  /** The first status request; a failure leaves a way to try again. */
  async load() {
    try {
      await this.refresh();
    } catch (e) {
      this.show('error');
      this.fail(e);
    }
  }

  disconnectedCallback() {
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
    const el = this.refs.clockWarning;
    if (Math.abs(diff) > tfa.clockToleranceSecs()) {
      el.textContent = `This computer’s clock is ${Math.abs(diff)} seconds ${diff > 0 ? 'ahead of' : 'behind'} the server’s. `
        + 'Codes are time-based, so set both to automatic (network) time if codes are refused.';
      el.hidden = false;
    } else {
      el.hidden = true;
    }
  }

  // ------------------------------------------------------------------ views

  show(view) {
    // Leaving the recovery view, by whatever way, forgets the codes.
    if (view !== 'recovery') this.dropRecoveryCodes();
    for (const el of this.shadowRoot.querySelectorAll('[data-view]')) el.hidden = el.dataset.view !== view;
    // Messages sit where the eye is: at the top of the view's own message slot.
    const slot = this.shadowRoot.querySelector(`[data-view="${view}"] [data-slot="messages"]`);
    if (slot && this.refs.messages.parentElement !== slot) slot.append(this.refs.messages);
    this.setAttribute('state', view);
  }

  say(message) {
    this.refs.status.textContent = message;
  }

  fail(error) {
    const a = this.refs.alert;
    a.textContent = error instanceof Error ? error.message : String(error);
    const hints = error && Array.isArray(error.warnings) ? error.warnings : [];
    if (hints.length) a.textContent += `\n${hints.join('\n')}`;
    a.hidden = false;
  }

  clearAlert() {
    this.refs.alert.hidden = true;
    this.refs.alert.textContent = '';
  }

  focusTitle() {
    this.shadowRoot.getElementById('tfa-title').focus();
  }

  async refresh(message = '') {
    await wasmReady;
    const data = await this.call('get_user_configuration');
    const enabled = Number(data.is_enabled) === 1;
    const issuer = data.issuer ? ` (issuer “${data.issuer}”)` : '';
    this.refs.stateText.textContent = enabled
      ? `Two-factor authentication is enabled${issuer}.`
      : 'Two-factor authentication is not set up for your account.';
    this.refs.stateText.className = `state ${enabled ? 'on' : 'off'}`;
    this.refs.enabledActions.hidden = !enabled;
    this.refs.disabledActions.hidden = enabled;
    this.refs.removeConfirm.hidden = true;
    this.refs.regenForm.hidden = true;
    this.refs.recoveryStatus.hidden = true;
    if (data.issuer) this.identity.issuer = data.issuer;
    // Before showing the view, so that it does not jump when the count arrives.
    if (enabled) await this.loadRecoveryStatus();
    this.show('status');
    this.say(message);
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
    this.refs.recoveryCount.textContent = recoveryCountSentence(remaining);
    const low = this.refs.recoveryLow;
    // In words, not only in the warning's colour.
    low.textContent = remaining === 0
      ? 'Warning: you have no recovery codes left. Make new ones, so that losing your phone does not lock you out.'
      : `Warning: only ${remaining} left. Make new recovery codes before you run out.`;
    low.hidden = remaining > RECOVERY_LOW;
    this.refs.recoveryStatus.hidden = false;
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
        case 'remove': await this.remove(); break;
        case 'cancel-setup':
          this.stopCountdown();
          this.config = null;
          await this.refresh('Set-up cancelled; nothing was changed.');
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
      throw new ApiError('The server returned an otpauth URI whose secret differs from its “secret” field; set-up cannot work. Please report this to your administrator.');
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
    qr.setAttribute('aria-label', `QR code for ${this.config.account} at ${this.config.issuer}`);
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
    this.say('');
    this.refs.code.focus();
  }

  startCountdown() {
    this.stopCountdown();
    const tick = () => {
      if (!this.config) return;
      const now = tfa.nowSecs();
      const { secondsLeft } = tfa.currentCode(this.config.secret, now);
      this.refs.countdown.textContent = `New code in ${secondsLeft} s`;
      this.refs.bar.style.width = `${(secondsLeft / tfa.stepSecs()) * 100}%`;
    };
    tick();
    this.timer = setInterval(tick, 1000);
  }

  stopCountdown() {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  async copyKey() {
    const key = this.config ? this.config.secret.toUpperCase() : '';
    try {
      if (!navigator.clipboard) throw new Error('no clipboard');
      await navigator.clipboard.writeText(key);
      this.say('The key was copied to the clipboard.');
    } catch {
      // Select the key so that Ctrl+C / Cmd+C works.
      const range = document.createRange();
      range.selectNodeContents(this.refs.key);
      // Chromium selects inside a shadow root through it; Firefox through the window.
      const sel = this.shadowRoot.getSelection?.() ?? window.getSelection();
      sel.removeAllRanges();
      sel.addRange(range);
      this.fail(new Error('Your browser did not allow copying. The key is selected: press Ctrl+C (or ⌘C) to copy it, without the spaces if your app refuses them.'));
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
      this.fail(new Error(verdict.message));
      this.refs.code.focus();
      return;
    }
    if (!verdict.ok) {
      // Only a match beyond the window means a wrong clock: the server would refuse that code
      // anyway, so say why here and send nothing.
      const drift = tfa.findDrift(secret, token, now);
      if (drift != null && Math.abs(drift) > tfa.windowSteps()) {
        // The core's sentence, word for word what the server says for the same code.
        this.fail(new Error(`${tfa.driftSentence(drift)} Nothing was sent.`));
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
    this.say('');
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
    this.say('');
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
      await this.refresh('New recovery codes were made; the old ones no longer work.');
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
      this.say('The recovery codes were copied to the clipboard.');
    } catch {
      this.selectCodes();
      this.fail(new Error('Your browser did not allow copying. The codes are selected: press Ctrl+C (or ⌘C) to copy them.'));
    }
  }

  /** A .txt file made in the page (Blob + <a download>): the codes never go back to a server. */
  downloadCodes() {
    const r = this.recovery;
    if (!r) return;
    const name = recoveryFileName(r.account);
    const blob = new Blob([recoveryFileText(r)], { type: 'text/plain;charset=utf-8' });
    if (r.url) URL.revokeObjectURL(r.url);
    r.url = URL.createObjectURL(blob);
    const a = document.createElement('a');
    a.href = r.url;
    a.download = name;
    a.hidden = true;
    this.shadowRoot.append(a);
    a.click();
    a.remove();
    this.say(`The recovery codes were downloaded as ${name}.`);
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
      this.fail(new Error('Your browser blocked the print window. Use Download or Copy instead, or allow pop-ups for this page.'));
      return;
    }
    // Built node by node: the about:blank window shares this page's Content-Security-Policy,
    // and the browser's default styles (monospace <code>) are all a printout needs.
    const d = w.document;
    d.documentElement.lang = 'en';
    d.title = 'Recovery codes';
    const [title, made, , ...rest] = recoveryFileText(r).split('\r\n');
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
    note.textContent = rest.find((line) => line.startsWith('Each code')) ?? '';
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
      this.fail(new Error('Enter the six-digit code your authenticator app shows now.'));
      this.refs.regenCode.focus();
      return;
    }
    const button = this.refs.regenSubmit;
    button.disabled = true;
    try {
      const data = await this.call('regenerate', { tfa_token: token }, RECOVERY_MODULE);
      const codes = recoveryCodesOf(data);
      if (!codes) throw new ApiError('The server answered without the new recovery codes. Please report this to your administrator.');
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

  async remove() {
    // An empty parameter set still makes it a POST: it changes state.
    await this.call('remove_user_configuration', {});
    await this.refresh('Two-factor authentication was removed.');
    this.focusTitle();
  }
}
