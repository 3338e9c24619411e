"""`cargo xtask bench import`: tfa import-cpanel against a Python peer on the same file.

argv: TFA_BINARY WORKDIR USERS. Writes WORKDIR/in/tfa_userdata.json with USERS entries (no
account exists for them, as on a fresh host), then runs, each in a child process so that its
peak RSS is its own (ru_maxrss of the waited child):
  - tfa import-cpanel into a new, empty store (sealed secrets, one transaction);
  - the peer: Python's json.load, then sqlite3 with WAL and synchronous=FULL, one transaction
    of INSERTs into a table keyed by username (no encryption: a floor, not a rival product).
Prints one line per run: name, seconds, peak RSS in MB.
"""
import os, subprocess, sys, time

tfa, work, users = sys.argv[1], sys.argv[2], int(sys.argv[3])
src = os.path.join(work, "in")
os.makedirs(src, exist_ok=True)
path = os.path.join(src, "tfa_userdata.json")
if not os.path.exists(path) or os.path.getsize(path) < users * 40:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
    with open(path, "w") as f:
        f.write("{")
        for i in range(users):
            n = i * 2654435761 % (1 << 64)
            secret = "".join(alphabet[(n >> (5 * k)) & 31] for k in range(16))
            f.write('%s"user%07d":{"secret":"%s"}' % ("," if i else "", i, secret))
        f.write("}")

PEER = r'''
import json, sqlite3, sys
data = json.load(open(sys.argv[1]))
db = sqlite3.connect(sys.argv[2], isolation_level=None)
db.execute("PRAGMA journal_mode=WAL")
db.execute("PRAGMA synchronous=FULL")
db.execute("CREATE TABLE tfa (username TEXT PRIMARY KEY NOT NULL, secret TEXT NOT NULL)")
db.execute("BEGIN IMMEDIATE")
db.executemany("INSERT INTO tfa VALUES (?, ?)", ((u, e["secret"]) for u, e in data.items()))
db.execute("COMMIT")
'''

def run(name, argv):
    """Runs argv; prints its wall time and its own peak RSS (wait4's rusage of that child)."""
    start = time.monotonic()
    p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    err = p.stderr.read()
    _, status, usage = os.wait4(p.pid, 0)
    secs = time.monotonic() - start
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit("%s failed: %s" % (name, err[-2000:]))
    print("%s\t%.2f\t%.0f" % (name, secs, usage.ru_maxrss / 1024), flush=True)
    return err

for attempt in range(2):
    suffix = str(attempt)
    peer_db = os.path.join(work, "peer%s.sqlite3" % suffix)
    if os.path.exists(peer_db):
        os.remove(peer_db)
    data = os.path.join(work, "tfa%s" % suffix)
    subprocess.run(["rm", "-rf", data], check=True)
    # The store exists before the import, as on a host that migrates to tfa: its creation
    # (the first accounts' argon2 hashes) is not part of the import.
    subprocess.run([tfa, "--data", data, "audit"], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    err = run("tfa", [tfa, "--data", data, "import-cpanel", src])
    run("python", [sys.executable, "-c", PEER, path, peer_db])
    if attempt == 0:
        print("stderr\t%d bytes: %s" % (len(err), err.strip()[:300]), flush=True)
