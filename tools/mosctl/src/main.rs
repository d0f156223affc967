//! `mosctl`: administer the oxmosix node it runs on through `/dev/mosix`, in the manner of
//! openMosix's `mosctl`.
//!
//! Exit status: 0 on success (for `isup`: the node is up), 1 on any error (module absent, request
//! refused, `isup` of a node that is down), with a one-line message on stderr; 2 on bad
//! arguments.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use oxmosix_dev::open_device;
use oxmosix_uapi::{self as uapi, map, node_status, param};
use serde::Serialize;

nix::ioctl_read_bad!(ioc_version, uapi::MOSIX_IOC_VERSION, uapi::VersionInfo);
nix::ioctl_write_ptr_bad!(ioc_setmap, uapi::MOSIX_IOC_SETMAP, uapi::MapInfo);
nix::ioctl_read_bad!(ioc_getmap, uapi::MOSIX_IOC_GETMAP, uapi::MapInfo);
nix::ioctl_readwrite_bad!(ioc_nodeinfo, uapi::MOSIX_IOC_NODEINFO, uapi::NodeInfo);
nix::ioctl_write_ptr_bad!(ioc_setparam, uapi::MOSIX_IOC_SETPARAM, uapi::Param);
nix::ioctl_readwrite_bad!(ioc_getparam, uapi::MOSIX_IOC_GETPARAM, uapi::Param);
nix::ioctl_write_ptr_bad!(ioc_setkey, uapi::MOSIX_IOC_SETKEY, uapi::KeyReq);

