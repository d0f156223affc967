//! `mps`: list the processes of this node with where they run, as openMosix's `mps` did.
//!
//! Columns `PID PPID NODE HOME NMIGS STATE CMD`: PPID its parent (from `/proc/PID/stat`: at home
//! a migrated process keeps its parent), NODE the node where the process runs now, HOME its home
//! node, NMIGS how often it moved, STATE `home`, `deputy` (runs elsewhere, this task serves it),
//! `guest` (came from another home node) or `migrating`, CMD its command line (`[comm]` when it
//! has none). `--tree` orders the list as the process tree (children under their parent, CMD
//! indented as `ps --forest` does); `--children PID` lists PID and its descendants so, which
//! shows where a process's children run (those a migrated process forks run on its node).
//! Every process is asked with `MOSIX_IOC_PROCINFO`; processes that exit while being listed are
//! left out. Exit status 0, or 1 with a one-line message on stderr (for example when the module
//! is not loaded, or `--children` names no process).

use std::fs::File;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Parser;
use nix::errno::Errno;
use oxmosix_dev::Proc;
use oxmosix_uapi::{self as uapi, pstate};
use serde::Serialize;

/// List processes with their home node and the node where they run.
///
/// Columns: PID, PPID (its parent: a migrated process keeps its parent at home), NODE (where it
/// runs now), HOME (its home node), NMIGS (how often it moved), STATE (home; deputy: it runs
/// elsewhere and this task serves it; guest: it came from another home node; migrating) and CMD
/// (its command line, or [comm] without one), as openMosix's mps printed them. With --tree or
/// --children, each child is listed under its parent with its CMD indented; a process's children
/// run where it runs when it forked away from home.
#[derive(Parser)]
#[command(name = "mps", version = uapi::VERSION)]
struct Cli {
    /// Every process (the default).
    #[arg(short = 'a', long = "all", conflicts_with = "away")]
    all: bool,
    /// Only processes that are away from home (deputies) or guests here.
    #[arg(long)]
    away: bool,
    /// Order the list as the process tree (children under their parent).
    #[arg(short = 't', long)]
    tree: bool,
    /// Only PID and its descendants, as a tree: where a process's children run.
    #[arg(short = 'c', long, value_name = "PID", conflicts_with = "away")]
    children: Option<i32>,
    /// Print a JSON array instead of a table (with `--tree` or `--children`, in tree order, each
    /// with its `depth`).
    #[arg(long)]
    json: bool,
}

/// One listed process.
#[derive(Serialize)]
struct Row {
    #[serde(flatten)]
    info: Proc,
    /// Its parent's pid (0 for a process without one in this pid namespace).
    ppid: i32,
    /// Its depth in the tree printed (0 for a root; 0 without `--tree`).
    depth: usize,
    cmd: String,
}

/// The parent of `pid` (field 4 of `/proc/PID/stat`, after the command in parentheses); 0 when
/// it cannot be read.
fn ppid(pid: i32) -> i32 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    parse_ppid(&stat)
}

/// The parent's pid in a `/proc/PID/stat` line (the command may hold spaces and parentheses:
/// the fields follow its last `)`).
fn parse_ppid(stat: &str) -> i32 {
    stat.rsplit_once(')')
        .and_then(|(_, rest)| rest.split_whitespace().nth(1)?.parse().ok())
        .unwrap_or(0)
}

/// `rows` in tree order from the processes `roots` (every process whose parent is not listed,
/// when `None`): each followed by its children, ascending, depth set.
fn forest(rows: Vec<Row>, roots: Option<&[i32]>) -> Vec<Row> {
    use std::collections::{BTreeMap, BTreeSet};
    let pids: BTreeSet<i32> = rows.iter().map(|r| r.info.pid).collect();
    let mut kids: BTreeMap<i32, Vec<i32>> = BTreeMap::new();
    for r in &rows {
        kids.entry(r.ppid).or_default().push(r.info.pid);
    }
    let start: Vec<i32> = match roots {
        Some(r) => r.to_vec(),
        None => rows
            .iter()
            .filter(|r| r.ppid == r.info.pid || !pids.contains(&r.ppid))
            .map(|r| r.info.pid)
            .collect(),
    };
    let mut by_pid: BTreeMap<i32, Row> = rows.into_iter().map(|r| (r.info.pid, r)).collect();
    let mut out = Vec::new();
    let mut stack: Vec<(i32, usize)> = start.iter().rev().map(|&p| (p, 0)).collect();
    while let Some((pid, depth)) = stack.pop() {
        let Some(mut r) = by_pid.remove(&pid) else {
            continue; // listed already (a cycle cannot happen, but a pid is never shown twice)
        };
        r.depth = depth;
        out.push(r);
        if let Some(k) = kids.get(&pid) {
            stack.extend(k.iter().rev().map(|&c| (c, depth + 1)));
        }
    }
    out
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
        rows.push(Row {
            info,
            ppid: ppid(pid),
            depth: 0,
            cmd,
        });
    }
    Ok(rows)
}

