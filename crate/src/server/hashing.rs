//! Password hashing, bounded: argon2id costs 19 MiB and tens of milliseconds per hash, so an
//! unauthenticated client must not be able to start as many as it likes.
//!
//! - **Admission**: at most [`Hasher::workers`] hashes run at a time (one per core by
//!   default) and [`Hasher::queue`] more requests wait for a turn (by default 32 per worker,
//!   at least 64: waiting costs no hashing memory, and 32 turns are well under a second of
//!   an optimised build, so fifty honest clients logging in at once still get in).
//!   [`Hasher::admit`] refuses the request beyond that at once, without waiting, with
//!   [`ApiError::Busy`] (503 and `Retry-After`).
//! - **Clients that leave cost nothing more**: a turn is awaited in async code, so a request
//!   whose client has gone (its future dropped) never takes one; the blocking job checks that
//!   its result is still wanted before it starts hashing.
//! - **Memory returns to its baseline**: each turn hashes in one of a fixed set of reusable
//!   memory blocks (one per worker, allocated on first use and kept), not in a fresh 19 MiB
//!   allocation per hash that the allocator may never give back.
//!
//! The hash is checked here, against the PHC string's own parameters and salt, and compared in
//! constant time. A name that matches nobody is hashed all the same ([`Memory::verify`] with
//! no stored hash), so both cost the same.

use std::sync::{Arc, Mutex};

use argon2::password_hash::{Output, ParamsString, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use subtle::ConstantTimeEq;
use tokio::sync::{oneshot, OwnedSemaphorePermit, Semaphore};
use zeroize::Zeroizing;

use super::error::ApiError;

/// Requests that may wait for a turn, per worker: bounds the wait (about this many hash
/// times, 15 to 30 ms each in an optimised build), not the memory (a waiting request holds
/// none of the hashing memory).
pub const QUEUE_PER_WORKER: usize = 32;
/// Requests that may wait for a turn at least, however few the workers.
pub const MIN_QUEUE: usize = 64;
/// Hashes at a time at most, whatever the core count: bounds the memory kept (19 MiB each).
pub const MAX_WORKERS: usize = 16;
/// What `Retry-After` says to a request refused for lack of room: a turn lasts well under a
/// second, so the queue has moved on by then.
pub const BUSY_RETRY_SECS: u64 = 1;
/// The most memory a stored hash may ask for (256 MiB, in 1 KiB blocks); a hash that asks
/// for more never verifies rather than let one row take the server's memory.
const MAX_BLOCKS: usize = 256 * 1024;
/// The salt of the hash run for names that match nobody (its result is thrown away).
const DUMMY_SALT: &[u8] = b"tfa-dummy-salt!!";

/// The bounded hashing service. Cheap to clone; clones share the turns and the memory.
#[derive(Clone)]
pub struct Hasher {
    inner: Arc<Inner>,
}

struct Inner {
    workers: usize,
    queue: usize,
    /// Requests admitted: running plus waiting.
    admitted: Arc<Semaphore>,
    /// Hashes running.
    running: Arc<Semaphore>,
    /// Memory for the running hashes, reused from one hash to the next.
    memory: Mutex<Vec<Memory>>,
}

impl std::fmt::Debug for Hasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hasher")
            .field("workers", &self.inner.workers)
            .field("queue", &self.inner.queue)
            .finish()
    }
}

impl Hasher {
    /// `workers` hashes at a time (1 to [`MAX_WORKERS`]) and `queue` requests waiting.
    pub fn new(workers: usize, queue: usize) -> Hasher {
        let workers = workers.clamp(1, MAX_WORKERS);
        Hasher {
            inner: Arc::new(Inner {
                workers,
                queue,
                admitted: Arc::new(Semaphore::new(workers.saturating_add(queue))),
                running: Arc::new(Semaphore::new(workers)),
                memory: Mutex::new(Vec::new()),
            }),
        }
    }

    /// One worker per core (at most [`MAX_WORKERS`]).
    pub fn default_workers() -> usize {
        std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .min(MAX_WORKERS)
    }

    /// The default queue for `workers`: [`QUEUE_PER_WORKER`] each, at least [`MIN_QUEUE`].
    pub fn default_queue(workers: usize) -> usize {
        workers.saturating_mul(QUEUE_PER_WORKER).max(MIN_QUEUE)
    }

    /// The default: one worker per core and [`Hasher::default_queue`] waiting.
    pub fn for_this_machine() -> Hasher {
        let workers = Hasher::default_workers();
        Hasher::new(workers, Hasher::default_queue(workers))
    }

    /// Hashes at a time.
    pub fn workers(&self) -> usize {
        self.inner.workers
    }

    /// Requests that may wait for a turn.
    pub fn queue(&self) -> usize {
        self.inner.queue
    }

    /// A place among the running and waiting requests, or [`ApiError::Busy`] at once when
    /// there is none. Take it before any other work for the password (a refused request
    /// costs nothing).
    pub fn admit(&self) -> Result<Ticket, ApiError> {
        match self.inner.admitted.clone().try_acquire_owned() {
            Ok(admitted) => Ok(Ticket {
                hasher: self.clone(),
                admitted,
            }),
            Err(_) => Err(ApiError::Busy {
                retry_secs: BUSY_RETRY_SECS,
            }),
        }
    }

