//! Driving wrk (Debian's package, installed when missing): the Lua scripts of the two
//! workloads, and the figures wrk's `done` hook prints for us in a line of its own.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

use super::seed::{CHECKLIST, ENGAGEMENT, REFER_BACK, SUBMIT};
use crate::cmd;

/// The start of the line the scripts' `done` hook prints.
const RESULT_PREFIX: &str = "xtask-wrk-result";
/// The start of the lines, one per wrk thread, that quote the first error answer it got.
const ERROR_PREFIX: &str = "xtask-wrk-error ";

/// wrk on `PATH`, installed with apt-get if missing.
pub fn find_or_install() -> Result<PathBuf> {
    if let Some(wrk) = cmd::find_in_path("wrk") {
        return Ok(wrk);
    }
    crate::apt::install("wrk", &["wrk"])?;
    cmd::find_in_path("wrk").context("wrk was installed, but is not on PATH")
}

/// How hard and how long wrk pushes.
#[derive(Clone, Copy)]
pub struct Load {
    pub threads: usize,
    pub connections: usize,
    pub seconds: u64,
}

/// What one wrk run measured.
#[derive(Debug, PartialEq)]
pub struct Outcome {
    pub requests: u64,
    pub duration_us: u64,
    pub p50_us: u64,
    pub p99_us: u64,
    pub max_us: u64,
    /// Answers with a status of 400 or more.
    pub error_statuses: u64,
    /// Connect, read and write errors, and timeouts.
    pub socket_errors: u64,
    /// The answers of 400 or more by status, e.g. `409:3,500:1` (the mixed workload
    /// counts them; empty for the read workload, which reads no answers).
    pub by_status: String,
    /// The first error answer of each wrk thread that got one: status and body.
    pub first_errors: Vec<String>,
    /// Requests built, by kind (wrk's threads count them).
    pub reads: u64,
    pub evidence: u64,
    pub transitions: u64,
}

impl Outcome {
    pub fn requests_per_second(&self) -> f64 {
        self.requests as f64 / (self.duration_us.max(1) as f64 / 1e6)
    }

    /// The `key=value` line the `done` hook printed.
    fn parse(output: &str) -> Result<Outcome> {
        let line = output
            .lines()
            .find_map(|line| line.strip_prefix(RESULT_PREFIX))
            .with_context(|| format!("wrk printed no `{RESULT_PREFIX}` line:\n{output}"))?;
        let text = |key: &str| line.split_whitespace().find_map(|pair| pair.strip_prefix(key)?.strip_prefix('='));
        let value = |key: &str| -> Result<u64> {
            let text = text(key).with_context(|| format!("no {key} in `{line}`"))?;
            text.parse().with_context(|| format!("{key}={text} in `{line}`"))
        };
        Ok(Outcome {
            requests: value("requests")?,
            duration_us: value("duration_us")?,
            p50_us: value("p50_us")?,
            p99_us: value("p99_us")?,
            max_us: value("max_us")?,
            error_statuses: value("status_errors")?,
            socket_errors: value("socket_errors")?,
            reads: value("reads")?,
            evidence: value("evidence")?,
            transitions: value("transitions")?,
            by_status: text("by_status").unwrap_or_default().to_owned(),
            first_errors: output
                .lines()
                .filter_map(|line| line.strip_prefix(ERROR_PREFIX))
                .map(str::to_owned)
                .collect(),
        })
    }
}

/// Runs wrk with `script` against `base` (e.g. `http://127.0.0.1:8080`), echoing its
/// report; what it measured, and the command line for BENCHMARKS.md.
pub fn run(wrk: &Path, script: &Path, base: &str, load: Load) -> Result<(Outcome, String)> {
    let mut command = Command::new(wrk);
    command
        .arg(format!("--threads={}", load.threads))
        .arg(format!("--connections={}", load.connections))
        .arg(format!("--duration={}s", load.seconds))
        .args(["--timeout=10s", "--latency", "--script"])
        .arg(script)
        .arg(format!("{base}/"));
    let shown = cmd::display(&command);
    eprintln!("xtask: running {shown}");
    let output = cmd::output(&mut command)?;
    eprint!("{output}");
    Ok((Outcome::parse(&output)?, shown))
}

