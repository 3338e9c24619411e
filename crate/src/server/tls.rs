//! TLS for `tfa serve`: the certificate and key (PEM files, or a self-signed pair the server
//! makes and keeps in its data directory), and a configuration that SIGHUP reloads.
//!
//! The accept loop ([`super::listen`]) takes [`Tls::acceptor`] for each new connection, so a
//! reload changes what new connections see and leaves open ones alone. A reload that fails
//! (a missing file, a key that does not match its certificate) keeps the certificate in use.

use std::fmt;
use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::ServerConfig;
use tokio_rustls::TlsAcceptor;

/// The self-signed certificate's file in the data directory.
pub const SELF_SIGNED_CERT: &str = "tls-self-signed.crt";
/// The self-signed certificate's private key in the data directory (mode 0600).
pub const SELF_SIGNED_KEY: &str = "tls-self-signed.key";

/// Why a certificate could not be loaded or made, worded for the operator.
#[derive(Debug)]
pub struct TlsError(String);

impl fmt::Display for TlsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for TlsError {}

/// The server's TLS configuration, replaceable while connections are open.
pub struct Tls {
    cert: PathBuf,
    key: PathBuf,
    config: RwLock<Arc<ServerConfig>>,
}

impl fmt::Debug for Tls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tls")
            .field("cert", &self.cert)
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

impl Tls {
    /// Loads a PEM certificate chain (leaf first) and its PEM private key (PKCS#8, PKCS#1 or
    /// SEC1).
    pub fn from_files(cert: &Path, key: &Path) -> Result<Tls, TlsError> {
        let config = load(cert, key)?;
        Ok(Tls {
            cert: cert.to_path_buf(),
            key: key.to_path_buf(),
            config: RwLock::new(Arc::new(config)),
        })
    }

    /// The self-signed certificate kept in `dir`, made on first use (for `hostname`,
    /// `localhost` and the loopback addresses) with its key written 0600. An existing pair is
    /// reused, so clients that trusted it keep trusting it across restarts.
    pub fn self_signed(dir: &Path, hostname: &str) -> Result<Tls, TlsError> {
        let (cert, key) = (dir.join(SELF_SIGNED_CERT), dir.join(SELF_SIGNED_KEY));
        if !(cert.exists() && key.exists()) {
            make_self_signed(&cert, &key, hostname)?;
            tracing::info!(cert = %cert.display(), key = %key.display(), "made a self-signed certificate");
        }
        Tls::from_files(&cert, &key)
    }

    /// The certificate file.
    pub fn cert_path(&self) -> &Path {
        &self.cert
    }

    /// An acceptor over the configuration in force now.
    pub fn acceptor(&self) -> TlsAcceptor {
        let config = match self.config.read() {
            Ok(c) => Arc::clone(&c),
            // A writer never panics while holding the lock (it only swaps an Arc), but a
            // poisoned lock still holds a whole configuration.
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        };
        TlsAcceptor::from(config)
    }

    /// Reads the files again and, if they load, uses them for new connections.
    pub fn reload(&self) -> Result<(), TlsError> {
        let config = Arc::new(load(&self.cert, &self.key)?);
        match self.config.write() {
            Ok(mut c) => *c = config,
            Err(poisoned) => *poisoned.into_inner() = config,
        }
        Ok(())
    }
}

/// Reloads `tls` on every SIGHUP, for as long as the server runs. The handler is installed
/// before this returns (SIGHUP's default action would end the process); the loop runs in a
/// task of its own.
pub fn reload_on_hangup(tls: Arc<Tls>) -> Result<(), TlsError> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut hangups = signal(SignalKind::hangup())
        .map_err(|e| TlsError(format!("cannot listen for SIGHUP: {e}")))?;
    tokio::spawn(async move {
        while hangups.recv().await.is_some() {
            match tls.reload() {
                Ok(()) => {
                    tracing::info!(cert = %tls.cert.display(), "TLS certificate reloaded")
                }
                Err(e) => tracing::error!(
                    error = %e,
                    "TLS certificate reload failed; the previous certificate stays in use"
                ),
            }
        }
    });
    Ok(())
}

/// A server configuration from the two files: TLS 1.2 and 1.3 on ring, HTTP/1.1 only.
fn load(cert: &Path, key: &Path) -> Result<ServerConfig, TlsError> {
    let certs = CertificateDer::pem_file_iter(cert)
        .map_err(|e| {
            TlsError(format!(
                "cannot read the certificate {}: {e}",
                cert.display()
            ))
        })?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| {
            TlsError(format!(
                "cannot read the certificate {}: {e}",
                cert.display()
            ))
        })?;
    if certs.is_empty() {
        return Err(TlsError(format!(
            "no PEM certificate in {}",
            cert.display()
        )));
    }
    let private = PrivateKeyDer::from_pem_file(key).map_err(|e| {
        TlsError(format!(
            "cannot read the private key {}: {e}",
            key.display()
        ))
    })?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError(format!("TLS setup: {e}")))?
        .with_no_client_auth()
        .with_single_cert(certs, private)
        .map_err(|e| {
            TlsError(format!(
                "the certificate {} and the key {} do not make a usable pair: {e}",
                cert.display(),
                key.display()
            ))
        })?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// Makes a self-signed certificate and key and writes them: the key 0600 (created so, never
/// readable by others even for a moment), each through a temporary file renamed into place.
fn make_self_signed(cert: &Path, key: &Path, hostname: &str) -> Result<(), TlsError> {
    let mut names = vec![
        "localhost".to_owned(),
        "127.0.0.1".to_owned(),
        "::1".to_owned(),
    ];
    if !hostname.is_empty() && !names.iter().any(|n| n == hostname) {
        names.insert(0, hostname.to_owned());
    }
    let made = rcgen::generate_simple_self_signed(names)
        .map_err(|e| TlsError(format!("cannot make a self-signed certificate: {e}")))?;
    write_private(key, made.key_pair.serialize_pem().as_bytes())?;
    write_private(cert, made.cert.pem().as_bytes())?;
    Ok(())
}

/// Writes `bytes` to `path` (mode 0600) via a temporary file beside it and a rename.
fn write_private(path: &Path, bytes: &[u8]) -> Result<(), TlsError> {
    let fail = |e: std::io::Error| TlsError(format!("cannot write {}: {e}", path.display()));
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let _ = std::fs::remove_file(&tmp);
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(fail)?;
    file.write_all(bytes).map_err(fail)?;
    file.sync_all().map_err(fail)?;
    std::fs::rename(&tmp, path).map_err(fail)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn self_signed_is_made_once_0600_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let tls = Tls::self_signed(dir.path(), "tfa.test").unwrap();
        for name in [SELF_SIGNED_CERT, SELF_SIGNED_KEY] {
            let mode = std::fs::metadata(dir.path().join(name))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "{name}");
        }
        let first = std::fs::read(tls.cert_path()).unwrap();
        let again = Tls::self_signed(dir.path(), "tfa.test").unwrap();
        assert_eq!(std::fs::read(again.cert_path()).unwrap(), first);
    }

    #[test]
    fn a_failed_reload_keeps_the_old_configuration() {
        let dir = tempfile::tempdir().unwrap();
        let tls = Tls::self_signed(dir.path(), "tfa.test").unwrap();
        let before = tls.acceptor();
        std::fs::write(dir.path().join(SELF_SIGNED_CERT), "not a certificate").unwrap();
        assert!(tls.reload().is_err());
        let after = tls.acceptor();
        assert!(Arc::ptr_eq(before.config(), after.config()));
    }
}
