//! One HTTP/1.1 connection, watched: what it is doing (waiting for a request head,
//! running a request, writing an answer, idle) and so when it must be closed.
//!
//! hyper's own `header_read_timeout` starts when a keep-alive connection goes idle, so
//! it would close every idle connection after the header timeout; and it knows nothing
//! of an idle timeout. So the connection's reads and writes, the handler's start and end
//! and the answer's last byte are recorded here, and [`drive`] closes the connection at
//! the deadline they give:
//!
//! - a request head must arrive whole within the header timeout of its first byte (or
//!   of the connection being accepted), however slowly it trickles in;
//! - while a handler runs there is no deadline here (the request timeout bounds it,
//!   reading the body included);
//! - otherwise (writing an answer, or idle between requests) the connection is closed
//!   when no byte has moved for the idle timeout.

use axum::Router;
use axum::body::Bytes;
use hyper::body::Incoming;
use std::convert::Infallible;
use std::future::Future;
use std::pin::{Pin, pin};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::{Notify, watch};
use tokio::time::Instant;

/// The timeouts a connection is held to.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    /// From the first byte of a request head (or the connection opening) to its end.
    pub header: Duration,
    /// With no request running, how long no byte may move.
    pub idle: Duration,
}

/// What a connection is doing, shared by its socket, its requests and whoever may close
/// it to make room.
pub struct Activity {
    state: Mutex<State>,
    evict: Notify,
    /// Told when a request ends, so that a new connection waiting for room can look for
    /// one that has become idle.
    changed: Arc<Notify>,
}

struct State {
    /// Requests whose handler is running.
    handling: usize,
    /// Answers not yet written whole.
    answering: usize,
    /// When the request head being read started arriving.
    head_since: Option<Instant>,
    /// The last byte read or written.
    last_progress: Instant,
}

impl Activity {
    /// A connection accepted now.
    pub fn new(changed: Arc<Notify>) -> Arc<Activity> {
        let now = Instant::now();
        let state = State { handling: 0, answering: 0, head_since: Some(now), last_progress: now };
        Arc::new(Activity { state: Mutex::new(state), evict: Notify::new(), changed })
    }

    /// Since when it has been waiting for a whole request, when it is doing nothing else:
    /// reading a head, or idle. `None` while a request runs or an answer is written.
    pub fn waiting_since(&self) -> Option<Instant> {
        let s = self.state();
        (s.handling == 0 && s.answering == 0).then(|| s.head_since.unwrap_or(s.last_progress))
    }

    /// Close it as soon as it is polled (to make room for a new connection).
    pub fn evict(&self) {
        self.evict.notify_one();
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // The state is plain counters and instants, valid after any panic.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn read(&self, n: usize) {
        if n == 0 {
            return;
        }
        let now = Instant::now();
        let mut s = self.state();
        s.last_progress = now;
        if s.handling == 0 && s.answering == 0 && s.head_since.is_none() {
            s.head_since = Some(now);
        }
    }

    fn wrote(&self, n: usize) {
        if n > 0 {
            self.state().last_progress = Instant::now();
        }
    }

    /// The deadline, and whether nothing is in flight (a request or an answer).
    fn deadline(&self, timeouts: Timeouts) -> (Option<Instant>, bool) {
        let s = self.state();
        let quiet = s.handling == 0 && s.answering == 0;
        let deadline = match (s.handling, s.head_since) {
            (0, Some(since)) => Some(since + timeouts.header),
            (0, None) => Some(s.last_progress + timeouts.idle),
            _ => None,
        };
        (deadline, quiet)
    }
}

/// Why [`drive`] ended.
#[derive(Debug)]
pub enum End {
    /// The connection ended by itself (the client closed it, or keep-alive ended).
    Done(Result<(), hyper::Error>),
    /// A deadline passed: a head too slow, or no byte moved for the idle timeout.
    TimedOut,
    /// Closed to make room for a new connection.
    Evicted,
    /// Closed for shutdown with nothing in flight.
    ShutDown,
}

