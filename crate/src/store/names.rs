//! Names before they reach the store: any login, address or key ([`check_name`]), and the
//! stricter rules cPanel gives account names ([`check_account_name`]).

/// Checks a user, address or issuer key before it reaches the store or a path: not empty, at
/// most 255 bytes, no `/`, no `..`, no NUL or other control characters, no spaces.
pub fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("The name is empty.".to_owned());
    }
    if name.len() > 255 {
        return Err(format!(
            "The name is {} bytes long; at most 255 are allowed.",
            name.len()
        ));
    }
    if name.contains('/') || name.contains('\\') {
        return Err("The name must not contain “/” or “\\”.".to_owned());
    }
    if name.contains("..") {
        return Err("The name must not contain “..”.".to_owned());
    }
    if name.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err("The name must not contain spaces or control characters.".to_owned());
    }
    Ok(())
}

/// The longest account name, as cPanel allows (its limit comes from MySQL user names).
pub const ACCOUNT_NAME_MAX: usize = 16;

/// Account names cPanel reserves for the system, plus the names this server gives a meaning.
///
/// cPanel's rules and list: "Reserved, Invalid, and Misconfigured Usernames" in the cPanel
/// knowledge base (<https://documentation.cpanel.net/display/CKB/Reserved%2C+Invalid%2C+and+Misconfigured+Usernames>,
/// now on docs.cpanel.net under the same title): the names in cPanel's
/// `Cpanel/Validate/Username/Core.pm` and the default mail aliases of `/etc/aliases` that
/// page lists (root's, postmaster's, news's). Names with characters an account name cannot
/// have anyway (`cpanel-ccs`, `information_schema`, `mailer-daemon`, …) are left out.
const RESERVED_ACCOUNT_NAMES: &[&str] = &[
    // Cpanel::Validate::Username::Core's list.
    "abrt",
    "all",
    "clamav",
    "cpeasyapache",
    "cphulkd",
    "cpses",
    "cptkt",
    "cpwebcalls",
    "dbus",
    "dirs",
    "dnsadmin",
    "dovecot",
    "eximstats",
    "files",
    "ftpxferlog",
    "haldaemon",
    "mailman",
    "modsec",
    "munin",
    "mydns",
    "nobody",
    "postgres",
    "postmaster",
    "proftpd",
    "root",
    "roundcube",
    "shadow",
    "spamassassin",
    "ssl",
    "sys",
    "system",
    "tcpdump",
    "tmp",
    "tomcat",
    "toor",
    "virtfs",
    "virtual",
    "webmaster",
    "whmxfer",
    // The default aliases the page lists.
    "abuse",
    "adm",
    "admin",
    "amandabackup",
    "apache",
    "bin",
    "daemon",
    "decode",
    "dumper",
    "ftp",
    "games",
    "gopher",
    "hostmaster",
    "info",
    "ingres",
    "mail",
    "manager",
    "marketing",
    "mysql",
    "named",
    "news",
    "newsadm",
    "newsadmin",
    "noc",
    "operator",
    "sales",
    "security",
    "sshd",
    "support",
    "usenet",
    "uucp",
    "wheel",
    "www",
    "xfs",
    // This server's own meanings: the interfaces, and cPanel's key of the system-wide issuer.
    "cpanel",
    "whm",
    "whostmgr",
    "webmail",
    "system_wide_issuer",
];

/// Prefixes cPanel reserves (Core.pm's `reserved_username_prefixes` that fit the rules; the
/// page names `test`).
const RESERVED_ACCOUNT_PREFIXES: &[&str] = &[
    "test", "cpanel", "cpmydns", "mydns", "cpses", "cptkt", "cpbackup",
];

/// Checks a new account name (root's, a reseller's or a cPanel user's) against cPanel's
/// username rules: lowercase letters `a-z` and digits only, a letter first, at most
/// [`ACCOUNT_NAME_MAX`] characters, and not reserved (a reserved name, a name that starts
/// with `test` or another reserved prefix, or ends with `assword`). Webmail addresses and team
/// users have their own rules; names already stored are still looked up with [`check_name`].
pub fn check_account_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("The account name is empty.".to_owned());
    }
    if RESERVED_ACCOUNT_NAMES.contains(&name) {
        return Err(format!("“{name}” is a reserved name; choose another."));
    }
    let len = name.chars().count();
    if len > ACCOUNT_NAME_MAX {
        return Err(format!(
            "The account name has {len} characters; at most {ACCOUNT_NAME_MAX} are allowed."
        ));
    }
    if !name.starts_with(|c: char| c.is_ascii_lowercase()) {
        return Err("An account name must start with a lowercase letter (a-z).".to_owned());
    }
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit()))
    {
        return Err(format!(
            "An account name may only use lowercase letters (a-z) and digits (0-9), not “{}”.",
            bad.escape_debug()
        ));
    }
    if let Some(prefix) = RESERVED_ACCOUNT_PREFIXES
        .iter()
        .find(|p| name.starts_with(*p))
    {
        return Err(format!(
            "Account names that start with “{prefix}” are reserved; choose another."
        ));
    }
    if name.ends_with("assword") {
        return Err(
            "Account names that end with “assword” are reserved; choose another.".to_owned(),
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::SYSTEM_ISSUER_KEY;

    #[test]
    fn account_names_follow_cpanels_username_rules() {
        for ok in [
            "a",
            "bob",
            "res",
            "demo",
            "user00",
            "a234567890123456",
            "abcdefghijklmnop",
            "roots",
            "mytest",
        ] {
            assert_eq!(check_account_name(ok), Ok(()), "{ok}");
        }
        for (bad, needle) in [
            ("", "empty"),
            ("Bob", "lowercase letter"),
            ("bOb", "not “O”"),
            ("1bob", "lowercase letter"),
            ("abcdefghijklmnopq", "17 characters"),
            ("bob_x", "not “_”"),
            ("bob-x", "not “-”"),
            ("bob.x", "not “.”"),
            ("bob@x", "not “@”"),
            ("bøb", "not “ø”"),
            ("root", "reserved"),
            ("all", "reserved"),
            ("cpanel", "reserved"),
            ("whm", "reserved"),
            ("admin", "reserved"),
            ("nobody", "reserved"),
            ("system_wide_issuer", "reserved"),
            ("test", "“test”"),
            ("tester", "“test”"),
            ("cpanelx", "“cpanel”"),
            ("mypassword", "“assword”"),
        ] {
            let why = check_account_name(bad).unwrap_err();
            assert!(why.contains(needle), "{bad}: {why}");
        }
        // The system-wide issuer's key is no account name, and never was one.
        assert!(check_account_name(SYSTEM_ISSUER_KEY).is_err());
        assert!(check_name(SYSTEM_ISSUER_KEY).is_err());
    }
}