/// Writes the script of the read workload, `GET /api/cases/{id}` with ids drawn at
/// random from `1..=cases`, into `dir`; its path.
pub fn read_script(dir: &Path, token: &str, cases: usize) -> Result<PathBuf> {
    let script = [HEADER, READ].concat().replace("@TOKEN@", token).replace("@CASES@", &cases.to_string());
    write(dir, "read.lua", &script)
}

/// Writes the script of the mixed workload into `dir`; its path. Of every ten requests
/// a wrk thread makes, eight read a random case as [`read_script`] does, one posts the
/// full checklist answers to one of the thread's `prepared` cases, and one moves another
/// of them: [`SUBMIT`] when it is in [`ENGAGEMENT`], else [`REFER_BACK`]. A thread learns
/// each case's state from the answers about it (keeping the highest `version`), and
/// passes over a case whose last move it has not yet seen done (for 10 s at most), as a
/// person would: a slow write must not let the round come back to its case and send a
/// move that no longer leaves the case's state. The prepared cases are dealt out to the
/// threads, so no two threads move the same case.
pub fn mixed_script(dir: &Path, token: &str, cases: usize, prepared: &[i64], threads: usize) -> Result<PathBuf> {
    if prepared.len() < threads {
        bail!("{} prepared cases for {threads} wrk threads", prepared.len());
    }
    let ids: Vec<String> = prepared.iter().map(i64::to_string).collect();
    let script = [HEADER, MIXED]
        .concat()
        .replace("@TOKEN@", token)
        .replace("@CASES@", &cases.to_string())
        .replace("@PREPARED@", &ids.join(", "))
        .replace("@THREADS@", &threads.to_string())
        .replace("@CHECKLIST@", CHECKLIST)
        .replace("@ENGAGEMENT@", ENGAGEMENT)
        .replace("@SUBMIT@", SUBMIT)
        .replace("@REFER_BACK@", REFER_BACK);
    write(dir, "mixed.lua", &script)
}

fn write(dir: &Path, name: &str, script: &str) -> Result<PathBuf> {
    let path = dir.join(name);
    std::fs::write(&path, script).with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}

/// What both scripts share: the token, the random ids, the counters and the `done` hook
/// that prints what xtask reads. `setup` runs in wrk's main Lua state, once per thread,
/// before the thread's `init`; `done` runs there after every thread has stopped.
const HEADER: &str = r#"-- Written by `cargo xtask bench` (xtask/src/bench/http/wrk.rs).
local cases = @CASES@
local get_headers = { ["Authorization"] = "Bearer @TOKEN@" }
local threads = {}
reads, evidence, transitions = 0, 0, 0

