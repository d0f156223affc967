//! `mosrun` and `runhome`: run a program with a run mode (`MOSIX_IOC_RUNMODE`), which its
//! children inherit, as openMosix's and MOSIX's `mosrun` did.
//!
//! The tool sets the mode on itself and then executes the program (the same process): the
//! module places the program as it starts (`Documentation/migration.md`, Run modes).

use std::os::unix::process::CommandExt;
use std::process::{Command, ExitCode};

use clap::Parser;
use oxmosix_uapi::{self as uapi, node_status, run};

/// Run a program on the cluster: where it starts, and whether it and its children may move.
///
/// mosrun sets the run mode on itself and executes the program in the same process: the program
/// starts by that mode (on the best node, on a given node or one of a list, or locked at home),
/// and every child it forks and every program they execute keep it, as openMosix's and MOSIX's
/// mosrun did.
#[derive(Parser, Debug)]
#[command(name = "mosrun", version = uapi::VERSION, disable_help_flag = true)]
pub struct Cli {
    /// Home only: run here, locked (no automatic or manual moves), as `runhome`.
    #[arg(short = 'h')]
    pub home: bool,
    /// Best node: each program starts on the node where it would run fastest.
    #[arg(short = 'b')]
    pub best: bool,
    /// Start each program on node NODE.
    #[arg(short = 'r', short_alias = 'N', value_name = "NODE")]
    pub node: Option<u32>,
    /// Start on one of these nodes (comma-separated ids or ranges, e.g. 2,4-6): the least loaded
    /// that is up, chosen when mosrun starts.
    #[arg(short = 'j', value_name = "LIST", value_parser = parse_list)]
    pub list: Option<NodeList>,
    /// Locked where it starts: once on its node, no more moves.
    #[arg(short = 'l')]
    pub lock: bool,
    /// No automatic moves (the balancer leaves it; `migrate` still may move it).
    #[arg(short = 'L')]
    pub no_auto: bool,
    /// Fail instead of running here when the chosen node is not up.
    #[arg(short = 'F')]
    pub fail: bool,
    /// Print help.
    #[arg(long = "help", action = clap::ArgAction::Help)]
    pub help: Option<bool>,
    /// The program and its arguments.
    #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

/// The EXIT STATUS section of `mosrun(1)` and `runhome(1)`.
pub const EXIT_STATUS: &str = "The program's: mosrun becomes the program it runs. 1 when the mode \
cannot be set (module not loaded) or -F found no node up; 2 on bad arguments; 127 when the \
program cannot be executed.";

/// Run a program at home, locked: it and every child it forks stay on this node (openMosix's
/// runhome; mosrun -h).
#[derive(Parser, Debug)]
#[command(name = "runhome", version = uapi::VERSION)]
pub struct RunHome {
    /// The program and its arguments: run here, locked, it and its children.
    #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

impl RunHome {
    /// The same run as `mosrun -h COMMAND...`.
    pub fn as_mosrun(&self) -> Cli {
        Cli {
            home: true,
            best: false,
            node: None,
            list: None,
            lock: false,
            no_auto: false,
            fail: false,
            help: None,
            command: self.command.clone(),
        }
    }
}

/// The nodes of `-j`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeList(pub Vec<u32>);

/// `2,4-6` → `[2, 4, 5, 6]`: node ids 1..=65535, at most 256 of them.
pub fn parse_list(s: &str) -> Result<NodeList, String> {
    let mut v = Vec::new();
    for part in s.split(',') {
        let (a, b) = match part.split_once('-') {
            Some((a, b)) => (a, b),
            None => (part, part),
        };
        let (a, b) = match (a.trim().parse::<u32>(), b.trim().parse::<u32>()) {
            (Ok(a), Ok(b)) if a >= 1 && a <= b && b <= 0xffff => (a, b),
            _ => return Err(format!("{part}: not a node id or range")),
        };
        if v.len() + (b - a + 1) as usize > 256 {
            return Err(format!("{s}: more than 256 nodes"));
        }
        v.extend(a..=b);
    }
    Ok(NodeList(v))
}

/// The run mode asked for: [`run`] flags and the node (0 unless [`run::NODE`]). Errors name the
/// options that cannot go together.
pub fn mode(cli: &Cli, pick: impl Fn(&[u32]) -> Option<u32>) -> Result<(u32, u32), String> {
    let targets = usize::from(cli.home)
        + usize::from(cli.best)
        + usize::from(cli.node.is_some())
        + usize::from(cli.list.is_some());
    if targets > 1 {
        return Err("-h, -b, -r and -j choose where to run: give one".into());
    }
    let mut flags = 0;
    let mut node = 0;
    if cli.home {
        flags |= run::HOME;
    }
    if cli.best {
        flags |= run::BEST;
    }
    if let Some(n) = cli.node {
        if n == 0 || n > 0xffff {
            return Err(format!("{n}: not a node id"));
        }
        flags |= run::NODE;
        node = n;
    }
    if let Some(list) = &cli.list {
        match pick(&list.0) {
            Some(n) => {
                flags |= run::NODE;
                node = n;
            }
            None if cli.fail => return Err("none of the nodes of -j is up".into()),
            None => {}
        }
    }
    if cli.lock {
        flags |= run::LOCK;
    }
    if cli.no_auto {
        flags |= run::NOAUTO;
    }
    Ok((flags, node))
}

/// Sets the mode on this process and executes the command; returns only on failure.
pub fn run_with(cli: &Cli) -> ExitCode {
    let dev = match oxmosix_dev::open_device() {
        Ok(d) => d,
        Err(e) => {
            eprintln!("mosrun: {e:#}");
            return ExitCode::from(1);
        }
    };
    let me = oxmosix_dev::node_info(&dev, 0).map(|n| n.id).unwrap_or(0);
    let up = |n: u32| {
        n == me || oxmosix_dev::node_info(&dev, n).is_ok_and(|i| i.status & node_status::UP != 0)
    };
    // -j: the least loaded node of the list that is up.
    let pick = |list: &[u32]| {
        list.iter()
            .filter_map(|&n| {
                let i = oxmosix_dev::node_info(&dev, n).ok()?;
                (n == me || i.status & node_status::UP != 0).then_some((i.load, n))
            })
            .min()
            .map(|(_, n)| n)
    };
    let (mut flags, mut node) = match mode(cli, pick) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("mosrun: {e}");
            return ExitCode::from(2);
        }
    };
    if flags & run::NODE != 0 && node == me {
        // Here: nothing to place.
        flags &= !run::NODE;
        node = 0;
    } else if flags & run::NODE != 0 && !up(node) {
        if cli.fail {
            eprintln!("mosrun: node {node} is not up");
            return ExitCode::from(1);
        }
        eprintln!("mosrun: node {node} is not up: running here");
        flags &= !run::NODE;
        node = 0;
    }
    if let Err(e) = oxmosix_dev::set_run_mode(&dev, 0, flags, node) {
        eprintln!("mosrun: setting the run mode: {}", e.desc());
        return ExitCode::from(1);
    }
    drop(dev);
    let err = Command::new(&cli.command[0]).args(&cli.command[1..]).exec();
    eprintln!("mosrun: {}: {err}", cli.command[0]);
    ExitCode::from(127)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cli(args: &[&str]) -> Cli {
        Cli::try_parse_from(std::iter::once("mosrun").chain(args.iter().copied())).unwrap()
    }

