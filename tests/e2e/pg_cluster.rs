//! The throwaway PostgreSQL cluster the PostgreSQL store's tests run against: it starts as an
//! unprivileged user on a free loopback port, answers SQL, and leaves nothing behind.

use tfa_e2e::PgCluster;

#[test]
fn a_throwaway_cluster_starts_answers_and_leaves_nothing_behind() {
    let cluster = PgCluster::start();
    // Through the cluster's URL, as the tfa user.
    assert_eq!(cluster.psql("SELECT 40 + 2, current_user"), "42|tfa");
    let (dir, port) = (cluster.dir().to_path_buf(), cluster.port);
    drop(cluster);
    assert!(!dir.exists(), "{} left behind", dir.display());
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
        "still listening on {port}"
    );
}
