// The page's entry (index.html and embed.html load it as a module): it defines
// <tfa-enrollment> once. The parts are ES modules with no bundler, so a cPanel theme can copy
// www/ as it is:
//   api.js       the UAPI client: API base, calls, cPanel's envelope, ApiError
//   template.js  the element's markup
//   element.js   the element's views and wiring, over the wasm module in ./pkg
//
// apiBaseFor and TfaEnrollment stay exported here, where embedding pages (and the end-to-end
// tests) have always imported them from.

import { TfaEnrollment } from './element.js';

export { ApiError, apiBaseFor } from './api.js';
export { TfaEnrollment };

// A host page may load this twice (or define the element itself first): defining again throws.
if (!customElements.get('tfa-enrollment')) customElements.define('tfa-enrollment', TfaEnrollment);
