// The markup of <tfa-enrollment>: one shadow-DOM template with every view in it, hidden but
// the current one (element.js switches them). Kept apart from the behaviour so each reads alone.
//
// No words here: every text comes from the locale's catalog (i18n.js, locales/*.json).
// `data-i18n="key"` is an element's text, `data-i18n-label="key"` its aria-label; element.js
// fills them, again whenever the language changes. The QR, the key, the codes and the code
// fields stay left to right (dir="ltr") in a right-to-left language.
//
// The hooks element.js and the end-to-end tests use: data-view (one per state), data-ref (the
// nodes the code fills), data-action (the buttons), data-slot="messages" (where the live
// regions move to, so messages appear in the view that is showing), and the ids the labels and
// aria-describedby point at.

// The stylesheet sits next to this module, wherever the page that loads it lives.
export const TEMPLATE = `
<link rel="stylesheet" href="${new URL('style.css', import.meta.url)}">
<section class="card" data-ref="card" aria-labelledby="tfa-title">
  <h2 id="tfa-title" tabindex="-1" data-i18n="title"></h2>
  <p class="lead" data-i18n="lead"></p>

  <div class="messages" data-ref="messages">
    <div class="live" role="status" aria-live="polite" aria-atomic="true" data-ref="status"></div>
    <div class="alert" role="alert" aria-atomic="true" data-ref="alert" hidden></div>
    <p class="clock-warning" data-ref="clockWarning" hidden></p>
  </div>

  <div data-view="loading"><p class="muted" data-i18n="loading"></p></div>

  <div data-view="error" hidden>
    <div data-slot="messages"></div>
    <div class="actions">
      <button type="button" data-action="retry" data-i18n="retry"></button>
    </div>
  </div>

  <div data-view="status" hidden>
    <div data-slot="messages"></div>
    <p class="state" data-ref="stateText"></p>
    <div class="actions" data-ref="disabledActions" hidden>
      <button type="button" class="primary" data-action="setup" data-i18n="status.setup"></button>
    </div>
    <div class="actions" data-ref="enabledActions" hidden>
      <button type="button" data-action="reconfigure" data-i18n="status.reconfigure"></button>
      <button type="button" class="danger" data-action="ask-remove" data-i18n="status.remove"></button>
    </div>
    <div class="confirm" data-ref="removeConfirm" role="group" aria-labelledby="tfa-remove-q" hidden>
      <p id="tfa-remove-q"><strong data-i18n="status.remove_q"></strong>
        <span data-i18n="status.remove_detail"></span></p>
      <div class="actions">
        <button type="button" class="danger" data-action="remove" data-i18n="status.remove_yes"></button>
        <button type="button" data-action="cancel-remove" data-i18n="status.remove_keep"></button>
      </div>
    </div>
    <!-- Recovery codes are tfa's own (a real cPanel has none): element.js shows this block only
         when the server answers TfaRecoveryCodes::get_status. -->
    <div class="recovery-status" data-ref="recoveryStatus" hidden>
      <h3 data-i18n="codes.title"></h3>
      <p data-ref="recoveryCount"></p>
      <p class="warning" data-ref="recoveryLow" hidden></p>
      <div class="actions">
        <button type="button" data-action="ask-regenerate" data-i18n="codes.ask_new"></button>
      </div>
      <form class="confirm verify" data-ref="regenForm" aria-labelledby="tfa-regen-q" novalidate hidden>
        <p id="tfa-regen-q"><strong data-i18n="codes.new_q"></strong>
          <span data-i18n="codes.new_detail"></span></p>
        <label for="tfa-regen-code" data-i18n="codes.current_code"></label>
        <input id="tfa-regen-code" name="tfa_token" data-ref="regenCode" inputmode="numeric"
               autocomplete="one-time-code" pattern="[0-9 ]*" maxlength="9" spellcheck="false"
               dir="ltr" aria-describedby="tfa-regen-help" required>
        <p id="tfa-regen-help" class="muted" data-i18n="codes.current_code_help"></p>
        <div class="actions">
          <button type="submit" class="primary" data-ref="regenSubmit" data-i18n="codes.make"></button>
          <button type="button" data-action="cancel-regenerate" data-i18n="cancel"></button>
        </div>
      </form>
    </div>
  </div>

  <div data-view="setup" hidden>
    <div class="setup-grid">
      <figure class="qr" data-ref="qr" role="img" dir="ltr"></figure>
      <div class="steps">
        <div data-slot="messages"></div>
        <p class="warning" data-ref="reconfigureWarning" data-i18n="setup.replacing" hidden></p>
        <h3 data-i18n="setup.scan_title"></h3>
        <details data-ref="manual">
          <summary data-i18n="setup.cant_scan"></summary>
          <p class="muted" data-i18n="setup.by_hand"></p>
          <dl class="manual">
            <dt data-i18n="setup.account"></dt><dd><bdi data-ref="account"></bdi></dd>
            <dt data-i18n="setup.issuer"></dt><dd><bdi data-ref="issuer"></bdi></dd>
            <dt data-i18n="setup.key"></dt><dd><code class="key" id="tfa-manual-key" data-ref="key" dir="ltr"></code>
              <button type="button" class="small" data-action="copy" data-i18n="setup.copy" data-i18n-label="setup.copy_key"></button></dd>
          </dl>
          <p><a data-ref="otpauthLink" href="#" data-i18n="setup.open_app"></a></p>
        </details>
        <form class="verify" data-ref="form" novalidate>
          <h3 data-i18n="setup.code_title"></h3>
          <label for="tfa-code" data-i18n="setup.code_label"></label>
          <input id="tfa-code" name="tfa_token" data-ref="code" inputmode="numeric"
                 autocomplete="one-time-code" pattern="[0-9 ]*" maxlength="9" spellcheck="false"
                 dir="ltr" aria-describedby="tfa-code-help" required>
          <p id="tfa-code-help" class="muted"><span data-i18n="setup.code_help"></span>
            <span class="countdown" aria-hidden="true"><span class="bar"><span data-ref="bar"></span></span>
            <span data-ref="countdown"></span></span></p>
          <div class="actions">
            <button type="submit" class="primary" data-ref="confirm" data-i18n="setup.verify"></button>
            <button type="button" data-action="cancel-setup" data-i18n="cancel"></button>
          </div>
        </form>
      </div>
    </div>
  </div>

  <!-- Shown once, right after set-up (or after making new codes), when the server sent codes:
       they exist nowhere else in readable form, hence the gate before leaving. -->
  <div data-view="recovery" hidden>
    <h3 id="tfa-recovery-title" data-ref="recoveryTitle" tabindex="-1" data-i18n="recovery.title"></h3>
    <div data-slot="messages"></div>
    <p id="tfa-recovery-why" data-i18n="recovery.why"></p>
    <ol class="codes" data-ref="recoveryCodes" dir="ltr" aria-labelledby="tfa-recovery-title"
        aria-describedby="tfa-recovery-why"></ol>
    <div class="actions">
      <button type="button" data-action="copy-codes" data-i18n="recovery.copy" data-i18n-label="recovery.copy_label"></button>
      <button type="button" data-action="download-codes" data-i18n="recovery.download" data-i18n-label="recovery.download_label"></button>
      <button type="button" data-action="print-codes" data-i18n="recovery.print" data-i18n-label="recovery.print_label"></button>
    </div>
    <p class="check">
      <input type="checkbox" id="tfa-recovery-saved" data-ref="recoverySaved">
      <label for="tfa-recovery-saved" data-i18n="recovery.saved"></label>
    </p>
    <div class="actions">
      <button type="button" class="primary" data-action="continue-recovery"
              data-ref="continueRecovery" aria-describedby="tfa-recovery-gate" data-i18n="recovery.continue" disabled></button>
    </div>
    <p id="tfa-recovery-gate" class="muted gate-hint" data-i18n="recovery.gate"></p>
  </div>

  <div data-view="done" hidden>
    <div data-slot="messages"></div>
    <p class="success" data-ref="doneText" tabindex="-1" data-i18n="done.enabled"></p>
    <p data-i18n="done.login"></p>
    <p data-ref="doneWithCodes" data-i18n="done.with_codes"></p>
    <p data-ref="doneWithoutCodes" data-i18n="done.without_codes" hidden></p>
    <div class="actions">
      <button type="button" class="primary" data-action="back" data-i18n="done.button"></button>
    </div>
  </div>
</section>`;
