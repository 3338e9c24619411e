// Type declarations for app.js, the package's main entry. Importing it defines
// <tfa-enrollment> (once: a second import, or an element already defined, is left alone).

export { TfaEnrollment } from './element.js';
export type {
  TfaColorScheme,
  TfaEnabledDetail,
  TfaEnrollmentEventMap,
  TfaErrorDetail,
  TfaRecoveryCodesDetail,
  TfaRemovedDetail,
  TfaState,
  TfaStateChangeDetail,
} from './element.js';
export { ApiError, apiBaseFor } from './api.js';