/// Administer the oxmosix node this runs on (through /dev/mosix).
///
/// The node's state (stay, lstay, block, quiet), its speed, map and cluster key, the load
/// vector, moving processes (expel, bring, where) and locks, in the manner of openMosix's mosctl.
/// Changing the node's state needs CAP_SYS_ADMIN; reading it does not.
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
    /// No automatic migration away from this node.
    Stay,
    /// Allow automatic migration away from this node.
    Nostay,
    /// Local processes stay here (guests may still come).
    Lstay,
    /// Local processes may migrate again.
    Nolstay,
    /// Accept no guest processes.
    Block,
    /// Accept guest processes again.
    Noblock,
    /// Stop sending and receiving load information.
    Quiet,
    /// Resume load gossip.
    Noquiet,
    /// Send all guest processes back to their home nodes.
    Expel,
    /// Bring all processes of this home node back home.
    Bring,
    /// Map a node number to its address or an address to its node number (default: this node).
    Whois { what: Option<String> },
    /// Print the load of a node (default: this node); 100 = one task per reference CPU.
    Getload { node: Option<u32> },
    /// Print the speed of a node (default: this node).
    Getspeed { node: Option<u32> },
    /// Set this node's speed (reference CPU = 10000).
    Setspeed { speed: u64 },
    /// Set the memory ushering threshold in KiB (0: off): below this much available memory the
    /// balancer moves processes to nodes with room.
    Setusher { kib: u64 },
    /// Print the memory ushering threshold in KiB.
    Getusher,
    /// Print the status of a node (default: this node).
    Status { node: Option<u32> },
    /// Exit 0 if the node is up, 1 if not.
    Isup { node: u32 },
    /// Print a node's free memory in bytes (default: this node).
    Getmem { node: Option<u32> },
    /// Print a node's free memory in bytes (same as getmem).
    Getfree { node: Option<u32> },
    /// Print a node's CPU utilization in percent (default: this node).
    Getutil { node: Option<u32> },
    /// Load a cluster map (openMosix format: ID IP COUNT lines); "-" reads standard input.
    Setmap {
        file: String,
        /// This node's id (default: found by matching local addresses).
        #[arg(long = "self")]
        self_id: Option<u32>,
        /// TCP port of the cluster protocol (default 4660).
        #[arg(long)]
        port: Option<u16>,
    },
    /// Print the current cluster map.
    Getmap,
    /// Install the cluster key from FILE (16 to 64 bytes, e.g. `head -c 32 /dev/urandom`);
    /// "-" reads standard input. Every node of a cluster needs the same key; without one a node
    /// does not join. The key it replaces stays accepted for 10 minutes (a rotation window).
    Setkey {
        file: String,
        /// Stop accepting the replaced key now.
        #[arg(long)]
        retire: bool,
    },
    /// Print how many cluster keys this node accepts (0: none; 2: during a rotation) and the
    /// current key's id (a public fingerprint: nodes that can link show the same).
    Keys,
    /// Let root's processes migrate away from this node and accept guests running as root (1),
    /// or not (0, the default): uid 0 keeps every capability wherever it runs.
    AllowRoot {
        #[arg(value_parser = clap::value_parser!(u64).range(0..=1))]
        on: u64,
    },
    /// Hold at most N guests here (0..=256, default 256); one home node gets at most half of
    /// them. Guests already here stay; new offers beyond it are refused (target full).
    MaxGuests {
        #[arg(value_parser = clap::value_parser!(u64).range(0..=256))]
        n: u64,
    },
    /// Placement at exec time: 0 off (default), 1 a program started here runs on the node where
    /// it would run fastest, 2 the same only while this node has more runnable tasks than CPUs
    /// (stay and lstay turn it off too).
    ExecPlace {
        #[arg(value_parser = clap::value_parser!(u64).range(0..=2))]
        mode: u64,
    },
    /// Bench only: ask for unencrypted links from now on (1) or not (0). Never on a real network.
    SetPlaintext {
        #[arg(value_parser = clap::value_parser!(u64).range(0..=1))]
        on: u64,
    },
    /// Print the id of the node where a process runs now.
    Where {
        #[arg(value_parser = oxmosix_dev::parse_pid)]
        pid: i32,
    },
    /// Keep a process at home: no migration (does not bring it back if it is away).
    Lock {
        #[arg(value_parser = oxmosix_dev::parse_pid)]
        pid: i32,
    },
    /// Let a locked process migrate again.
    Unlock {
        #[arg(value_parser = oxmosix_dev::parse_pid)]
        pid: i32,
    },
    /// Print what oxmosix knows about a process: state, home, where it runs, migrations, lock.
    Procinfo {
        #[arg(value_parser = oxmosix_dev::parse_pid)]
        pid: i32,
    },
    /// Measure a raw in-kernel transfer of BYTES to NODE over the cluster connection (prints
    /// nanoseconds; the baseline of `make bench`).
    BenchStream { node: u32, bytes: u64 },
    /// Measure COUNT in-kernel round trips to NODE with REQ and REPLY payload bytes (prints the
    /// total nanoseconds).
    BenchPingpong {
        node: u32,
        count: u32,
        req: u64,
        reply: u32,
    },
}

fn errno_context(e: nix::Error, what: &str) -> anyhow::Error {
    let hint = match e {
        nix::Error::EPERM => " (needs CAP_SYS_ADMIN)",
        nix::Error::ENOENT => " (no such node in the map)",
        nix::Error::EINVAL => " (invalid value)",
        _ => "",
    };
    anyhow::anyhow!("{what}: {}{hint}", e.desc())
}

/// The error of a process request, e.g. `process 42: No such process`.
fn proc_error(e: nix::Error, pid: i32) -> anyhow::Error {
    let hint = match e {
        nix::Error::EPERM => " (not your process; needs CAP_SYS_ADMIN)",
        _ => "",
    };
    anyhow::anyhow!("process {pid}: {}{hint}", e.desc())
}

fn procinfo(dev: &File, pid: i32) -> Result<uapi::ProcInfo> {
    oxmosix_dev::procinfo(dev, pid).map_err(|e| proc_error(e, pid))
}

fn set_param(dev: &File, key: u32, value: u64) -> Result<()> {
    let p = uapi::Param { key, pad: 0, value };
    // SAFETY: valid descriptor and a valid Param, the structure the request encodes.
    unsafe { ioc_setparam(dev.as_raw_fd(), &p) }
        .map_err(|e| errno_context(e, "setting the parameter failed"))?;
    Ok(())
}

