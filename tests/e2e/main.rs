//! The one end-to-end test binary.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[test]
fn core_is_linkable_from_the_e2e_package() {
    let s = tfa::core::Secret::parse("JBSWY3DPEHPK3PXP").unwrap();
    assert_eq!(tfa::core::totp::code_at(&s, 0).len(), 6);
}
