//! The reminders benchmark: due timers fired by `gatehouse serve` and their messages
//! delivered over SMTP on loopback, end to end, over SQLite.
//!
//! Run it alone with `cargo xtask bench --only mail` (add `--quick` for [`QUICK_TIMERS`]
//! timers instead of [`TIMERS`]); that prints its section instead of rewriting
//! BENCHMARKS.md.
//!
//! What it does:
//! 1. Builds the release `gatehouse` and its `seed_reminders` example.
//! 2. Seeds a fresh SQLite database in a temporary directory with `seed_reminders`:
//!    cases of the shipped `annual-code-review` workflow opened through the app services
//!    22 days ago by the app's clock, so each case's `chase_impact_evidence` reminder
//!    (three weeks after opening, to the review lead) is due at once. Not timed.
//! 3. Starts an SMTP sink (see [`sink`]) that counts what it accepts by `Message-ID`.
//! 4. Starts `gatehouse serve` over that database with `--smtp-url` set to the sink, and
//!    waits until the sink has every expected message (or nothing arrives for
//!    [`STALL`]): the time from starting the process to the last message is the figure.
//!    The server's peak resident memory (`VmHWM`) is read as it goes.
//! 5. Measures the sink's own ceiling with a client that costs next to nothing (see
//!    [`ceiling`]), so that the figure is known not to be the sink's.
//!
//! Every figure is reported whether or not the targets of the issue are met; the note
//! says which are.

mod ceiling;
mod kernel;
mod sink;

use std::collections::HashMap;
use std::process::Command;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use super::report::{mib, quoted, verdict};
use super::server::{self, Mail, Memory, Server};
use super::{Figure, Options, Section};
use crate::machine::load_average;
use crate::{cmd, project_root};
use sink::Sink;

/// Due timers in a full run, and in a `--quick` one.
const TIMERS: usize = 100_000;
const QUICK_TIMERS: usize = 1_000;
/// The timer whose messages are counted; its Message-IDs read
/// `<case.ID.VISIT.chase_impact_evidence.OCCURRENCE.review_lead@DOMAIN>`.
const TIMER: &str = "chase_impact_evidence";
/// Give up when the sink has received nothing new for this long.
const STALL: Duration = Duration::from_secs(60);
/// How often the sink's counts and the server's memory are read.
const POLL: Duration = Duration::from_millis(50);
/// How long to keep listening after the last expected message, for late duplicates.
const GRACE: Duration = Duration::from_secs(2);
/// The worker settings of `gatehouse serve` the figures are for: its defaults.
const TIMER_WORKERS: usize = 2;
const MAIL_WORKERS: usize = 4;
const SMTP_POOL: usize = 4;
/// How long the sink's ceiling is measured.
const CEILING_RUN: Duration = Duration::from_secs(5);

/// The targets.
const TARGET_RATE: f64 = 1_000.0;
const TARGET_RSS_MIB: f64 = 100.0;