/// Serve `stream` with `router` until it ends, a deadline passes, it is evicted, or
/// `stop` turns true (then the request in flight, if any, is finished first).
pub async fn drive(
    stream: TcpStream,
    router: Router,
    activity: Arc<Activity>,
    timeouts: Timeouts,
    mut stop: watch::Receiver<bool>,
) -> End {
    let io = hyper_util::rt::TokioIo::new(Watched { stream, activity: activity.clone() });
    let service = Service { router, activity: activity.clone() };
    // hyper's header timeout stays off: it would cut idle keep-alive connections at the
    // header timeout (see the module comment); the deadlines below replace it.
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder.header_read_timeout(None).keep_alive(true);
    let mut conn = pin!(builder.serve_connection(io, service));
    let mut sleep = pin!(tokio::time::sleep(Duration::from_secs(365 * 86400)));
    let mut evicted = pin!(activity.evict.notified());
    let mut stopped = pin!(stop.wait_for(|stop| *stop));
    let mut stopping = false;
    std::future::poll_fn(|cx| {
        if !stopping && stopped.as_mut().poll(cx).is_ready() {
            stopping = true;
            conn.as_mut().graceful_shutdown();
        }
        if let Poll::Ready(result) = conn.as_mut().poll(cx) {
            return Poll::Ready(End::Done(result));
        }
        // Everything that moves the deadline happens while `conn` is polled, in this
        // task, so reading it after every poll is enough to keep the timer right.
        let (deadline, quiet) = activity.deadline(timeouts);
        while evicted.as_mut().poll(cx).is_ready() {
            // Chosen while it waited, but a request has started since: it stays.
            if quiet {
                return Poll::Ready(End::Evicted);
            }
            evicted.set(activity.evict.notified());
        }
        if stopping && quiet {
            return Poll::Ready(End::ShutDown);
        }
        let Some(deadline) = deadline else { return Poll::Pending };
        if sleep.deadline() != deadline {
            sleep.as_mut().reset(deadline);
        }
        sleep.as_mut().poll(cx).map(|()| End::TimedOut)
    })
    .await
}

/// The socket, recording every byte read and written.
struct Watched {
    stream: TcpStream,
    activity: Arc<Activity>,
}

impl AsyncRead for Watched {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.stream).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = polled {
            this.activity.read(buf.filled().len() - before);
        }
        polled
    }
}

impl AsyncWrite for Watched {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.stream).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = polled {
            this.activity.wrote(n);
        }
        polled
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.stream).poll_write_vectored(cx, bufs);
        if let Poll::Ready(Ok(n)) = polled {
            this.activity.wrote(n);
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}

/// The router, recording when each request's handler starts and ends.
#[derive(Clone)]
struct Service {
    router: Router,
    activity: Arc<Activity>,
}

impl hyper::service::Service<hyper::Request<Incoming>> for Service {
    type Response = hyper::Response<Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn call(&self, request: hyper::Request<Incoming>) -> Self::Future {
        let mut in_flight = InFlight::start(self.activity.clone());
        let router = self.router.clone();
        Box::pin(async move {
            use tower::ServiceExt as _;
            let Ok(response) = router.oneshot(request).await;
            in_flight.answered();
            Ok(response.map(|inner| Body { inner, _in_flight: in_flight }))
        })
    }
}

/// A request from its head to the last byte of its answer. Dropped, whether the answer
/// was written or the request abandoned (the connection closed under it), it says so.
struct InFlight {
    activity: Arc<Activity>,
    answered: bool,
}

impl InFlight {
    fn start(activity: Arc<Activity>) -> InFlight {
        {
            let mut s = activity.state();
            s.handling += 1;
            s.head_since = None;
        }
        InFlight { activity, answered: false }
    }

    fn answered(&mut self) {
        let mut s = self.activity.state();
        s.handling -= 1;
        s.answering += 1;
        self.answered = true;
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        {
            let mut s = self.activity.state();
            if self.answered {
                s.answering -= 1;
            } else {
                s.handling -= 1;
            }
            s.last_progress = Instant::now();
        }
        self.activity.changed.notify_waiters();
    }
}

/// An answer's body, holding its request in flight until hyper has taken it whole.
struct Body {
    inner: axum::body::Body,
    _in_flight: InFlight,
}

impl http_body::Body for Body {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.get_mut().inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}