    /// Memory sets kept for reuse (at most one per worker).
    pub fn pooled_memory(&self) -> usize {
        self.inner.memory.lock().map_or(0, |m| m.len())
    }

    fn take_memory(&self) -> Memory {
        self.inner
            .memory
            .lock()
            .ok()
            .and_then(|mut pool| pool.pop())
            .unwrap_or_default()
    }

    fn return_memory(&self, memory: Memory) {
        if let Ok(mut pool) = self.inner.memory.lock() {
            // Never more than one per worker: a set beyond that (none is made) is freed.
            if pool.len() < self.inner.workers {
                pool.push(memory);
            }
        }
    }
}

/// An admitted request's place. Dropping it (the client has gone) gives the place back.
pub struct Ticket {
    hasher: Hasher,
    admitted: OwnedSemaphorePermit,
}

impl Ticket {
    /// Waits for a hashing turn. Awaited in the request's future: a request dropped while it
    /// waits never takes one.
    pub async fn turn(self) -> Result<Turn, ApiError> {
        let Ticket { hasher, admitted } = self;
        let running = hasher
            .inner
            .running
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| ApiError::Internal("the password hashing turns are closed".to_owned()))?;
        Ok(Turn {
            hasher,
            admitted,
            running,
        })
    }
}

/// A hashing turn: one of the workers, held until the hash is done.
pub struct Turn {
    hasher: Hasher,
    admitted: OwnedSemaphorePermit,
    running: OwnedSemaphorePermit,
}

impl Turn {
    /// Runs `work` on the blocking pool with the turn's memory, then gives the turn (and the
    /// memory) back and runs `then` on the same thread with `Some` result. If nobody waits
    /// for the answer any more when the job starts (the client has gone), the work is skipped
    /// and `then` gets `None`. `then` runs either way, even if the caller goes meanwhile, so
    /// that what it records is never lost.
    pub async fn run<H, T>(
        self,
        work: impl FnOnce(&mut Memory) -> H + Send + 'static,
        then: impl FnOnce(Option<H>) -> T + Send + 'static,
    ) -> Result<T, ApiError>
    where
        H: Send + 'static,
        T: Send + 'static,
    {
        let Turn {
            hasher,
            admitted,
            running,
        } = self;
        let (tx, rx) = oneshot::channel();
        tokio::task::spawn_blocking(move || {
            let result = if tx.is_closed() {
                // Nobody waits for the answer any more: skip the work.
                None
            } else {
                let mut memory = hasher.take_memory();
                let result = work(&mut memory);
                hasher.return_memory(memory);
                Some(result)
            };
            drop(running);
            let answer = then(result);
            drop(admitted);
            let _ = tx.send(answer);
        });
        rx.await
            .map_err(|_| ApiError::Internal("the password check did not finish".to_owned()))
    }
}

/// The memory of one hash (1 KiB blocks), grown to what a hash asks for and then reused.
#[derive(Default)]
pub struct Memory {
    blocks: Vec<Block>,
}

impl Memory {
    /// Blocks for one hash of `count` blocks, allocated only when the set is too small.
    fn blocks(&mut self, count: usize) -> Option<&mut [Block]> {
        if count > MAX_BLOCKS {
            return None;
        }
        if self.blocks.len() < count {
            self.blocks = vec![Block::default(); count];
        }
        self.blocks.get_mut(..count)
    }

    /// Checks `password` against a stored PHC string, with the string's own algorithm,
    /// version, parameters and salt; the outputs are compared in constant time. With no
    /// stored hash (a name that matches nobody) the same work is done against a fixed salt
    /// and the answer is false.
    pub fn verify(&mut self, stored: Option<&str>, password: &[u8]) -> bool {
        match stored {
            Some(phc) => self.verify_phc(phc, password).unwrap_or(false),
            None => {
                let mut out = Zeroizing::new([0u8; Params::DEFAULT_OUTPUT_LEN]);
                let params = Params::default();
                if let Some(blocks) = self.blocks(params.block_count()) {
                    let _ = Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
                        .hash_password_into_with_memory(password, DUMMY_SALT, &mut out[..], blocks);
                }
                false
            }
        }
    }

    fn verify_phc(&mut self, phc: &str, password: &[u8]) -> Option<bool> {
        let parsed = PasswordHash::new(phc).ok()?;
        let expected = parsed.hash?;
        let algorithm = Algorithm::try_from(parsed.algorithm).ok()?;
        let version = match parsed.version {
            Some(v) => Version::try_from(v).ok()?,
            None => Version::default(),
        };
        let params = Params::try_from(&parsed).ok()?;
        let mut salt_buf = [0u8; 64];
        let salt = parsed.salt?.decode_b64(&mut salt_buf).ok()?;
        let mut out = Zeroizing::new(vec![0u8; expected.len()]);
        let blocks = self.blocks(params.block_count())?;
        Argon2::new(algorithm, version, params)
            .hash_password_into_with_memory(password, salt, &mut out[..], blocks)
            .ok()?;
        Some(out.as_slice().ct_eq(expected.as_bytes()).into())
    }