/// The benchmark step: see the module documentation.
pub fn reminders(options: &Options<'_>) -> Result<Section> {
    let timers = if options.quick { QUICK_TIMERS } else { TIMERS };
    let binary = server::build()?;
    let seeder = server::build_target("example", "seed_reminders")?;

    // Declared before the server, so that the server is killed before its files go.
    let dir = tempfile::Builder::new().prefix("gatehouse-mail-bench-").tempdir().context("a temporary directory")?;
    let database_url = format!("sqlite://{}", dir.path().join("gatehouse.db").display());
    let seeding = seed(&seeder, &database_url, dir.path(), timers)?;

    let workers = Workers::from_env()?;
    let sink = Sink::start()?;
    let load_before = load_average();
    let acks_before = kernel::delayed_acks()?;
    let started = Instant::now();
    let mut server = Server::start(&binary, &database_url, dir.path(), Mail::Smtp(&sink.url()))?;
    let delivery = watch(&mut server, &sink, timers, started)?;
    let delayed_acks = kernel::delayed_acks()?.saturating_sub(acks_before);
    let complaints = server.complaints();
    let command = server
        .command()
        .replace(&format!("{}/", dir.path().display()), "DIR/")
        .replace(&sink.url(), "smtp://127.0.0.1:PORT")
        .replace(&project_root().join("workflows").display().to_string(), "workflows");
    drop(server);

    let counts = Counted::from(&sink.counts().by_id(), timers);
    let accepted = sink.counts().accepted.load(Ordering::Relaxed);
    let bytes = sink.counts().bytes.load(Ordering::Relaxed);
    let connections = sink.counts().connections.load(Ordering::Relaxed);
    drop(sink);
    let message_size = bytes.checked_div(accepted).map_or(2048, |size| size as usize);
    let pool = workers.smtp_pool;
    eprintln!("xtask: measuring the SMTP sink's own ceiling ({pool} connections, {CEILING_RUN:?} twice)");
    let ceiling = ceiling::measure(pool, message_size, CEILING_RUN, ceiling::Writes::Joined)?;
    let like_lettre = ceiling::measure(pool, message_size, CEILING_RUN, ceiling::Writes::LikeLettre)?;

    let measured = Measured {
        timers,
        workers,
        seeding,
        delivery,
        counts,
        message_size,
        connections,
        ceiling,
        like_lettre,
        delayed_acks,
    };
    Ok(Section {
        title: "Reminders: due timers delivered over SMTP by gatehouse serve over SQLite".to_owned(),
        command: Some(command),
        figures: measured.figures(),
        note: Some(measured.note(&load_before, &complaints)),
    })
}

/// The worker settings `gatehouse serve` ran with: its defaults, unless xtask's own
/// environment sets them (`GATEHOUSE_TIMER_WORKERS=… GATEHOUSE_MAIL_WORKERS=…
/// GATEHOUSE_SMTP_POOL=… cargo xtask bench --only mail`, to see how the figure scales);
/// the server inherits that environment.
struct Workers {
    timer_tasks: usize,
    mail_tasks: usize,
    smtp_pool: usize,
    /// Whether they are the defaults.
    defaults: bool,
}

impl Workers {
    fn from_env() -> Result<Workers> {
        let read = |name: &str, default: usize| -> Result<usize> {
            match std::env::var(name) {
                Ok(value) => value.trim().parse().with_context(|| format!("{name}={value:?} is not a number")),
                Err(_) => Ok(default),
            }
        };
        let timer_tasks = read("GATEHOUSE_TIMER_WORKERS", TIMER_WORKERS)?;
        let mail_tasks = read("GATEHOUSE_MAIL_WORKERS", MAIL_WORKERS)?;
        let smtp_pool = read("GATEHOUSE_SMTP_POOL", SMTP_POOL)?.max(1);
        let defaults = (timer_tasks, mail_tasks, smtp_pool) == (TIMER_WORKERS, MAIL_WORKERS, SMTP_POOL);
        Ok(Workers { timer_tasks, mail_tasks, smtp_pool, defaults })
    }
}

/// How long seeding took.
struct Seeding {
    elapsed: Duration,
}

/// Runs `seed_reminders` on a fresh database.
fn seed(seeder: &std::path::Path, database_url: &str, dir: &std::path::Path, timers: usize) -> Result<Seeding> {
    let mut command = Command::new(seeder);
    command
        .arg(database_url)
        .arg(project_root().join("workflows"))
        .arg(dir.join("data"))
        .arg(timers.to_string())
        .env("RUST_LOG", "warn");
    eprintln!("xtask: seeding {timers} due reminders: {}", cmd::display(&command));
    let started = Instant::now();
    let printed = cmd::output(&mut command)?;
    if printed.trim() != format!("seeded {timers}") {
        bail!("seed_reminders printed {printed:?}, not `seeded {timers}`");
    }
    Ok(Seeding { elapsed: started.elapsed() })
}

/// What was seen while the server delivered.
struct Delivery {
    /// From starting the server to the last expected message (or to giving up).
    elapsed: Duration,
    /// From starting the server to the first message.
    first: Option<Duration>,
    /// Whether every expected message arrived.
    complete: bool,
    /// The server's memory: the largest sample, and the last.
    peak: Memory,
    /// The CPU time the server used, user and system, to the last message, in seconds.
    cpu: f64,
}