fn get_param(dev: &File, key: u32) -> Result<u64> {
    let mut p = uapi::Param {
        key,
        pad: 0,
        value: 0,
    };
    // SAFETY: valid descriptor and a valid, writable Param, the structure the request encodes.
    unsafe { ioc_getparam(dev.as_raw_fd(), &mut p) }
        .map_err(|e| errno_context(e, "reading the parameter failed"))?;
    Ok(p.value)
}

fn node_info(dev: &File, id: u32) -> Result<uapi::NodeInfo> {
    let mut n = uapi::NodeInfo {
        id,
        ..Default::default()
    };
    // SAFETY: valid descriptor and NodeInfo.
    unsafe { ioc_nodeinfo(dev.as_raw_fd(), &mut n) }
        .map_err(|e| errno_context(e, &format!("node {id}")))?;
    Ok(n)
}

fn get_map(dev: &File) -> Result<uapi::MapInfo> {
    let mut m = uapi::MapInfo::empty();
    // SAFETY: valid descriptor and MapInfo.
    unsafe { ioc_getmap(dev.as_raw_fd(), &mut m) }
        .map_err(|e| errno_context(e, "reading the map failed"))?;
    Ok(m)
}

fn ranges(m: &uapi::MapInfo) -> Vec<map::Range> {
    m.ranges[..m.count as usize]
        .iter()
        .map(|r| map::Range {
            id: r.id,
            ip: r.ip,
            count: r.count,
        })
        .collect()
}

/// `version --json` output.
#[derive(Serialize)]
struct Version {
    release: String,
    version: String,
    abi: u32,
}

/// `status` output.
#[derive(Serialize)]
struct Status {
    node: u32,
    up: bool,
    known: bool,
    this_node: bool,
    connected: bool,
    flags: Vec<&'static str>,
    load: u32,
    speed: u32,
    cpus: u32,
    util_percent: f64,
    total_mem_bytes: u64,
    free_mem_bytes: u64,
    available_mem_bytes: u64,
    age_ms: u32,
}

fn status_of(n: &uapi::NodeInfo) -> Status {
    let f = n.status >> node_status::FLAGS_SHIFT;
    let names = [
        (1, "block"),
        (2, "stay"),
        (4, "lstay"),
        (8, "quiet"),
        (16, "expel"),
    ];
    Status {
        node: n.id,
        up: n.status & node_status::UP != 0,
        known: n.status & node_status::KNOWN != 0,
        this_node: n.status & node_status::SELF != 0,
        connected: n.status & node_status::CONNECTED != 0,
        flags: names
            .iter()
            .filter(|(b, _)| f & b != 0)
            .map(|(_, s)| *s)
            .collect(),
        load: n.load,
        speed: n.speed,
        cpus: n.cpus,
        util_percent: f64::from(n.util) / 100.0,
        total_mem_bytes: n.tmem_kib * 1024,
        free_mem_bytes: n.fmem_kib * 1024,
        available_mem_bytes: n.amem_kib * 1024,
        age_ms: n.age_ms,
    }
}

