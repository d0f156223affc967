//! `/dev/mosix` for the oxmosix tools (`mosctl`, `migrate`, `mps`): opening the device with the
//! tools' common "module not loaded" message, and the process requests of the ioctl ABI
//! (`MOSIX_IOC_MIGRATE`, `MOSIX_IOC_PROCINFO`, `MOSIX_IOC_LOCK`, `MOSIX_IOC_RUNMODE`,
//! `MOSIX_IOC_NODEINFO`) as safe functions.

use std::fs::File;
use std::os::fd::AsRawFd;

use anyhow::{bail, Context, Result};
use nix::errno::Errno;
use oxmosix_uapi::{self as uapi, pstate};
use serde::Serialize;

nix::ioctl_readwrite_bad!(ioc_migrate, uapi::MOSIX_IOC_MIGRATE, uapi::MigrateReq);
nix::ioctl_readwrite_bad!(ioc_procinfo, uapi::MOSIX_IOC_PROCINFO, uapi::ProcInfo);
nix::ioctl_readwrite_bad!(ioc_bench, uapi::MOSIX_IOC_BENCH, uapi::BenchReq);
nix::ioctl_write_ptr_bad!(ioc_lock, uapi::MOSIX_IOC_LOCK, uapi::ProcLock);
nix::ioctl_write_ptr_bad!(ioc_runmode, uapi::MOSIX_IOC_RUNMODE, uapi::RunMode);
nix::ioctl_readwrite_bad!(ioc_nodeinfo, uapi::MOSIX_IOC_NODEINFO, uapi::NodeInfo);

/// Opens the control device; a missing device means the module is not loaded.
pub fn open_device() -> Result<File> {
    match File::open(uapi::MOSIX_DEVICE) {
        Ok(f) => Ok(f),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            bail!(
                "{} not found: the oxmosix module is not loaded (insmod oxmosix.ko)",
                uapi::MOSIX_DEVICE
            )
        }
        Err(e) => Err(e).with_context(|| format!("cannot open {}", uapi::MOSIX_DEVICE)),
    }
}

/// A failed `MOSIX_IOC_MIGRATE`: the error number and the module's [`uapi::cantmove`] reason
/// (0 when it gave none).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MigrateError {
    /// What the ioctl returned.
    pub errno: Errno,
    /// [`uapi::cantmove`] code written back by the module.
    pub reason: u32,
}

impl std::fmt::Display for MigrateError {
    /// `strerror[: reason text]`, e.g. `Device or resource busy: multi-threaded`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.errno.desc())?;
        if self.reason != uapi::cantmove::NONE {
            write!(f, ": {}", uapi::cantmove_str(self.reason))?;
        }
        Ok(())
    }
}

impl std::error::Error for MigrateError {}

/// Migrates process `pid` (of this node) to `node`, or home with [`uapi::MIGRATE_HOME`]; returns
/// when it runs there.
pub fn migrate(dev: &File, pid: i32, node: i32) -> std::result::Result<(), MigrateError> {
    migrate_req(dev, pid, node).map(|_| ())
}

/// Lets the balancer place process `pid` now ([`uapi::MIGRATE_BALANCE`]); returns the node it
/// runs on afterwards (this node's id if it stays).
pub fn balance(dev: &File, pid: i32) -> std::result::Result<i32, MigrateError> {
    migrate_req(dev, pid, uapi::MIGRATE_BALANCE)
}

fn migrate_req(dev: &File, pid: i32, node: i32) -> std::result::Result<i32, MigrateError> {
    let mut req = uapi::MigrateReq {
        pid,
        node,
        reason: 0,
        pad: 0,
    };
    // SAFETY: `dev` is an open descriptor and `req` a valid, writable MigrateReq, the structure
    // the request number encodes.
    match unsafe { ioc_migrate(dev.as_raw_fd(), &mut req) } {
        Ok(_) => Ok(req.node),
        Err(errno) => Err(MigrateError {
            errno,
            reason: req.reason,
        }),
    }
}

/// `MOSIX_IOC_PROCINFO` of process `pid` of this node.
pub fn procinfo(dev: &File, pid: i32) -> nix::Result<uapi::ProcInfo> {
    let mut p = uapi::ProcInfo {
        pid,
        ..Default::default()
    };
    // SAFETY: valid descriptor and a valid, writable ProcInfo.
    unsafe { ioc_procinfo(dev.as_raw_fd(), &mut p) }?;
    Ok(p)
}

