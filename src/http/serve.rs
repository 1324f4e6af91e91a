//! The accept loop. `axum::serve` has no header timeout, no idle timeout and no cap on
//! open connections, so clients that send half a request and stop could hold a file
//! descriptor each until the process ran out ("accept error: Too many open files") and
//! nothing, `/health` included, was answered. Here every connection is held to the
//! timeouts of [`super::connection`], and at most `max_connections` are open.
//!
//! At the cap, a new connection is not left in the backlog behind the slow ones: it
//! takes the place of the open connection that has waited longest for a whole request
//! (a head still arriving, or idle keep-alive), which is closed. Only when every open
//! connection is running a request or writing its answer does the new one wait (and
//! those behind it wait in the listen backlog). A client that completes its request
//! promptly therefore always gets in, however many stalled connections there are.
//!
//! On shutdown the listener is closed, connections with nothing in flight are closed,
//! and those running a request finish it (bounded by the request timeout) and close.

use super::connection::{Activity, End, Timeouts, drive};
use axum::Router;
use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use tokio::net::TcpListener;
use tokio::sync::{Notify, watch};

/// Serve `router` on `listener` until `shutdown` completes, then until the requests in
/// flight are answered.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    timeouts: Timeouts,
    max_connections: usize,
    shutdown: impl Future<Output = ()>,
) {
    let open = Arc::new(Open::default());
    let (stop, stopped) = watch::channel(false);
    let mut shutdown = std::pin::pin!(shutdown);
    let mut next_id = 0u64;
    'accept: loop {
        let stream = tokio::select! {
            () = &mut shutdown => break 'accept,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) if is_connection_error(&e) => continue,
                Err(e) => {
                    // Out of file descriptors, say: wait for some to be released
                    // rather than spin.
                    tracing::error!(error = %e, "accept error");
                    tokio::select! {
                        () = &mut shutdown => break 'accept,
                        () = tokio::time::sleep(std::time::Duration::from_secs(1)) => continue,
                    }
                }
            },
        };
        loop {
            let changed = open.changed.notified();
            let mut changed = std::pin::pin!(changed);
            // Registered before looking, so that a change after the look is not missed.
            changed.as_mut().enable();
            if open.len() < max_connections {
                break;
            }
            if let Some(victim) = open.longest_waiting() {
                victim.evict();
            }
            tokio::select! {
                () = &mut shutdown => break 'accept,
                () = changed => {}
            }
        }
        next_id += 1;
        let id = next_id;
        let activity = Activity::new(open.changed.clone());
        open.insert(id, activity.clone());
        let registered = Registered { open: open.clone(), id };
        let (router, stopped) = (router.clone(), stopped.clone());
        tokio::spawn(async move {
            let _registered = registered;
            match drive(stream, router, activity, timeouts, stopped).await {
                End::Done(Err(e)) => tracing::debug!(error = %e, "connection ended with an error"),
                End::TimedOut => tracing::debug!("connection closed: too slow or idle too long"),
                End::Evicted => tracing::debug!("connection closed to make room for a new one"),
                End::Done(Ok(())) | End::ShutDown => {}
            }
        });
    }
    drop(listener);
    let _ = stop.send(true);
    loop {
        let changed = open.changed.notified();
        let mut changed = std::pin::pin!(changed);
        changed.as_mut().enable();
        if open.len() == 0 {
            return;
        }
        changed.await;
    }
}

/// The open connections.
#[derive(Default)]
struct Open {
    connections: Mutex<HashMap<u64, Arc<Activity>>>,
    /// Told when a connection closes or a request ends.
    changed: Arc<Notify>,
}

impl Open {
    fn connections(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Arc<Activity>>> {
        self.connections.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn len(&self) -> usize {
        self.connections().len()
    }

    fn insert(&self, id: u64, activity: Arc<Activity>) {
        self.connections().insert(id, activity);
    }

    /// The connection that has waited longest for a whole request, if any is waiting.
    fn longest_waiting(&self) -> Option<Arc<Activity>> {
        let connections = self.connections();
        let waiting = connections.values().filter_map(|a| a.waiting_since().map(|since| (since, a)));
        waiting.min_by_key(|(since, _)| *since).map(|(_, a)| a.clone())
    }
}

/// A connection's place among the open ones, given up when its task ends (however it
/// ends, a panic included).
struct Registered {
    open: Arc<Open>,
    id: u64,
}

impl Drop for Registered {
    fn drop(&mut self) {
        self.open.connections().remove(&self.id);
        self.open.changed.notify_waiters();
    }
}

/// Errors about one connection that went away before it was accepted, not about the
/// listener.
fn is_connection_error(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    matches!(e.kind(), ConnectionRefused | ConnectionAborted | ConnectionReset)
}