/// Waits until the sink has `timers` distinct reminders, the server dies, or nothing
/// arrives for [`STALL`]; then listens [`GRACE`] longer for duplicates.
fn watch(server: &mut Server, sink: &Sink, timers: usize, started: Instant) -> Result<Delivery> {
    let reminder = |id: &str| id.contains(&format!(".{TIMER}."));
    let mut peak = server.memory()?;
    let (mut first, mut last_count, mut last_progress) = (None, 0, Instant::now());
    let mut cpu = kernel::cpu_seconds(server.pid())?;
    let mut reported = 0;
    let complete = loop {
        server.check_alive()?;
        let memory = server.memory()?;
        peak = Memory { rss_kib: peak.rss_kib.max(memory.rss_kib), peak_kib: peak.peak_kib.max(memory.peak_kib) };
        let count = sink.counts().distinct(reminder);
        if count > 0 && first.is_none() {
            first = Some(started.elapsed());
        }
        if count >= timers {
            break true;
        }
        cpu = kernel::cpu_seconds(server.pid())?;
        if count != last_count {
            (last_count, last_progress) = (count, Instant::now());
        }
        if last_progress.elapsed() > STALL {
            eprintln!("xtask: nothing new for {STALL:?}: {count} of {timers} reminders arrived");
            break false;
        }
        if count * 10 / timers > reported {
            reported = count * 10 / timers;
            eprintln!("xtask:   {count} of {timers} reminders after {:.1} s", started.elapsed().as_secs_f64());
        }
        std::thread::sleep(POLL);
    };
    let elapsed = started.elapsed();
    if complete {
        cpu = kernel::cpu_seconds(server.pid())?;
    }
    std::thread::sleep(GRACE);
    server.check_alive()?;
    let memory = server.memory()?;
    peak = Memory { rss_kib: peak.rss_kib.max(memory.rss_kib), peak_kib: peak.peak_kib.max(memory.peak_kib) };
    Ok(Delivery { elapsed, first, complete, peak, cpu })
}

/// The sink's counts, sorted out.
struct Counted {
    /// Distinct reminders received.
    distinct: usize,
    /// Reminders received more than once, counted once per extra copy.
    duplicated: u64,
    /// Expected reminders that did not arrive.
    lost: usize,
    /// Other messages (a schedule's, say), which are not counted above.
    others: u64,
}

impl Counted {
    fn from(by_id: &HashMap<String, u32>, timers: usize) -> Counted {
        let marker = format!(".{TIMER}.");
        let (mut distinct, mut duplicated, mut others) = (0, 0, 0);
        for (id, times) in by_id {
            if id.contains(&marker) {
                distinct += 1;
                duplicated += u64::from(times.saturating_sub(1));
            } else {
                others += u64::from(*times);
            }
        }
        Counted { distinct, duplicated, lost: timers.saturating_sub(distinct), others }
    }
}

/// Everything the step measured.
struct Measured {
    timers: usize,
    workers: Workers,
    seeding: Seeding,
    delivery: Delivery,
    counts: Counted,
    message_size: usize,
    connections: u64,
    ceiling: ceiling::Ceiling,
    like_lettre: ceiling::Ceiling,
    /// Delayed TCP acknowledgements on the machine during delivery.
    delayed_acks: u64,
}

impl Measured {
    /// Distinct reminders a second, from starting the server to the last one.
    fn rate(&self) -> f64 {
        self.counts.distinct as f64 / self.delivery.elapsed.as_secs_f64().max(1e-9)
    }

    /// The same, from the first message to the last (without the server's start-up).
    fn steady_rate(&self) -> Option<f64> {
        let first = self.delivery.first?;
        let span = self.delivery.elapsed.checked_sub(first)?.as_secs_f64();
        (span > 0.0).then(|| self.counts.distinct.saturating_sub(1) as f64 / span)
    }

    /// The server's CPU time over the time it took, as a share of one CPU.
    fn cpu_share(&self) -> f64 {
        self.delivery.cpu / self.delivery.elapsed.as_secs_f64().max(1e-9)
    }

