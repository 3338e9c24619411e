// The self-service 2FA enrollment page, as a custom element: <tfa-enrollment api-base="...">.
//
// It talks to cPanel's UAPI TwoFactorAuth functions (generate_user_configuration,
// set_user_configuration, get_user_configuration, remove_user_configuration), the same in a
// real cPanel theme and against the tfa server. All TOTP work (QR, codes, the local check, the
// drift search) is done by the wasm module in ./pkg; this file only draws and wires.

import init, * as tfa from './pkg/tfa.js';

const MODULE = 'TwoFactorAuth';
const CLOCK_TOLERANCE_SECS = 30;
const CPSESS = /^(.*?\/cpsess\d{10}\/)/;

const wasmReady = init();

/** The UAPI base (the URL prefix before `execute/`), from an attribute or the page's location. */
export function apiBaseFor(element, location = window.location) {
  const explicit = element.getAttribute('api-base') ?? element.dataset.apiBase;
  if (explicit) return explicit.endsWith('/') ? explicit : `${explicit}/`;
  const m = CPSESS.exec(location.pathname);
  return m ? m[1] : '/';
}

/** "about 3 minutes" / "about 30 seconds" for a drift of `steps` 30-second steps. */
function describeDrift(steps) {
  const secs = Math.abs(steps) * 30;
  const amount = secs >= 90
    ? `about ${Math.round(secs / 60)} minutes`
    : secs >= 60 ? 'about 1 minute' : `about ${secs} seconds`;
  return `${amount} ${steps > 0 ? 'ahead' : 'behind'}`;
}

class ApiError extends Error {}

