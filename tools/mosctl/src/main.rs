//! `mosctl`: administer the oxmosix node it runs on through `/dev/mosix`.
//!
//! Exit status: 0 on success, 1 on any error (module absent, request refused, bad arguments),
//! with a one-line message on standard error.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use oxmosix_uapi as uapi;
use serde::Serialize;

nix::ioctl_read_bad!(ioc_version, uapi::MOSIX_IOC_VERSION, uapi::VersionInfo);

/// Administer the oxmosix node this runs on (through /dev/mosix).
#[derive(Parser)]
#[command(name = "mosctl", version = uapi::VERSION)]
struct Cli {
    /// Print machine-readable JSON instead of text.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Print the version of the running oxmosix module.
    Version,
}

/// Output of `mosctl version`.
#[derive(Serialize)]
struct Version {
    release: String,
    version: String,
    abi: u32,
}

/// Opens the control device; a missing device means the module is not loaded.
fn open_device() -> Result<File> {
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

fn version(json: bool) -> Result<()> {
    let dev = open_device()?;
    let mut v = uapi::VersionInfo {
        abi: 0,
        major: 0,
        minor: 0,
        patch: 0,
        release: [0; uapi::RELEASE_LEN],
    };
    // SAFETY: `dev` is an open descriptor and `v` a valid, writable VersionInfo, the exact
    // structure the request's size encodes.
    unsafe { ioc_version(dev.as_raw_fd(), &mut v) }
        .context("VERSION ioctl on /dev/mosix failed")?;
    let out = Version {
        release: v
            .release_str()
            .context("module returned a non-UTF-8 release text")?
            .to_string(),
        version: format!("{}.{}.{}", v.major, v.minor, v.patch),
        abi: v.abi,
    };
    if json {
        println!("{}", serde_json::to_string(&out)?);
    } else {
        println!("{} (ioctl ABI {})", out.release, out.abi);
    }
    if v.abi != uapi::MOSIX_ABI_VERSION {
        bail!(
            "module speaks ioctl ABI {}, this mosctl speaks {}",
            v.abi,
            uapi::MOSIX_ABI_VERSION
        );
    }
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let r = match cli.cmd {
        Cmd::Version => version(cli.json),
    };
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mosctl: {e:#}");
            ExitCode::FAILURE
        }
    }
}
