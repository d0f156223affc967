//! `migrate PID NODE|home|balance`: move a process of this node to another node, or home, as
//! openMosix's `migrate` did, through `MOSIX_IOC_MIGRATE` on `/dev/mosix`. Returns when the process
//! runs there. `balance` lets the load balancer place it now (it may stay) and prints
//! `PID: node N`, where it runs afterwards.
//!
//! Exit status 0 (silently) on success; 1 on failure with `migrate: PID: <strerror>[: <reason>]`
//! on stderr, the reason being the module's `cantmove` text (for example `migrate: 42: Device or
//! resource busy: multi-threaded`); 2 on bad arguments.

use std::process::ExitCode;

use clap::Parser;
use oxmosix_uapi::{self as uapi, MIGRATE_BALANCE, MIGRATE_HOME};

/// Migrate a process of this node to another node, or back home.
///
/// The process keeps its home node: there its deputy keeps its pid, parent, files and
/// credentials and serves its system calls, while it runs on NODE. migrate returns when the
/// process runs there. Moving a process needs the right to ptrace it (the kernel's
/// PTRACE_MODE_ATTACH rule) or CAP_SYS_ADMIN.
#[derive(Parser)]
#[command(name = "migrate", version = uapi::VERSION)]
struct Cli {
    /// Process id on this node (a local process, a deputy, or a guest's local pid).
    #[arg(value_parser = oxmosix_dev::parse_pid)]
    pid: i32,
    /// Target node id, "home" (also 0) to send the process back to its home node, or "balance"
    /// to let the load balancer place it now.
    #[arg(value_parser = parse_node)]
    node: i32,
}

/// `home` or `0` is [`MIGRATE_HOME`]; otherwise a node id.
fn parse_node(s: &str) -> Result<i32, String> {
    if s.eq_ignore_ascii_case("home") {
        return Ok(MIGRATE_HOME);
    }
    if s.eq_ignore_ascii_case("balance") {
        return Ok(MIGRATE_BALANCE);
    }
    match s.parse::<u32>() {
        Ok(n) if i32::try_from(n).is_ok() => Ok(n as i32),
        _ => Err(format!("{s}: not a node number or \"home\"")),
    }
}

/// The EXIT STATUS section of `migrate(1)`.
const EXIT_STATUS: &str =
    "0 (silently) on success; 1 on failure, with \"migrate: PID: ERROR[: REASON]\" \
on stderr, REASON being the module's cantmove text (for example \"migrate: 42: Device or resource \
busy: multi-threaded\"); 2 on bad arguments.";

fn main() -> ExitCode {
    let cli = oxmosix_dev::man::parse_or_man::<Cli>(EXIT_STATUS);
    let dev = match oxmosix_dev::open_device() {
        Ok(d) => d,
        Err(e) => {
            eprintln!("migrate: {e:#}");
            return ExitCode::FAILURE;
        }
    };
    if cli.node == MIGRATE_BALANCE {
        return match oxmosix_dev::balance(&dev, cli.pid) {
            Ok(n) => {
                println!("{}: node {n}", cli.pid);
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("migrate: {}: {e}", cli.pid);
                ExitCode::FAILURE
            }
        };
    }
    match oxmosix_dev::migrate(&dev, cli.pid, cli.node) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("migrate: {}: {e}", cli.pid);
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nodes() {
        assert_eq!(parse_node("home"), Ok(MIGRATE_HOME));
        assert_eq!(parse_node("HOME"), Ok(MIGRATE_HOME));
        assert_eq!(parse_node("0"), Ok(MIGRATE_HOME));
        assert_eq!(parse_node("balance"), Ok(MIGRATE_BALANCE));
        assert_eq!(parse_node("3"), Ok(3));
        assert!(parse_node("-1").is_err());
        assert!(parse_node("4294967295").is_err());
        assert!(parse_node("x").is_err());
    }

    #[test]
    fn arguments() {
        let c = Cli::try_parse_from(["migrate", "42", "home"]).unwrap();
        assert_eq!((c.pid, c.node), (42, MIGRATE_HOME));
        let c = Cli::try_parse_from(["migrate", "7", "2"]).unwrap();
        assert_eq!((c.pid, c.node), (7, 2));
        assert!(Cli::try_parse_from(["migrate", "7"]).is_err());
        assert!(Cli::try_parse_from(["migrate", "0", "2"]).is_err());
    }
}