const TEMPLATE = `
<link rel="stylesheet" href="${new URL('style.css', import.meta.url)}">
<section class="card" aria-labelledby="tfa-title">
  <h2 id="tfa-title" tabindex="-1">Two-Factor Authentication</h2>
  <p class="lead">Protect your account with a code from an authenticator app, in addition to your password.</p>

  <div class="messages" data-ref="messages">
    <div class="live" role="status" aria-live="polite" aria-atomic="true" data-ref="status"></div>
    <div class="alert" role="alert" aria-atomic="true" data-ref="alert" hidden></div>
    <p class="clock-warning" data-ref="clockWarning" hidden></p>
  </div>

  <div data-view="loading"><p class="muted">Loading…</p></div>

  <div data-view="error" hidden>
    <div data-slot="messages"></div>
    <div class="actions">
      <button type="button" data-action="retry">Try again</button>
    </div>
  </div>

  <div data-view="status" hidden>
    <div data-slot="messages"></div>
    <p class="state" data-ref="stateText"></p>
    <div class="actions" data-ref="disabledActions" hidden>
      <button type="button" class="primary" data-action="setup">Set up two-factor authentication</button>
    </div>
    <div class="actions" data-ref="enabledActions" hidden>
      <button type="button" data-action="reconfigure">Reconfigure</button>
      <button type="button" class="danger" data-action="ask-remove">Remove two-factor authentication</button>
    </div>
    <div class="confirm" data-ref="removeConfirm" role="group" aria-labelledby="tfa-remove-q" hidden>
      <p id="tfa-remove-q"><strong>Remove two-factor authentication?</strong>
        You will then log in with your password alone.</p>
      <div class="actions">
        <button type="button" class="danger" data-action="remove">Yes, remove it</button>
        <button type="button" data-action="cancel-remove">Keep it</button>
      </div>
    </div>
  </div>

  <div data-view="setup" hidden>
    <div class="setup-grid">
      <figure class="qr" data-ref="qr" role="img"></figure>
      <div class="steps">
        <div data-slot="messages"></div>
        <p class="warning" data-ref="reconfigureWarning" hidden>You are replacing your current set-up. Once you confirm, codes from the old entry in your authenticator app stop working: delete that entry afterwards.</p>
        <h3>1. Scan the QR code with your authenticator app</h3>
        <details data-ref="manual">
          <summary>Can’t scan it?</summary>
          <p class="muted">Add a time-based account by hand with:</p>
          <dl class="manual">
            <dt>Account</dt><dd data-ref="account"></dd>
            <dt>Issuer</dt><dd data-ref="issuer"></dd>
            <dt>Key</dt><dd><code class="key" id="tfa-manual-key" data-ref="key"></code>
              <button type="button" class="small" data-action="copy" aria-label="Copy the key">Copy</button></dd>
          </dl>
          <p><a data-ref="otpauthLink" href="#">Open in an authenticator app on this device</a></p>
        </details>
        <form class="verify" data-ref="form" novalidate>
          <h3>2. Enter the six-digit code it shows</h3>
          <label for="tfa-code">Security code</label>
          <input id="tfa-code" name="tfa_token" data-ref="code" inputmode="numeric"
                 autocomplete="one-time-code" pattern="[0-9 ]*" maxlength="9" spellcheck="false"
                 aria-describedby="tfa-code-help" required>
          <p id="tfa-code-help" class="muted">Spaces are fine.
            <span class="countdown" aria-hidden="true"><span class="bar"><span data-ref="bar"></span></span>
            <span data-ref="countdown"></span></span></p>
          <div class="actions">
            <button type="submit" class="primary" data-ref="confirm">Verify and enable</button>
            <button type="button" data-action="cancel-setup">Cancel</button>
          </div>
        </form>
      </div>
    </div>
  </div>

  <div data-view="done" hidden>
    <div data-slot="messages"></div>
    <p class="success" data-ref="doneText" tabindex="-1">Two-factor authentication is enabled.</p>
    <p>When you log in, you will be asked for a code from your app (whenever the server’s
      security policy requires two-factor authentication). Keep your phone safe: there are no
      backup codes, so if you lose it, ask your administrator to remove two-factor
      authentication for you.</p>
    <div class="actions">
      <button type="button" class="primary" data-action="back">Done</button>
    </div>
  </div>
</section>`;

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

  /** Calls a UAPI function and returns `data`, or throws the server's errors verbatim. */
  async call(func, params = null) {
    const url = `${this.apiBase}execute/${MODULE}/${func}`;
    const init = params
      ? { method: 'POST', body: new URLSearchParams(params), credentials: 'same-origin' }
      : { method: 'GET', credentials: 'same-origin' };
    let res;
    try {
      res = await fetch(url, init);
    } catch (e) {
      throw new ApiError(`The server could not be reached (${e.message}).`);
    }
    this.checkClock(res.headers.get('Date'));
    const text = await res.text();
    let body = null;
    try { body = JSON.parse(text); } catch { /* not JSON: reported below */ }
    if (!body || typeof body !== 'object') {
      const detail = text.trim().slice(0, 200) || res.statusText;
      throw new ApiError(`The server answered ${res.status}: ${detail}`);
    }
    // cPanel's flat /execute/ envelope; also accept the wrapped CLI form.
    const result = body.result && typeof body.result === 'object' ? body.result : body;
    if (result.status !== 1) {
      const errors = Array.isArray(result.errors) && result.errors.length
        ? result.errors : [`The server answered ${res.status} without a reason.`];
      const err = new ApiError(errors.join('\n'));
      err.warnings = Array.isArray(result.warnings) ? result.warnings : [];
      throw err;
    }
    return result.data ?? {};
  }

  /** Warns when the browser's clock and the server's differ by more than 30 s. */
  checkClock(dateHeader) {
    const server = Date.parse(dateHeader ?? '');
    if (Number.isNaN(server)) return;
    const diff = Math.round((Date.now() - server) / 1000);
    const el = this.refs.clockWarning;
    if (Math.abs(diff) > CLOCK_TOLERANCE_SECS) {
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
    const modules = Number(svgEl.getAttribute('width')) / 8;
    qr.style.setProperty('--modules', String(modules));
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
      this.refs.bar.style.width = `${(secondsLeft / 30) * 100}%`;
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
      const drift = tfa.findDrift(secret, token, now);
      if (drift != null && Math.abs(drift) > 1) {
        this.fail(new Error(
          `That code belongs to a different time: your phone’s clock seems to be ${describeDrift(drift)}. `
          + 'Set your phone to automatic (network) time, then enter the new code. Nothing was sent.'));
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

if (!customElements.get('tfa-enrollment')) customElements.define('tfa-enrollment', TfaEnrollment);