    /// The server's CPU time per message received, in seconds.
    fn cpu_per_message(&self) -> f64 {
        self.delivery.cpu / self.counts.distinct.max(1) as f64
    }

    /// Delayed TCP acknowledgements on the machine per message received.
    fn acks_per_message(&self) -> f64 {
        self.delayed_acks as f64 / self.counts.distinct.max(1) as f64
    }

    fn peak_kib(&self) -> u64 {
        self.delivery.peak.peak_kib.max(self.delivery.peak.rss_kib)
    }

    fn figures(&self) -> Vec<Figure> {
        let figure = |name: &str, value: String, unit: &str| Figure {
            name: format!("mail/{name}"),
            value,
            unit: unit.to_owned(),
        };
        let seeding_rate = self.timers as f64 / self.seeding.elapsed.as_secs_f64().max(1e-9);
        let mut figures = vec![
            figure("timers due at start", self.timers.to_string(), "timers"),
            figure("seeding (app services, not timed below)", format!("{seeding_rate:.0}"), "cases/s"),
            figure("delivered end to end", format!("{:.0}", self.rate()), "messages/s"),
            figure("time to deliver all", format!("{:.1}", self.delivery.elapsed.as_secs_f64()), "s"),
        ];
        if let Some(first) = self.delivery.first {
            figures.push(figure("first message after start", format!("{:.2}", first.as_secs_f64()), "s"));
        }
        if let Some(steady) = self.steady_rate() {
            figures.push(figure("delivered, first to last message", format!("{steady:.0}"), "messages/s"));
        }
        figures.extend([
            figure("received (distinct reminders)", self.counts.distinct.to_string(), "messages"),
            figure("lost", self.counts.lost.to_string(), "messages"),
            figure("duplicated", self.counts.duplicated.to_string(), "messages"),
            figure("other messages", self.counts.others.to_string(), "messages"),
            figure("server RSS peak (VmHWM)", mib(self.peak_kib()), "MiB"),
            figure("server CPU time to the last message", format!("{:.1}", self.delivery.cpu), "s"),
            figure("server CPU use", format!("{:.0}", self.cpu_share() * 100.0), "%_of_one_CPU"),
            figure("server CPU time per message", format!("{:.2}", self.cpu_per_message() * 1000.0), "ms"),
            figure("delayed TCP ACKs per message", format!("{:.2}", self.acks_per_message()), "ACKs"),
            figure("average message size", self.message_size.to_string(), "bytes"),
            figure("SMTP connections opened", self.connections.to_string(), "connections"),
            figure(
                &format!("sink ceiling, {} connections", self.workers.smtp_pool),
                format!("{:.0}", self.ceiling.per_second()),
                "messages/s",
            ),
            figure(
                &format!("sink, {} connections writing as lettre does", self.workers.smtp_pool),
                format!("{:.0}", self.like_lettre.per_second()),
                "messages/s",
            ),
        ]);
        figures
    }