    /// A new argon2id hash (PHC string, default parameters) of `password` with `salt`.
    pub fn hash(&mut self, password: &[u8], salt: &SaltString) -> Result<String, ApiError> {
        let fail = |e: &dyn std::fmt::Display| ApiError::Internal(format!("password hash: {e}"));
        let params = Params::default();
        let mut salt_buf = [0u8; 64];
        let salt_bytes = salt
            .as_salt()
            .decode_b64(&mut salt_buf)
            .map_err(|e| fail(&e))?;
        let mut out = Zeroizing::new([0u8; Params::DEFAULT_OUTPUT_LEN]);
        let blocks = self
            .blocks(params.block_count())
            .ok_or_else(|| fail(&"too much memory"))?;
        Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone())
            .hash_password_into_with_memory(password, salt_bytes, &mut out[..], blocks)
            .map_err(|e| fail(&e))?;
        let phc = PasswordHash {
            algorithm: Algorithm::Argon2id.ident(),
            version: Some(Version::V0x13.into()),
            params: ParamsString::try_from(&params).map_err(|e| fail(&e))?,
            salt: Some(salt.as_salt()),
            hash: Some(Output::new(&out[..]).map_err(|e| fail(&e))?),
        };
        Ok(phc.to_string())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use argon2::password_hash::{PasswordHasher, PasswordVerifier};

    fn salt() -> SaltString {
        SaltString::encode_b64(b"0123456789abcdef").unwrap()
    }

    #[test]
    fn hashes_agree_with_the_argon2_crate_both_ways() {
        let mut memory = Memory::default();
        let ours = memory.hash(b"correct horse", &salt()).unwrap();
        let theirs = Argon2::default()
            .hash_password(b"correct horse", &salt())
            .unwrap()
            .to_string();
        assert_eq!(ours, theirs);
        assert!(Argon2::default()
            .verify_password(b"correct horse", &PasswordHash::new(&ours).unwrap())
            .is_ok());
        assert!(memory.verify(Some(&theirs), b"correct horse"));
        assert!(!memory.verify(Some(&theirs), b"correct horsf"));
        assert!(!memory.verify(None, b"correct horse"));
        assert!(!memory.verify(Some("not a hash"), b"x"));
        // A hash with other parameters is checked with its own.
        let light = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(1024, 1, 1, None).unwrap(),
        )
        .hash_password(b"pw", &salt())
        .unwrap()
        .to_string();
        assert!(memory.verify(Some(&light), b"pw"));
        assert!(!memory.verify(Some(&light), b"pW"));
        // A stored hash that asks for more memory than allowed never verifies.
        let greedy = light.replace("m=1024", &format!("m={}", MAX_BLOCKS + 1));
        assert!(!memory.verify(Some(&greedy), b"pw"));
    }

    #[tokio::test]
    async fn beyond_the_queue_requests_are_refused_at_once() {
        let hasher = Hasher::new(1, 2);
        let tickets: Vec<Ticket> = (0..3).map(|_| hasher.admit().unwrap()).collect();
        match hasher.admit() {
            Err(ApiError::Busy { retry_secs }) => assert_eq!(retry_secs, BUSY_RETRY_SECS),
            Err(e) => panic!("{e:?}"),
            Ok(_) => panic!("a fourth request was admitted"),
        }
        drop(tickets);
        let turn = hasher.admit().unwrap().turn().await.unwrap();
        let verdict = turn
            .run(|m: &mut Memory| m.verify(None, b"x"), |verdict| verdict)
            .await
            .unwrap();
        assert_eq!(verdict, Some(false));
        // One worker, one memory set kept for the next hash.
        assert_eq!(hasher.pooled_memory(), 1);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_request_that_leaves_while_waiting_never_hashes() {
        let hasher = Hasher::new(1, 4);
        let ran = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        // Hold the one turn so that the next request waits.
        let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
        let first = hasher.admit().unwrap().turn().await.unwrap();
        let holder = tokio::spawn(first.run(
            move |_m: &mut Memory| {
                let _ = release_rx.recv();
            },
            |_| (),
        ));
        let counter = ran.clone();
        let ticket = hasher.admit().unwrap();
        let waiting = async move {
            let turn = ticket.turn().await.unwrap();
            turn.run(
                move |_m: &mut Memory| {
                    counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                },
                |_| (),
            )
            .await
        };
        // The client goes away while its request waits for a turn.
        let gone = tokio::time::timeout(std::time::Duration::from_millis(50), waiting).await;
        assert!(gone.is_err());
        release_tx.send(()).unwrap();
        holder.await.unwrap().unwrap();
        // Its place was given back, and its work never ran.
        let tickets: Vec<Ticket> = (0..5).map(|_| hasher.admit().unwrap()).collect();
        assert_eq!(tickets.len(), 5);
        assert_eq!(ran.load(std::sync::atomic::Ordering::SeqCst), 0);
    }
}