/// Locks (`true`) or unlocks process `pid` at home.
pub fn lock(dev: &File, pid: i32, on: bool) -> nix::Result<()> {
    let l = uapi::ProcLock {
        pid,
        lock: u32::from(on),
    };
    // SAFETY: valid descriptor and a valid ProcLock.
    unsafe { ioc_lock(dev.as_raw_fd(), &l) }?;
    Ok(())
}

/// Sets the run mode ([`uapi::run`] flags, and the node of [`uapi::run::NODE`]) of process `pid`
/// (0: the caller) and of the children it will have (`MOSIX_IOC_RUNMODE`).
pub fn set_run_mode(dev: &File, pid: i32, flags: u32, node: u32) -> nix::Result<()> {
    let r = uapi::RunMode { pid, flags, node };
    // SAFETY: valid descriptor and a valid RunMode.
    unsafe { ioc_runmode(dev.as_raw_fd(), &r) }?;
    Ok(())
}

/// `MOSIX_IOC_NODEINFO` of node `id` (its status flags, load, speed, CPUs, memory).
pub fn node_info(dev: &File, id: u32) -> nix::Result<uapi::NodeInfo> {
    let mut n = uapi::NodeInfo {
        id,
        ..Default::default()
    };
    // SAFETY: valid descriptor and a valid, writable NodeInfo.
    unsafe { ioc_nodeinfo(dev.as_raw_fd(), &mut n) }?;
    Ok(n)
}

/// `MOSIX_IOC_BENCH`: a raw transfer to `node` measured by the module; returns nanoseconds.
pub fn bench(dev: &File, mut q: uapi::BenchReq) -> nix::Result<u64> {
    // SAFETY: valid descriptor and a valid, writable BenchReq.
    unsafe { ioc_bench(dev.as_raw_fd(), &mut q) }?;
    Ok(q.ns)
}

/// Name of a [`pstate`] value: `home`, `deputy`, `guest`, `migrating` (`unknown` otherwise).
pub fn state_str(state: u32) -> &'static str {
    match state {
        pstate::HOME => "home",
        pstate::DEPUTY => "deputy",
        pstate::GUEST => "guest",
        pstate::MIGRATING => "migrating",
        _ => "unknown",
    }
}

/// A [`uapi::ProcInfo`] as the tools print it with `--json`.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Proc {
    /// Process id on this node.
    pub pid: i32,
    /// Process id at its home node.
    pub home_pid: i32,
    /// [`state_str`] of the state.
    pub state: &'static str,
    /// Home node id.
    pub home: u32,
    /// Node where it runs now.
    #[serde(rename = "where")]
    pub where_: u32,
    /// Migrations so far.
    pub nmigs: u32,
    /// Locked at home.
    pub locked: bool,
    /// [`uapi::cantmove`] code (0: it can move).
    pub cantmove: u32,
    /// [`uapi::cantmove_str`] of `cantmove`.
    pub cantmove_reason: &'static str,
    /// Task name.
    pub comm: String,
}

impl From<&uapi::ProcInfo> for Proc {
    fn from(p: &uapi::ProcInfo) -> Self {
        Proc {
            pid: p.pid,
            home_pid: p.home_pid,
            state: state_str(p.state),
            home: p.home,
            where_: p.where_,
            nmigs: p.nmigs,
            locked: p.lock != 0,
            cantmove: p.cantmove,
            cantmove_reason: uapi::cantmove_str(p.cantmove),
            comm: String::from_utf8_lossy(
                &p.comm[..p.comm.iter().position(|&c| c == 0).unwrap_or(p.comm.len())],
            )
            .into_owned(),
        }
    }
}

