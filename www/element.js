// <tfa-enrollment>: the views and their wiring. It draws and reacts; the UAPI calls are in
// api.js, the markup in template.js, and every TOTP fact and computation (QR, codes, the local
// check, the drift search and its sentence, the step length, the QR's module size) comes from
// the wasm module in ./pkg, so the page and the server cannot disagree.

import init, * as tfa from './pkg/tfa.js';
import { ApiError, apiBaseFor, callUapi, clockSkewSecs } from './api.js';
import { TEMPLATE } from './template.js';

// Started once, when the module loads; every use of `tfa` waits for it.
const wasmReady = init();

export class TfaEnrollment extends HTMLElement {
  constructor() {
    super();
    this.attachShadow({ mode: 'open' }).innerHTML = TEMPLATE;
    this.refs = {};
    for (const el of this.shadowRoot.querySelectorAll('[data-ref]')) this.refs[el.dataset.ref] = el;
    this.config = null; // { secret, account, issuer } while setting up
    this.timer = null;
    this.shadowRoot.addEventListener('click', (e) => this.onClick(e));
    this.refs.form.addEventListener('submit', (e) => { e.preventDefault(); this.confirm(); });
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
  }

  // ------------------------------------------------------------------ API

  /** A UAPI call with this element's base; the wasm module is ready before any answer is read. */
  async call(func, params = null) {
    await wasmReady;
    return callUapi(this.apiBase, func, params, (date) => this.checkClock(date));
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
    this.show('status');
    this.say(message);
  }

  async onClick(e) {
    const button = e.target.closest('[data-action]');
    if (!button) return;
    const action = button.dataset.action;
    try {
      if (action !== 'copy') this.clearAlert();
      switch (action) {
        case 'setup': await this.startSetup(false); break;
        case 'reconfigure': await this.startSetup(true); break;
        case 'ask-remove':
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
      await this.call('set_user_configuration', { secret, tfa_token: token });
      this.stopCountdown();
      this.config = null;
      this.show('done');
      this.say('');
      this.refs.doneText.focus();
    } catch (err) {
      this.fail(err);
      this.refs.code.select();
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
