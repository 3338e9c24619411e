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
    <!-- Recovery codes are tfa's own (a real cPanel has none): element.js shows this block only
         when the server answers TfaRecoveryCodes::get_status. -->
    <div class="recovery-status" data-ref="recoveryStatus" hidden>
      <h3>Recovery codes</h3>
      <p data-ref="recoveryCount"></p>
      <p class="warning" data-ref="recoveryLow" hidden></p>
      <div class="actions">
        <button type="button" data-action="ask-regenerate">Make new recovery codes</button>
      </div>
      <form class="confirm verify" data-ref="regenForm" aria-labelledby="tfa-regen-q" novalidate hidden>
        <p id="tfa-regen-q"><strong>Make new recovery codes?</strong>
          The codes you have now stop working as soon as the new ones are made.</p>
        <label for="tfa-regen-code">Current security code</label>
        <input id="tfa-regen-code" name="tfa_token" data-ref="regenCode" inputmode="numeric"
               autocomplete="one-time-code" pattern="[0-9 ]*" maxlength="9" spellcheck="false"
               aria-describedby="tfa-regen-help" required>
        <p id="tfa-regen-help" class="muted">The six-digit code your authenticator app shows now. Spaces are fine.</p>
        <div class="actions">
          <button type="submit" class="primary" data-ref="regenSubmit">Make new codes</button>
          <button type="button" data-action="cancel-regenerate">Cancel</button>
        </div>
      </form>
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

  <!-- Shown once, right after set-up (or after making new codes), when the server sent codes:
       they exist nowhere else in readable form, hence the gate before leaving. -->
  <div data-view="recovery" hidden>
    <h3 id="tfa-recovery-title" data-ref="recoveryTitle" tabindex="-1">Save your recovery codes</h3>
    <div data-slot="messages"></div>
    <p id="tfa-recovery-why">If you lose your phone, each of these codes logs you in once in place of a
      security code. They are shown only now: keep them somewhere safe, away from your phone.</p>
    <ol class="codes" data-ref="recoveryCodes" dir="ltr" aria-labelledby="tfa-recovery-title"
        aria-describedby="tfa-recovery-why"></ol>
    <div class="actions">
      <button type="button" data-action="copy-codes" aria-label="Copy the recovery codes">Copy</button>
      <button type="button" data-action="download-codes" aria-label="Download the recovery codes as a text file">Download</button>
      <button type="button" data-action="print-codes" aria-label="Print the recovery codes">Print</button>
    </div>
    <p class="check">
      <input type="checkbox" id="tfa-recovery-saved" data-ref="recoverySaved">
      <label for="tfa-recovery-saved">I have saved these codes</label>
    </p>
    <div class="actions">
      <button type="button" class="primary" data-action="continue-recovery"
              data-ref="continueRecovery" aria-describedby="tfa-recovery-gate" disabled>Continue</button>
    </div>
    <p id="tfa-recovery-gate" class="muted gate-hint">Continue becomes available once you have ticked “I have saved these codes”.</p>
  </div>

  <div data-view="done" hidden>
    <div data-slot="messages"></div>
    <p class="success" data-ref="doneText" tabindex="-1">Two-factor authentication is enabled.</p>
    <p>When you log in, you will be asked for a code from your app (whenever the server’s
      security policy requires two-factor authentication). Keep your phone safe.</p>
    <p data-ref="doneWithCodes">If you lose it, log in with one of your recovery codes in place
      of a security code (each works once), then set up your new phone here.</p>
    <p data-ref="doneWithoutCodes" hidden>If you lose it, ask your administrator to remove
      two-factor authentication for you.</p>
    <div class="actions">
      <button type="button" class="primary" data-action="back">Done</button>
    </div>
  </div>
</section>`;