    #[test]
    fn lists() {
        assert_eq!(parse_list("2,4-6"), Ok(NodeList(vec![2, 4, 5, 6])));
        assert_eq!(parse_list("3"), Ok(NodeList(vec![3])));
        assert!(parse_list("0").is_err());
        assert!(parse_list("5-4").is_err());
        assert!(parse_list("1-70000").is_err());
        assert!(parse_list("x").is_err());
    }

    #[test]
    fn modes() {
        let none = |_: &[u32]| None;
        assert_eq!(mode(&cli(&["-h", "ls"]), none), Ok((run::HOME, 0)));
        assert_eq!(mode(&cli(&["-b", "ls"]), none), Ok((run::BEST, 0)));
        assert_eq!(mode(&cli(&["-r", "3", "ls"]), none), Ok((run::NODE, 3)));
        assert_eq!(
            mode(&cli(&["-N", "3", "-l", "ls"]), none),
            Ok((run::NODE | run::LOCK, 3))
        );
        assert_eq!(mode(&cli(&["-L", "ls", "-x"]), none), Ok((run::NOAUTO, 0)));
        assert_eq!(
            mode(&cli(&["-j", "2-4", "ls"]), |l: &[u32]| l.last().copied()),
            Ok((run::NODE, 4))
        );
        assert!(mode(&cli(&["-j", "2", "-F", "ls"]), none).is_err());
        assert_eq!(mode(&cli(&["-j", "2", "ls"]), none), Ok((0, 0)));
        assert!(mode(&cli(&["-h", "-b", "ls"]), none).is_err());
        assert!(mode(&cli(&["-r", "0", "ls"]), none).is_err());
        let c = cli(&["-r", "2", "sh", "-c", "echo -h"]);
        assert_eq!(c.command, ["sh", "-c", "echo -h"]);
        for (f, n) in [
            (run::HOME, 0),
            (run::BEST | run::LOCK, 0),
            (run::NODE | run::NOAUTO, 9),
        ] {
            assert!(uapi::run_mode_valid(f, n));
        }
        assert!(!uapi::run_mode_valid(run::HOME | run::NODE, 2));
        assert!(!uapi::run_mode_valid(run::NODE, 0));
        assert!(!uapi::run_mode_valid(0, 3));
        assert!(!uapi::run_mode_valid(1 << 9, 0));
    }
}