/// Parses a process id argument (a positive number).
pub fn parse_pid(s: &str) -> std::result::Result<i32, String> {
    match s.parse::<i32>() {
        Ok(p) if p > 0 => Ok(p),
        _ => Err(format!("{s}: not a process id")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrate_error_text() {
        let e = MigrateError {
            errno: Errno::EBUSY,
            reason: uapi::cantmove::THREADS,
        };
        assert_eq!(e.to_string(), "Device or resource busy: multi-threaded");
        let e = MigrateError {
            errno: Errno::ESRCH,
            reason: 0,
        };
        assert_eq!(e.to_string(), "No such process");
    }

    #[test]
    fn proc_from_info() {
        let mut comm = [0u8; uapi::COMM_LEN];
        comm[..3].copy_from_slice(b"cat");
        let p = Proc::from(&uapi::ProcInfo {
            pid: 5,
            state: pstate::GUEST,
            home: 1,
            where_: 2,
            nmigs: 1,
            lock: 0,
            cantmove: uapi::cantmove::NONE,
            home_pid: 99,
            comm,
        });
        assert_eq!(p.state, "guest");
        assert_eq!(p.comm, "cat");
        assert!(!p.locked);
        assert_eq!(state_str(17), "unknown");
    }

    #[test]
    fn pids() {
        assert_eq!(parse_pid("42"), Ok(42));
        assert!(parse_pid("0").is_err());
        assert!(parse_pid("-3").is_err());
        assert!(parse_pid("x").is_err());
    }
}

/// Manual pages of the tools, made from their own argument definitions (`clap_mangen`), so the
/// pages cannot drift from what the tools accept. `make man` (scripts/man.sh) runs each tool
/// with `--man-page` as its only argument and checks the result with groff.
pub mod man {
    use std::io::Write;

    use clap::{CommandFactory, Parser};

    /// The tools that have a manual page (section 1).
    pub const TOOLS: [&str; 5] = ["mosctl", "migrate", "mps", "mosrun", "runhome"];

    /// Escapes `text` for roff: backslashes, and a `.` or `'` that would start a request.
    fn roff(text: &str) -> String {
        text.lines()
            .map(|l| {
                let l = l.replace('\\', "\\e");
                if l.starts_with('.') || l.starts_with('\'') {
                    format!("\\&{l}")
                } else {
                    l
                }
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// The manual page of the tool whose arguments `C` defines (section 1): name, synopsis,
    /// description, options, commands, version from clap; `EXIT STATUS` from `exit_status`;
    /// `SEE ALSO` the other tools and the project's documentation.
    pub fn page<C: CommandFactory>(exit_status: &str) -> std::io::Result<Vec<u8>> {
        let cmd = C::command();
        let name = cmd.get_name().to_string();
        let subcommands = cmd.has_subcommands();
        let man = clap_mangen::Man::new(cmd);
        let mut out = Vec::new();
        man.render_title(&mut out)?;
        man.render_name_section(&mut out)?;
        man.render_synopsis_section(&mut out)?;
        man.render_description_section(&mut out)?;
        man.render_options_section(&mut out)?;
        if subcommands {
            man.render_subcommands_section(&mut out)?;
        }
        writeln!(out, ".SH \"EXIT STATUS\"\n{}", roff(exit_status))?;
        let others: Vec<String> = TOOLS
            .iter()
            .filter(|t| **t != name)
            .map(|t| format!(".BR {t} (1)"))
            .collect();
        writeln!(
            out,
            ".SH \"SEE ALSO\"\n{}\n.PP\nDocumentation/ioctl.md, Documentation/proc-hpc.md and \
             Documentation/migration.md in the oxmosix sources.",
            others.join(",\n")
        )?;
        man.render_version_section(&mut out)?;
        Ok(out)
    }

    /// The parsed command line of the tool `C` defines; with `--man-page` as its only argument,
    /// prints the tool's manual page ([`page`]) instead and exits (status 0, or 1 when it cannot
    /// be written).
    pub fn parse_or_man<C: Parser>(exit_status: &str) -> C {
        let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
        if args.len() == 2 && args[1] == "--man-page" {
            let ok = page::<C>(exit_status)
                .and_then(|p| std::io::stdout().write_all(&p))
                .is_ok();
            std::process::exit(if ok { 0 } else { 1 });
        }
        C::parse()
    }
}

#[cfg(test)]
mod man_tests {
    use super::man;

    /// A tool with an option, a positional argument and a description.
    #[derive(clap::Parser)]
    #[command(name = "mps", version = "9.9")]
    struct Tool {
        /// Only these.
        #[arg(long)]
        away: bool,
        /// The process.
        pid: Option<i32>,
    }

    #[test]
    fn page_has_its_sections() {
        let p =
            String::from_utf8(man::page::<Tool>("0 on success;\n.2 on \\ bad").unwrap()).unwrap();
        for s in [
            ".TH mps",
            ".SH NAME",
            ".SH SYNOPSIS",
            ".SH OPTIONS",
            ".SH \"EXIT STATUS\"",
            ".SH \"SEE ALSO\"",
            ".SH VERSION",
        ] {
            assert!(p.contains(s), "{s} missing in\n{p}");
        }
        // The other tools, not itself; text that would start a request is escaped.
        assert!(p.contains(".BR mosctl (1)") && !p.contains(".BR mps (1)"));
        assert!(p.contains("\\&.2 on \\e bad"));
        assert!(!p.contains("SUBCOMMANDS"));
    }
}
