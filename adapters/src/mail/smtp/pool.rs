//! A small pool of open SMTP connections, so that a message does not pay for TCP, TLS,
//! EHLO and a login. At most `size` connections are open at once: a sender waits for
//! one when all are busy. A connection is only put back after a message went through
//! on it; one that failed in any way is dropped (lettre sends QUIT and marks it broken).
//! One left idle for [`IDLE_TIMEOUT`] is closed by a background task, and one idle for
//! more than [`CHECK_AFTER`] is tested with NOOP before it is used again, since the
//! server may have closed it meanwhile.

use lettre::transport::smtp::client::AsyncSmtpConnection;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};
use tokio::sync::{Semaphore, SemaphorePermit};

/// How long a connection may stay idle before it is closed.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a connection may stay idle and still be used without a NOOP first.
pub const CHECK_AFTER: Duration = Duration::from_secs(2);
/// How long the NOOP that tests an idle connection may take.
const CHECK_TIMEOUT: Duration = Duration::from_secs(5);

/// The pool.
pub struct Pool {
    busy: Semaphore,
    idle: Mutex<Vec<Idle>>,
}

struct Idle {
    conn: AsyncSmtpConnection,
    since: Instant,
}

/// The right to use a connection, held while sending.
pub struct Slot<'a> {
    _permit: SemaphorePermit<'a>,
}

impl Pool {
    /// A pool of `size` connections (at least one), and the task that closes idle ones
    /// (it ends when the pool is dropped). Call it inside the tokio runtime.
    pub fn new(size: u32) -> Arc<Pool> {
        let size = usize::try_from(size.max(1)).unwrap_or(1);
        let pool = Arc::new(Pool { busy: Semaphore::new(size), idle: Mutex::new(Vec::new()) });
        tokio::spawn(close_idle(Arc::downgrade(&pool)));
        pool
    }

    /// Wait until this task may use a connection.
    pub async fn slot(&self) -> Slot<'_> {
        Slot { _permit: self.busy.acquire().await.expect("the pool's semaphore is never closed") }
    }

    /// An idle connection that still works, if there is one. Call it holding a slot.
    pub async fn take(&self, _slot: &Slot<'_>) -> Option<AsyncSmtpConnection> {
        loop {
            let Idle { mut conn, since } = self.lock().pop()?;
            let idle = since.elapsed();
            if idle >= IDLE_TIMEOUT {
                quit(conn).await;
                continue;
            }
            if idle < CHECK_AFTER {
                return Some(conn);
            }
            if tokio::time::timeout(CHECK_TIMEOUT, conn.test_connected()).await.unwrap_or(false) {
                return Some(conn);
            }
            // Gone: dropping it closes the socket.
        }
    }

    /// Put back a connection a message just went through on.
    pub fn put(&self, conn: AsyncSmtpConnection) {
        if !conn.has_broken() {
            self.lock().push(Idle { conn, since: Instant::now() });
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Idle>> {
        // The vector is never left half-changed, so a panic elsewhere does not spoil it.
        self.idle.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Take out the connections idle for [`IDLE_TIMEOUT`] or longer.
    fn expired(&self) -> Vec<AsyncSmtpConnection> {
        let mut idle = self.lock();
        let (old, fresh): (Vec<Idle>, Vec<Idle>) = idle.drain(..).partition(|i| i.since.elapsed() >= IDLE_TIMEOUT);
        *idle = fresh;
        old.into_iter().map(|i| i.conn).collect()
    }
}

async fn close_idle(pool: Weak<Pool>) {
    let mut tick = tokio::time::interval(IDLE_TIMEOUT / 4);
    loop {
        tick.tick().await;
        let Some(pool) = pool.upgrade() else { return };
        let expired = pool.expired();
        drop(pool);
        for conn in expired {
            quit(conn).await;
        }
    }
}

/// Say goodbye, briefly; the socket closes when `conn` is dropped either way.
async fn quit(mut conn: AsyncSmtpConnection) {
    let _ = tokio::time::timeout(CHECK_TIMEOUT, conn.quit()).await;
}
