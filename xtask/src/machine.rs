//! What the machine a benchmark ran on is: CPU model, cores, memory, compiler. Read from
//! `/proc` and `rustc`, so figures in BENCHMARKS.md can be compared knowingly.

use std::process::Command;

use anyhow::{Context, Result};

use crate::cmd;

/// The facts BENCHMARKS.md records about the machine.
pub struct Machine {
    pub cpu_model: String,
    /// What `nproc` prints: the CPUs this process may run on.
    pub cpus: usize,
    pub memory_kib: u64,
    pub rustc: String,
}

impl Machine {
    /// Reads the facts of the machine we run on.
    pub fn probe() -> Result<Machine> {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").context("reading /proc/cpuinfo")?;
        let meminfo = std::fs::read_to_string("/proc/meminfo").context("reading /proc/meminfo")?;
        let cpus = std::thread::available_parallelism().context("counting CPUs")?.get();
        Ok(Machine {
            cpu_model: cpu_model(&cpuinfo).unwrap_or("unknown").to_owned(),
            cpus,
            memory_kib: mem_total_kib(&meminfo).context("no MemTotal in /proc/meminfo")?,
            rustc: rustc_version()?,
        })
    }

    /// Total memory for people, e.g. "23.4 GiB".
    pub fn memory(&self) -> String {
        format!("{:.1} GiB", self.memory_kib as f64 / (1024.0 * 1024.0))
    }
}

/// The 1-, 5- and 15-minute load averages, from `/proc/loadavg`: how busy the machine
/// was just before a benchmark.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|text| text.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|| "unknown".to_owned())
}

/// The first `model name` in `/proc/cpuinfo`.
fn cpu_model(cpuinfo: &str) -> Option<&str> {
    cpuinfo.lines().find_map(|line| {
        let (key, value) = line.split_once(':')?;
        (key.trim() == "model name").then(|| value.trim())
    })
}

/// `MemTotal` from `/proc/meminfo`, in KiB (the kernel writes "kB" but means KiB).
fn mem_total_kib(meminfo: &str) -> Option<u64> {
    let line = meminfo.lines().find_map(|line| line.strip_prefix("MemTotal:"))?;
    line.split_whitespace().next()?.parse().ok()
}

fn rustc_version() -> Result<String> {
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    Ok(cmd::output(Command::new(rustc).arg("--version"))?.trim().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_proc_files() {
        let cpuinfo = "processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC 7B13\n";
        assert_eq!(cpu_model(cpuinfo), Some("AMD EPYC 7B13"));
        let meminfo = "MemTotal:       24567812 kB\nMemFree:        1000 kB\n";
        assert_eq!(mem_total_kib(meminfo), Some(24_567_812));
    }
}
