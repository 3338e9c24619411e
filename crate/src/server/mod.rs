//! The cPanel-compatible HTTP server (feature `server`).