fn print_value(json: bool, key: &str, v: impl std::fmt::Display + Serialize) -> Result<()> {
    if json {
        println!("{}", serde_json::json!({ key: v }));
    } else {
        println!("{v}");
    }
    Ok(())
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
    let release = v
        .release_str()
        .context("module returned a non-UTF-8 release text")?
        .to_string();
    let version = format!("{}.{}.{}", v.major, v.minor, v.patch);
    if json {
        println!(
            "{}",
            serde_json::to_string(&Version {
                release,
                version,
                abi: v.abi
            })?
        );
    } else {
        println!("{} (ioctl ABI {})", release, v.abi);
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

fn read_map_file(file: &str) -> Result<Vec<map::Range>> {
    let text = if file == "-" {
        std::io::read_to_string(std::io::stdin()).context("reading the map from standard input")?
    } else {
        std::fs::read_to_string(file).with_context(|| format!("cannot read {file}"))?
    };
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if let Some(r) = map::parse_line(line, i + 1).map_err(|e| anyhow::anyhow!("{file}: {e}"))? {
            out.push(r);
        }
    }
    map::validate(&out).map_err(|e| anyhow::anyhow!("{file}: {e}"))?;
    Ok(out)
}

fn run(cli: Cli) -> Result<()> {
    let json = cli.json;
    if let Cmd::Version = cli.cmd {
        return version(json);
    }
    let dev = open_device()?;
    let flag = |key, on| set_param(&dev, key, on);
    match cli.cmd {
        Cmd::Version => unreachable!(),
        Cmd::Stay => flag(param::STAY, 1),
        Cmd::Nostay => flag(param::STAY, 0),
        Cmd::Lstay => flag(param::LSTAY, 1),
        Cmd::Nolstay => flag(param::LSTAY, 0),
        Cmd::Block => flag(param::BLOCK, 1),
        Cmd::Noblock => flag(param::BLOCK, 0),
        Cmd::Quiet => flag(param::QUIET, 1),
        Cmd::Noquiet => flag(param::QUIET, 0),
        Cmd::Expel => flag(param::EXPEL, 1),
        Cmd::Bring => flag(param::BRING, 1),
        Cmd::Setspeed { speed } => set_param(&dev, param::SPEED, speed),
        Cmd::Setusher { kib } => set_param(&dev, param::USHER, kib),
        Cmd::Getusher => print_value(json, "usher_kib", get_param(&dev, param::USHER)?),
        Cmd::Getload { node } => {
            print_value(json, "load", node_info(&dev, node.unwrap_or(0))?.load)
        }
        Cmd::Getspeed { node } => {
            print_value(json, "speed", node_info(&dev, node.unwrap_or(0))?.speed)
        }
        Cmd::Getmem { node } => print_value(
            json,
            "available_mem_bytes",
            node_info(&dev, node.unwrap_or(0))?.amem_kib * 1024,
        ),
        Cmd::Getfree { node } => print_value(
            json,
            "free_mem_bytes",
            node_info(&dev, node.unwrap_or(0))?.fmem_kib * 1024,
        ),
        Cmd::Getutil { node } => print_value(
            json,
            "util_percent",
            f64::from(node_info(&dev, node.unwrap_or(0))?.util) / 100.0,
        ),
        Cmd::Status { node } => {
            let s = status_of(&node_info(&dev, node.unwrap_or(0))?);
            if json {
                println!("{}", serde_json::to_string(&s)?);
            } else {
                let state = if s.up {
                    "up"
                } else if s.known {
                    "down"
                } else {
                    "unknown"
                };
                println!(
                    "node {}: {state}{}{} load {} speed {} cpus {} util {:.0}% mem {}/{} MiB available{}",
                    s.node,
                    if s.this_node { " (this node)" } else { "" },
                    if s.flags.is_empty() { String::new() } else { format!(" [{}]", s.flags.join(",")) },
                    s.load,
                    s.speed,
                    s.cpus,
                    s.util_percent,
                    s.available_mem_bytes >> 20,
                    s.total_mem_bytes >> 20,
                    if s.this_node { String::new() } else { format!(", {} ms old", s.age_ms) }
                );
            }
            Ok(())
        }
        Cmd::Isup { node } => {
            let s = status_of(&node_info(&dev, node)?);
            print_value(json, "up", s.up)?;
            if !s.up {
                bail!("node {node} is not up");
            }
            Ok(())
        }
        Cmd::Whois { what } => {
            let m = get_map(&dev)?;
            if m.count == 0 {
                bail!("no cluster map loaded (mosctl setmap FILE)");
            }
            let rs = ranges(&m);
            let (id, ip) = match what.as_deref() {
                None => map::nodes(&rs)
                    .find(|&(id, _)| id == m.self_id)
                    .context("this node is not in the map")?,
                Some(w) => {
                    if let Ok(ip) = w.parse::<std::net::Ipv4Addr>() {
                        map::nodes(&rs)
                            .find(|&(_, a)| a == u32::from(ip))
                            .with_context(|| format!("{w} is not in the map"))?
                    } else {
                        let id: u32 = w
                            .parse()
                            .with_context(|| format!("{w}: not a node number or IPv4 address"))?;
                        map::nodes(&rs)
                            .find(|&(i, _)| i == id)
                            .with_context(|| format!("node {id} is not in the map"))?
                    }
                }
            };
            let addr = std::net::Ipv4Addr::from(ip);
            if json {
                println!(
                    "{}",
                    serde_json::json!({ "node": id, "address": addr.to_string() })
                );
            } else {
                println!("node {id} is {addr}");
            }
            Ok(())
        }
        Cmd::Setmap {
            file,
            self_id,
            port,
        } => {
            let rs = read_map_file(&file)?;
            if rs.len() > uapi::MAP_MAX_RANGES {
                bail!("{file}: more than {} lines", uapi::MAP_MAX_RANGES);
            }
            let mut m = uapi::MapInfo::empty();
            m.count = rs.len() as u32;
            m.self_id = self_id.unwrap_or(0);
            m.port = port.unwrap_or(0);
            for (d, r) in m.ranges.iter_mut().zip(&rs) {
                *d = uapi::MapRange {
                    id: r.id,
                    ip: r.ip,
                    count: r.count,
                };
            }
            // SAFETY: valid descriptor and MapInfo.
            unsafe { ioc_setmap(dev.as_raw_fd(), &m) }.map_err(|e| {
                errno_context(
                    e,
                    "the module refused the map (is one of its addresses this node's?)",
                )
            })?;
            Ok(())
        }
        Cmd::Setkey { file, retire } => {
            let secret = if file == "-" {
                let mut v = Vec::new();
                std::io::Read::read_to_end(&mut std::io::stdin(), &mut v)
                    .context("reading the key from standard input")?;
                v
            } else {
                std::fs::read(&file).with_context(|| format!("reading {file}"))?
            };
            if secret.len() < 16 || secret.len() > uapi::KEY_MAX {
                bail!(
                    "{file}: a cluster key has 16 to {} bytes, this one {}",
                    uapi::KEY_MAX,
                    secret.len()
                );
            }
            let mut q = uapi::KeyReq {
                len: secret.len() as u32,
                flags: if retire { uapi::KEY_RETIRE } else { 0 },
                ..Default::default()
            };
            q.secret[..secret.len()].copy_from_slice(&secret);
            // SAFETY: valid descriptor and a valid KeyReq, the structure the request encodes.
            let r = unsafe { ioc_setkey(dev.as_raw_fd(), &q) };
            q.secret.fill(0);
            r.map_err(|e| errno_context(e, "the module refused the key"))?;
            Ok(())
        }
        Cmd::Keys => {
            let (n, id) = (
                get_param(&dev, param::KEYS)?,
                get_param(&dev, param::KEY_ID)?,
            );
            if json {
                println!(
                    "{}",
                    serde_json::json!({ "keys": n, "key_id": format!("{id:016x}") })
                );
            } else {
                println!("{n} key(s) accepted; current key id {id:016x}");
            }
            Ok(())
        }
        Cmd::SetPlaintext { on } => set_param(&dev, param::PLAINTEXT, on),
        Cmd::AllowRoot { on } => set_param(&dev, param::ALLOW_ROOT, on),
        Cmd::MaxGuests { n } => set_param(&dev, param::MAX_GUESTS, n),
        Cmd::ExecPlace { mode } => set_param(&dev, param::EXEC_PLACE, mode),
        Cmd::Getmap => {
            let m = get_map(&dev)?;
            let rs = ranges(&m);
            if json {
                let lines: Vec<_> = rs
                    .iter()
                    .map(|r| serde_json::json!({ "id": r.id, "ip": std::net::Ipv4Addr::from(r.ip).to_string(), "count": r.count }))
                    .collect();
                println!(
                    "{}",
                    serde_json::json!({ "self": m.self_id, "port": m.port, "generation": m.generation, "ranges": lines })
                );
            } else {
                let mut out = String::new();
                map::format(&rs, &mut out)?;
                print!("{out}");
            }
            Ok(())
        }
        Cmd::Where { pid } => print_value(json, "where", procinfo(&dev, pid)?.where_),
        Cmd::BenchStream { node, bytes } => {
            let q = uapi::BenchReq {
                node,
                mode: uapi::BENCH_STREAM,
                bytes,
                ..Default::default()
            };
            let ns = oxmosix_dev::bench(&dev, q).map_err(|e| errno_context(e, "bench"))?;
            print_value(json, "ns", ns)
        }
        Cmd::BenchPingpong {
            node,
            count,
            req,
            reply,
        } => {
            let q = uapi::BenchReq {
                node,
                mode: uapi::BENCH_PINGPONG,
                bytes: req,
                count,
                reply,
                ns: 0,
            };
            let ns = oxmosix_dev::bench(&dev, q).map_err(|e| errno_context(e, "bench"))?;
            print_value(json, "ns", ns)
        }
        Cmd::Lock { pid } => oxmosix_dev::lock(&dev, pid, true).map_err(|e| proc_error(e, pid)),
        Cmd::Unlock { pid } => oxmosix_dev::lock(&dev, pid, false).map_err(|e| proc_error(e, pid)),
        Cmd::Procinfo { pid } => {
            let p = oxmosix_dev::Proc::from(&procinfo(&dev, pid)?);
            if json {
                println!("{}", serde_json::to_string(&p)?);
            } else {
                print!("{}", procinfo_text(&p));
            }
            Ok(())
        }
    }
}

/// `procinfo` as text: one `name value` line per field.
fn procinfo_text(p: &oxmosix_dev::Proc) -> String {
    let cantmove = if p.cantmove == 0 {
        "0".to_string()
    } else {
        format!("{} ({})", p.cantmove, p.cantmove_reason)
    };
    format!(
        "pid {}\nhome_pid {}\nstate {}\nhome {}\nwhere {}\nnmigs {}\nlock {}\ncantmove {cantmove}\ncomm {}\n",
        p.pid,
        p.home_pid,
        p.state,
        p.home,
        p.where_,
        p.nmigs,
        u32::from(p.locked),
        p.comm
    )
}

/// The EXIT STATUS section of `mosctl(1)`.
const EXIT_STATUS: &str = "0 on success (for isup: the node is up); 1 on any error (module not \
loaded, request refused, isup of a node that is down), with a one-line message on stderr; 2 on \
bad arguments.";

fn main() -> ExitCode {
    match run(oxmosix_dev::man::parse_or_man::<Cli>(EXIT_STATUS)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mosctl: {e:#}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn procinfo_lines() {
        let mut comm = [0u8; uapi::COMM_LEN];
        comm[..2].copy_from_slice(b"sh");
        let mut p = uapi::ProcInfo {
            pid: 12,
            state: uapi::pstate::DEPUTY,
            home: 1,
            where_: 3,
            nmigs: 2,
            lock: 0,
            cantmove: 0,
            home_pid: 12,
            comm,
        };
        assert_eq!(
            procinfo_text(&(&p).into()),
            "pid 12\nhome_pid 12\nstate deputy\nhome 1\nwhere 3\nnmigs 2\nlock 0\ncantmove 0\ncomm sh\n"
        );
        p.lock = 1;
        p.cantmove = uapi::cantmove::LOCKED;
        let t = procinfo_text(&(&p).into());
        assert!(t.contains("\nlock 1\ncantmove 7 (locked)\n"), "{t}");
    }

    #[test]
    fn process_verbs() {
        assert!(matches!(
            Cli::try_parse_from(["mosctl", "where", "5"]).unwrap().cmd,
            Cmd::Where { pid: 5 }
        ));
        assert!(Cli::try_parse_from(["mosctl", "lock", "0"]).is_err());
        assert!(Cli::try_parse_from(["mosctl", "procinfo"]).is_err());
    }
}