    /// The targets met or missed, and how the figures were taken.
    fn note(&self, load_before: &str, complaints: &[String]) -> String {
        let rate = self.rate();
        let rate_met = rate >= TARGET_RATE && self.delivery.complete;
        let none_lost = self.counts.lost == 0;
        let none_duplicated = self.counts.duplicated == 0;
        let peak_mib = self.peak_kib() as f64 / 1024.0;
        let rss_met = peak_mib < TARGET_RSS_MIB;
        let cpus = std::thread::available_parallelism().map_or(0, usize::from);
        let timers = self.timers;
        let paragraphs = [
            format!(
                "Targets (from the issue, for 100000 timers due at once):\n\n\
                 - None lost: **{}** ({} of {timers} reminders never arrived{}).\n\
                 - None duplicated: **{}** ({} extra copies).\n\
                 - At least {TARGET_RATE:.0} messages/s end to end: **{}** ({rate:.0} messages/s: {} reminders in \
                 {:.1} s from starting `gatehouse serve` to the last message arriving).\n\
                 - The server's memory under {TARGET_RSS_MIB:.0} MB while doing it: **{}** (VmHWM {} MiB; MB read \
                 as MiB).",
                verdict(none_lost),
                self.counts.lost,
                if self.delivery.complete { String::new() } else { format!("; nothing new arrived for {STALL:?}") },
                verdict(none_duplicated),
                self.counts.duplicated,
                verdict(rate_met),
                self.counts.distinct,
                self.delivery.elapsed.as_secs_f64(),
                verdict(rss_met),
                mib(self.peak_kib()),
            ),
            format!(
                "Machine: {cpus} CPUs, shared with other work while this ran (load average {load_before} just \
                 before); the SMTP sink runs on the same CPUs as the server."
            ),
            format!(
                "Seeding, not timed: {timers} cases of the shipped `annual-code-review` workflow opened by the \
                 `seed_reminders` example through the app services (each its own committed transaction and audit \
                 event) on a clock set 22 days back, so that every case's `{TIMER}` reminder (three weeks after \
                 opening, to the review lead; one user holds the role) is due when the server starts. All of them \
                 are real timers of real cases in a fresh SQLite database."
            ),
            format!(
                "Delivery: the release binary, `gatehouse serve` with {} workers ({} timer tasks, {} outbox tasks, a \
                 pool of {} SMTP connections), JSON logs with `RUST_LOG={}`. Its scheduler claims \
                 the due timers under a lease, 16 at a time, fires each through the engine (the decision re-arms \
                 the weekly reminder and queues its message in the same transaction), and its dispatcher claims \
                 the queued messages under a lease, 16 at a time, renders each, sends it with lettre over \
                 connections Gatehouse opens with `TCP_NODELAY`, and marks the batch sent. The clock starts before \
                 the process is spawned (migrations, publishing the workflows and start-up are inside the figure) \
                 and stops when the sink holds every expected Message-ID; it then listens {GRACE:?} more for late \
                 duplicates. Memory is `VmHWM` from `/proc/PID/status`, read every {POLL:?} and at the end.",
                if self.workers.defaults { "its default" } else { "non-default (set in the environment)" },
                self.workers.timer_tasks,
                self.workers.mail_tasks,
                self.workers.smtp_pool,
                server::RUST_LOG
            ),
            format!(
                "The SMTP sink is xtask's own (Rust, a thread per connection, no pipelining): it answers \
                 EHLO/MAIL/RCPT/DATA/RSET/NOOP/QUIT and counts each accepted message by its `Message-ID` (the \
                 outbox's idempotency key and the role). Its ceiling, measured afterwards with a client that talks \
                 as lettre's pool does (NOOP, MAIL, RCPT, DATA, the message: one round trip each) over {pool} \
                 connections with messages of the average size seen ({} bytes), was {:.0} messages/s, so the sink \
                 is not what limits the figure. The same client writing as lettre 0.11 does (the message, then its \
                 terminating `.` line in a second write, on a socket without `TCP_NODELAY`) got {:.0} messages/s: \
                 Nagle's algorithm holds the terminator until the message is acknowledged, and the receiving kernel \
                 delays that acknowledgement (up to 40 ms), once per message per connection.",
                self.message_size,
                self.ceiling.per_second(),
                self.like_lettre.per_second(),
                pool = self.workers.smtp_pool,
            ),
            if rate_met { String::new() } else { self.limits() },
            format!(
                "The server logged {} warnings or errors{}.",
                complaints.len(),
                complaints.first().map(|line| format!("; the first: `{}`", quoted(line))).unwrap_or_default()
            ),
        ];
        paragraphs.iter().filter(|p| !p.is_empty()).cloned().collect::<Vec<_>>().join("\n\n")
    }

