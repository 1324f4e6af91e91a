//! What the kernel counts about a run: the machine's delayed TCP acknowledgements
//! (`TcpExt: DelayedACKs` in `/proc/net/netstat`) and a process's CPU time
//! (`/proc/PID/stat`), to tell waiting on the network from working.

use anyhow::{Context, Result};

/// `TcpExt: DelayedACKs` now, machine-wide (loopback included).
pub fn delayed_acks() -> Result<u64> {
    let text = std::fs::read_to_string("/proc/net/netstat").context("reading /proc/net/netstat")?;
    netstat_field(&text, "TcpExt:", "DelayedACKs").context("no TcpExt DelayedACKs in /proc/net/netstat")
}

/// The CPU time process `pid` has used, user and system, in seconds.
pub fn cpu_seconds(pid: u32) -> Result<f64> {
    let path = format!("/proc/{pid}/stat");
    let text = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
    let ticks = stat_ticks(&text).with_context(|| format!("no utime and stime in {path}"))?;
    // USER_HZ is 100 on every Linux this runs on.
    Ok(ticks as f64 / 100.0)
}

/// The value of `field` in the `prefix` lines of `/proc/net/netstat` (a line of names,
/// then a line of values).
fn netstat_field(text: &str, prefix: &str, field: &str) -> Option<u64> {
    let mut lines = text.lines().filter(|line| line.starts_with(prefix));
    let (names, values) = (lines.next()?, lines.next()?);
    let at = names.split_whitespace().position(|name| name == field)?;
    values.split_whitespace().nth(at)?.parse().ok()
}

/// `utime + stime` from `/proc/PID/stat`: fields 14 and 15, counted after the command
/// name in parentheses (which may hold spaces).
fn stat_ticks(text: &str) -> Option<u64> {
    let after_name = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // After the name, field 3 (state) is index 0, so field 14 is index 11.
    Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_netstat_and_stat() {
        let netstat = "TcpExt: SyncookiesSent DelayedACKs Other\nTcpExt: 0 405 7\nIpExt: InNoRoutes\nIpExt: 1\n";
        assert_eq!(netstat_field(netstat, "TcpExt:", "DelayedACKs"), Some(405));
        assert_eq!(netstat_field(netstat, "IpExt:", "DelayedACKs"), None);
        let stat = "25909 (gate house) S 1 2 3 4 5 6 7 8 9 10 1234 566 0 0 20 0 18 0";
        assert_eq!(stat_ticks(stat), Some(1800));
    }
}
