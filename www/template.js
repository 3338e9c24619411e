// The markup of <tfa-enrollment>: one shadow-DOM template with every view in it, hidden but
// the current one (element.js switches them). Kept apart from the behaviour so each reads alone.
//
// The hooks element.js and the end-to-end tests use: data-view (one per state), data-ref (the
// nodes the code fills), data-action (the buttons), data-slot="messages" (where the live
// regions move to, so messages appear in the view that is showing), and the ids the labels and
// aria-describedby point at.

// The stylesheet sits next to this module, wherever the page that loads it lives.
export const TEMPLATE = `
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