    /// What limits the rate, from what was measured, and what would lift it.
    fn limits(&self) -> String {
        if self.acks_per_message() < 0.5 {
            return self.limits_without_stalls();
        }
        let pool = self.workers.smtp_pool;
        let cpus = std::thread::available_parallelism().map_or(1, usize::from);
        format!(
            "What limits it: the server mostly waits. It used {:.0}% of one CPU while delivering, and the \
             machine counted {:.2} delayed TCP acknowledgements per message. lettre 0.11 writes each message and \
             then its terminating `.` line in a second write, on a socket without `TCP_NODELAY`: Nagle's algorithm \
             holds the terminator until the message is acknowledged, and the receiving kernel delays that \
             acknowledgement by up to 40 ms, so each of the {pool} pooled connections delivers a few dozen \
             messages a second at most, whatever the database and the CPUs do. The sink's own client writing that \
             way got {:.0} messages/s over {pool} connections, against {:.0} writing each message in one piece. \
             What would lift it: `TCP_NODELAY` on Gatehouse's SMTP connections (lettre has no setting for it; \
             Gatehouse can open the socket itself with tokio, set `nodelay`, and hand it to lettre's \
             `AsyncSmtpConnection::connect_with_transport`, keeping a small pool of its own), or lettre writing \
             the terminator with the message. Until then, more connections (`GATEHOUSE_SMTP_POOL` with as many \
             `GATEHOUSE_MAIL_WORKERS`) raise the rate, but not far: the server also spent {:.1} ms of CPU per \
             message, which caps {cpus} CPUs near {:.0} messages/s even without the stall. A perf profile of this \
             step puts most of that time in SQLite through sqlx-sqlite (a thread hand-off per statement, \
             statements parsed and prepared again, the scheduling that goes with it) and little in the engine, \
             the templates or lettre; each message costs about five committed transactions (`synchronous=FULL`): \
             the timer's claim, the decision that fires it, the release of the claim, the message's claim and its \
             mark as sent. Claiming timers and messages in batches and skipping the release of a fired timer \
             (its row is already gone) would cut that to about two, without weakening at-least-once delivery.",
            self.cpu_share() * 100.0,
            self.acks_per_message(),
            self.like_lettre.per_second(),
            self.ceiling.per_second(),
            self.cpu_per_message() * 1000.0,
            cpus as f64 / self.cpu_per_message().max(1e-9),
        )
    }
}

impl Measured {
    /// What limits the rate when messages no longer wait for delayed acknowledgements
    /// (Gatehouse's SMTP connections have `TCP_NODELAY`), from the perf profile of
    /// this step taken with the figures.
    fn limits_without_stalls(&self) -> String {
        let cpus = std::thread::available_parallelism().map_or(1, usize::from);
        format!(
            "What limits it: the database path, one statement at a time. The server used {:.0}% of one CPU \
             ({:.2} ms of CPU per message, which would cap {cpus} CPUs near {:.0} messages/s) and the machine \
             counted {:.2} delayed TCP acknowledgements per message: Gatehouse's SMTP connections have \
             `TCP_NODELAY`, so messages no longer wait for them. A perf profile of this step puts about half \
             of the server's samples in sqlx-sqlite's worker threads and much of the rest in handing each \
             statement to them and back (context switches), in statements prepared again each time and in \
             the `fsync` of each commit (`synchronous=FULL`); the engine, the templates and lettre take a few \
             per cent. SQLite takes one writer at a time. Each message costs two loads of its case (one \
             statement each: for the decision that fires its timer, and for the message), the decision's \
             writes, and a share of one commit: the timers claimed together (16) are decided one by one and \
             committed in one transaction, and the messages claimed together are marked sent together. What \
             would lift it: rendering a message from the snapshot its decision produced instead of loading the \
             case again, and a SQLite driver that runs statements on the calling thread.",
            self.cpu_share() * 100.0,
            self.cpu_per_message() * 1000.0,
            cpus as f64 / self.cpu_per_message().max(1e-9),
            self.acks_per_message(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reminders_are_told_from_other_messages() {
        let by_id = HashMap::from([
            ("<case.1.1.chase_impact_evidence.1.review_lead@localhost>".to_owned(), 1),
            ("<case.2.1.chase_impact_evidence.1.review_lead@localhost>".to_owned(), 3),
            ("<schedule.annual-code-review.x.pcg@localhost>".to_owned(), 1),
        ]);
        let counted = Counted::from(&by_id, 3);
        assert_eq!((counted.distinct, counted.duplicated, counted.lost, counted.others), (2, 2, 1, 1));
    }
}