function setup(thread)
  thread:set("index", #threads)
  table.insert(threads, thread)
end

local function random_case()
  return wrk.format("GET", "/api/cases/" .. math.random(1, cases), get_headers)
end

function done(summary, latency, requests)
  local built = { reads = 0, evidence = 0, transitions = 0 }
  local errors = {}
  for _, thread in ipairs(threads) do
    for kind, _ in pairs(built) do built[kind] = built[kind] + thread:get(kind) end
    for code, n in string.gmatch(thread:get("statuses") or "", "(%d+):(%d+)") do
      errors[code] = (errors[code] or 0) + tonumber(n)
    end
  end
  local by_status = {}
  for code, n in pairs(errors) do table.insert(by_status, code .. ":" .. n) end
  table.sort(by_status)
  for _, thread in ipairs(threads) do
    local first = thread:get("first_error")
    if first and first ~= "" then io.write("xtask-wrk-error ", first, "\n") end
  end
  local e = summary.errors
  io.write(string.format(
    "xtask-wrk-result requests=%d duration_us=%d p50_us=%d p99_us=%d max_us=%d status_errors=%d socket_errors=%d reads=%d evidence=%d transitions=%d by_status=%s\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), latency.max,
    e.status, e.connect + e.read + e.write + e.timeout, built.reads, built.evidence, built.transitions,
    table.concat(by_status, ",")))
end
"#;

const READ: &str = r#"
function init(args)
  math.randomseed(7919 * (index + 1))
end

function request()
  reads = reads + 1
  return random_case()
end
"#;

const MIXED: &str = r#"
local prepared = { @PREPARED@ }
local post_headers = { ["Authorization"] = "Bearer @TOKEN@", ["Content-Type"] = "application/json" }
local checklist = '@CHECKLIST@'
local mine, state, version = {}, {}, {}
-- id -> { from = the state it left, at = os.time() } of a move not yet seen done
local pending = {}
local made, next_evidence, next_move = 0, 0, 0
statuses, first_error = "", ""
local counts = {}

function init(args)
  math.randomseed(7919 * (index + 1))
  for k, id in ipairs(prepared) do
    if (k - 1) % @THREADS@ == index then
      table.insert(mine, id)
      state[id], version[id] = "@ENGAGEMENT@", 0
    end
  end
  -- Half the cases apart, so that a case's evidence and its move are never in flight together.
  next_move = math.floor(#mine / 2)
end

function request()
  made = made + 1
  local slot = made % 10
  if slot < 8 then
    reads = reads + 1
    return random_case()
  elseif slot == 8 then
    evidence = evidence + 1
    next_evidence = next_evidence % #mine + 1
    return wrk.format("POST", "/api/cases/" .. mine[next_evidence] .. "/evidence", post_headers, checklist)
  end
  transitions = transitions + 1
  local id
  for _ = 1, #mine do
    next_move = next_move % #mine + 1
    id = mine[next_move]
    local p = pending[id]
    if not p or os.time() - p.at > 10 then break end
  end
  pending[id] = { from = state[id], at = os.time() }
  local move = state[id] == "@ENGAGEMENT@" and "@SUBMIT@" or "@REFER_BACK@"
  return wrk.format("POST", "/api/cases/" .. id .. "/transitions", post_headers, '{"transition":"' .. move .. '"}')
end

function response(status, headers, body)
  if status >= 400 then
    counts[status] = (counts[status] or 0) + 1
    local parts = {}
    for code, n in pairs(counts) do table.insert(parts, code .. ":" .. n) end
    statuses = table.concat(parts, ",")
    if first_error == "" then first_error = status .. " " .. body:sub(1, 300):gsub("%s+", " ") end
  end
  local id = tonumber(body:match('^{"id":(%d+),'))
  if id and state[id] then
    local seen = tonumber(body:match('"version":(%d+)'))
    if seen and seen > version[id] then
      local now = body:match('"state":"([%w_]+)"') or state[id]
      state[id], version[id] = now, seen
      if pending[id] and pending[id].from ~= now then pending[id] = nil end
    end
  end
end
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_result_line() {
        let output = "Running 10s test @ http://127.0.0.1:1/\n  2 threads and 16 connections\n\
            xtask-wrk-result requests=30000 duration_us=10000000 p50_us=4000 p99_us=17500 max_us=90000 \
            status_errors=2 socket_errors=0 reads=24000 evidence=3000 transitions=3000 by_status=409:2\n\
            xtask-wrk-error 409 {\"title\":\"Conflict\"}\n";
        let outcome = Outcome::parse(output).expect("parses");
        assert_eq!(outcome.requests, 30_000);
        assert_eq!(outcome.p99_us, 17_500);
        assert_eq!(outcome.by_status, "409:2");
        assert_eq!(outcome.first_errors, [r#"409 {"title":"Conflict"}"#]);
        assert_eq!((outcome.reads, outcome.evidence, outcome.transitions), (24_000, 3_000, 3_000));
        assert!((outcome.requests_per_second() - 3000.0).abs() < 1e-9);
        assert!(Outcome::parse("Running 10s test\n").is_err());
    }

    #[test]
    fn scripts_have_no_placeholders_left() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let read = read_script(dir.path(), "tok", 100).expect("read script");
        let mixed = mixed_script(dir.path(), "tok", 100, &[7, 8, 9, 10], 2).expect("mixed script");
        for path in [read, mixed] {
            let text = std::fs::read_to_string(path).expect("the script");
            assert!(!text.contains('@'), "{text}");
        }
        assert!(mixed_script(dir.path(), "tok", 100, &[7], 2).is_err());
    }
}