fn table(rows: &[Row]) -> String {
    let mut out = format!(
        "{:>7}  {:>7}  {:>4}  {:>4}  {:>5}  {:<9}  CMD\n",
        "PID", "PPID", "NODE", "HOME", "NMIGS", "STATE"
    );
    for r in rows {
        let i = &r.info;
        let indent = if r.depth == 0 {
            String::new()
        } else {
            format!("{}\\_ ", " ".repeat(4 * (r.depth - 1) + 1))
        };
        out.push_str(&format!(
            "{:>7}  {:>7}  {:>4}  {:>4}  {:>5}  {:<9}  {}{}\n",
            i.pid, r.ppid, i.where_, i.home, i.nmigs, i.state, indent, r.cmd
        ));
    }
    out
}

fn run(cli: Cli) -> Result<()> {
    let dev = oxmosix_dev::open_device()?;
    let mut rows = collect(&dev, cli.away)?;
    if let Some(pid) = cli.children {
        if !rows.iter().any(|r| r.info.pid == pid) {
            anyhow::bail!("process {pid}: no such process");
        }
        rows = forest(rows, Some(&[pid]));
    } else if cli.tree {
        rows = forest(rows, None);
    }
    if cli.json {
        println!("{}", serde_json::to_string(&rows)?);
    } else {
        print!("{}", table(&rows));
    }
    Ok(())
}

/// The EXIT STATUS section of `mps(1)`.
const EXIT_STATUS: &str =
    "0 on success; 1 with a one-line message on stderr when the module is not \
loaded or --children names no process; 2 on bad arguments.";

fn main() -> ExitCode {
    match run(oxmosix_dev::man::parse_or_man::<Cli>(EXIT_STATUS)) {
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

    fn row(pid: i32, ppid: i32, where_: u32, cmd: &str) -> Row {
        let mut comm = [0u8; uapi::COMM_LEN];
        comm[..7].copy_from_slice(b"migrant");
        let p = uapi::ProcInfo {
            pid,
            state: if where_ == 1 {
                pstate::HOME
            } else {
                pstate::DEPUTY
            },
            home: 1,
            where_,
            nmigs: u32::from(where_ != 1),
            lock: 0,
            cantmove: 0,
            home_pid: pid,
            comm,
        };
        Row {
            info: Proc::from(&p),
            ppid,
            depth: 0,
            cmd: cmd.into(),
        }
    }

    #[test]
    fn table_layout() {
        let rows = [row(1234, 1, 2, "migrant -t 20")];
        assert_eq!(
            table(&rows),
            "    PID     PPID  NODE  HOME  NMIGS  STATE      CMD\n   1234        1     2     1      1  deputy     migrant -t 20\n"
        );
        let json = serde_json::to_string(&rows).unwrap();
        assert_eq!(
            json,
            r#"[{"pid":1234,"home_pid":1234,"state":"deputy","home":1,"where":2,"nmigs":1,"locked":false,"cantmove":0,"cantmove_reason":"","comm":"migrant","ppid":1,"depth":0,"cmd":"migrant -t 20"}]"#
        );
    }

    #[test]
    fn tree_order() {
        // 1 -> 10 -> {12 -> 20, 11}; 30 is an orphan whose parent is not listed.
        let rows = vec![
            row(1, 0, 1, "init"),
            row(10, 1, 2, "sh"),
            row(11, 10, 2, "w1"),
            row(12, 10, 2, "w2"),
            row(20, 12, 2, "w3"),
            row(30, 7, 1, "orphan"),
        ];
        let all = forest(rows, None);
        let order: Vec<(i32, usize)> = all.iter().map(|r| (r.info.pid, r.depth)).collect();
        assert_eq!(order, [(1, 0), (10, 1), (11, 2), (12, 2), (20, 3), (30, 0)]);
        let t = table(&all);
        assert!(t.contains("  deputy      \\_ sh\n"), "{t}");
        assert!(t.contains("  deputy          \\_ w1\n"), "{t}");
        assert!(t.contains("  deputy              \\_ w3\n"), "{t}");
        let sub = forest(all, Some(&[12]));
        let order: Vec<(i32, usize)> = sub.iter().map(|r| (r.info.pid, r.depth)).collect();
        assert_eq!(order, [(12, 0), (20, 1)]);
    }

    #[test]
    fn stat_parent() {
        assert_eq!(parse_ppid("42 (a) b) S 7 42 42 0"), 7);
        assert_eq!(parse_ppid("1 (init) S 0 1 1"), 0);
        assert_eq!(parse_ppid("garbage"), 0);
        assert_eq!(
            ppid(std::process::id() as i32),
            std::os::unix::process::parent_id() as i32
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
        assert_eq!(
            Cli::try_parse_from(["mps", "--children", "42"])
                .unwrap()
                .children,
            Some(42)
        );
        assert!(Cli::try_parse_from(["mps", "--children", "42", "--away"]).is_err());
        assert!(Cli::try_parse_from(["mps", "-t"]).unwrap().tree);
    }
}
