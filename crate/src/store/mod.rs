//! Persistence for the server (feature `server`).
