//! `mps`: list the processes of this node with where they run, as openMosix's `mps` did.
//!
//! Columns `PID NODE HOME NMIGS STATE CMD`: NODE is the node where the process runs now, HOME its
//! home node, NMIGS how often it moved, STATE `home`, `deputy` (runs elsewhere, this task serves
//! it), `guest` (came from another home node) or `migrating`, CMD its command line (`[comm]` when
//! it has none). Every process is asked with `MOSIX_IOC_PROCINFO`; processes that exit while
//! being listed are left out. Exit status 0, or 1 with a one-line message on stderr (for example
//! when the module is not loaded).

use std::fs::File;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Parser;
use nix::errno::Errno;
use oxmosix_dev::Proc;
use oxmosix_uapi::{self as uapi, pstate};
use serde::Serialize;

/// List processes with their home node and the node where they run.
#[derive(Parser)]
#[command(name = "mps", version = uapi::VERSION)]
struct Cli {
    /// Every process (the default).
    #[arg(short = 'a', long = "all", conflicts_with = "away")]
    all: bool,
    /// Only processes that are away from home (deputies) or guests here.
    #[arg(long)]
    away: bool,
    /// Print a JSON array instead of a table.
    #[arg(long)]
    json: bool,
}

/// One listed process.
#[derive(Serialize)]
struct Row {
    #[serde(flatten)]
    info: Proc,
    cmd: String,
}

/// The process ids in /proc, ascending.
fn pids() -> Result<Vec<i32>> {
    let mut out: Vec<i32> = std::fs::read_dir("/proc")
        .context("cannot list /proc")?
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .filter(|&p: &i32| p > 0)
        .collect();
    out.sort_unstable();
    Ok(out)
}

/// The command line of `pid`, arguments separated by spaces; `[comm]` if it has none.
fn cmdline(pid: i32, comm: &str) -> String {
    let raw = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let args: Vec<String> = raw
        .split(|&b| b == 0)
        .filter(|a| !a.is_empty())
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    if args.is_empty() {
        format!("[{comm}]")
    } else {
        args.join(" ")
    }
}

/// PROCINFO and command line of every process (only deputies and guests if `away`), skipping
/// those that exit meanwhile.
fn collect(dev: &File, away: bool) -> Result<Vec<Row>> {
    let mut rows = Vec::new();
    for pid in pids()? {
        let p = match oxmosix_dev::procinfo(dev, pid) {
            Ok(p) => p,
            Err(Errno::ESRCH) => continue,
            Err(e) => anyhow::bail!("process {pid}: {}", e.desc()),
        };
        if away && p.state != pstate::DEPUTY && p.state != pstate::GUEST {
            continue;
        }
        let info = Proc::from(&p);
        let cmd = cmdline(pid, &info.comm);
        rows.push(Row { info, cmd });
    }
    Ok(rows)
}

fn table(rows: &[Row]) -> String {
    let mut out = format!(
        "{:>7}  {:>4}  {:>4}  {:>5}  {:<9}  CMD\n",
        "PID", "NODE", "HOME", "NMIGS", "STATE"
    );
    for r in rows {
        let i = &r.info;
        out.push_str(&format!(
            "{:>7}  {:>4}  {:>4}  {:>5}  {:<9}  {}\n",
            i.pid, i.where_, i.home, i.nmigs, i.state, r.cmd
        ));
    }
    out
}

fn run(cli: Cli) -> Result<()> {
    let dev = oxmosix_dev::open_device()?;
    let rows = collect(&dev, cli.away)?;
    if cli.json {
        println!("{}", serde_json::to_string(&rows)?);
    } else {
        print!("{}", table(&rows));
    }
    Ok(())
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mps: {e:#}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_layout() {
        let mut comm = [0u8; uapi::COMM_LEN];
        comm[..7].copy_from_slice(b"migrant");
        let p = uapi::ProcInfo {
            pid: 1234,
            state: pstate::DEPUTY,
            home: 1,
            where_: 2,
            nmigs: 1,
            lock: 0,
            cantmove: 0,
            home_pid: 1234,
            comm,
        };
        let rows = [Row {
            info: Proc::from(&p),
            cmd: "migrant -t 20".into(),
        }];
        assert_eq!(
            table(&rows),
            "    PID  NODE  HOME  NMIGS  STATE      CMD\n   1234     2     1      1  deputy     migrant -t 20\n"
        );
        let json = serde_json::to_string(&rows).unwrap();
        assert_eq!(
            json,
            r#"[{"pid":1234,"home_pid":1234,"state":"deputy","home":1,"where":2,"nmigs":1,"locked":false,"cantmove":0,"cantmove_reason":"","comm":"migrant","cmd":"migrant -t 20"}]"#
        );
    }

    #[test]
    fn own_command_line() {
        let me = std::process::id() as i32;
        assert!(pids().unwrap().contains(&me));
        assert!(!cmdline(me, "x").starts_with('['));
        assert_eq!(cmdline(i32::MAX, "gone"), "[gone]");
    }

    #[test]
    fn options() {
        assert!(Cli::try_parse_from(["mps", "-a", "--away"]).is_err());
        assert!(
            Cli::try_parse_from(["mps", "--away", "--json"])
                .unwrap()
                .away
        );
        assert!(!Cli::try_parse_from(["mps"]).unwrap().away);
    }
}
