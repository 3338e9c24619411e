// The browser half of `cargo xtask bench browser`, bundled by esbuild into dist/bench.js (the
// npm peers inlined; tfa's page module imported as served, from /pkg/). It times each
// operation in batches with performance.now() (a batch, because Chromium coarsens the clock
// to 100 µs and one op is shorter), takes the median batch, and leaves the figures in
// `window.benchResult` for xtask to read through WebDriver.
import QRCode from 'qrcode';
import { generate, correction } from 'lean-qr';
import { toSvgSource } from 'lean-qr/extras/svg';
import * as OTPAuth from 'otpauth';
import init, { qrSvg, verifyCode } from '/pkg/tfa.js';

const BATCHES = 15;

// Median microseconds per op of `f`, run `perBatch` times per batch after one warm-up batch.
function time(perBatch, f) {
  for (let i = 0; i < perBatch; i++) f();
  const per = [];
  for (let b = 0; b < BATCHES; b++) {
    const t0 = performance.now();
    for (let i = 0; i < perBatch; i++) f();
    per.push(((performance.now() - t0) * 1000) / perBatch);
  }
  per.sort((a, b) => a - b);
  return per[BATCHES >> 1];
}

async function run() {
  const q = new URLSearchParams(location.search);
  const uri = q.get('uri');
  const secret = q.get('secret');
  const now = Number(q.get('now'));
  const token = q.get('token');
  await init();

  // Each producer once, checked, with the size of what it makes.
  const svgs = {
    tfa: qrSvg(uri),
    qrcode: (() => {
      let out = '';
      QRCode.toString(uri, { type: 'svg', errorCorrectionLevel: 'M' }, (e, s) => {
        if (e) throw e;
        out = s;
      });
      return out;
    })(),
    leanqr: toSvgSource(
      generate(uri, { minCorrectionLevel: correction.M, maxCorrectionLevel: correction.M }),
    ),
  };
  const sink = [];
  const qr = {
    tfa: time(50, () => sink.push(qrSvg(uri).length)),
    qrcode: time(50, () =>
      QRCode.toString(uri, { type: 'svg', errorCorrectionLevel: 'M' }, (e, s) =>
        sink.push(s.length),
      ),
    ),
    leanqr: time(50, () =>
      sink.push(
        toSvgSource(
          generate(uri, { minCorrectionLevel: correction.M, maxCorrectionLevel: correction.M }),
        ).length,
      ),
    ),
  };

  // Both verifiers parse the base32 secret on each call and check ±1 step around `now`
  // (the code given is the current step's, as at a login).
  const tfaOk = verifyCode(secret, token, now, 1);
  const otp = () =>
    new OTPAuth.TOTP({ secret: OTPAuth.Secret.fromBase32(secret) }).validate({
      token,
      timestamp: now * 1000,
      window: 1,
    });
  const verify = {
    tfa: time(2000, () => sink.push(verifyCode(secret, token, now, 1))),
    otpauth: time(2000, () => sink.push(otp())),
  };
  return {
    qr_us: qr,
    svg_bytes: Object.fromEntries(
      Object.entries(svgs).map(([k, v]) => [k, new TextEncoder().encode(v).length]),
    ),
    verify_us: verify,
    checks: { tfa_verify: tfaOk, otpauth_delta: otp(), sink: sink.length },
    user_agent: navigator.userAgent,
  };
}

run().then(
  (r) => (window.benchResult = r),
  (e) => (window.benchResult = { error: String(e && e.stack ? e.stack : e) }),
);
