//! Shared helpers for the end-to-end test binary (`tests/e2e`). Empty library on purpose: the
//! tests live in the one binary.
