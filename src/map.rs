// SPDX-License-Identifier: GPL-2.0
//! The cluster map, in the openMosix format. Pure `core` Rust, shared with the tools
//! (`mosctl setmap`/`getmap`) and tested on the host.
//!
//! ```text
//! # comment
//! ID  IP           COUNT
//! 1   10.77.0.1    3        # nodes 1, 2, 3 are 10.77.0.1, 10.77.0.2, 10.77.0.3
//! 10  192.168.1.20 1
//! ```
//!
//! Each line gives COUNT consecutive node ids starting at ID, on consecutive IPv4 addresses
//! starting at IP. Ids are 1..=[`MAX_NODE_ID`]; no id and no address may appear twice; at most
//! [`MAX_RANGES`] lines and [`MAX_NODES`] nodes.

// Shared with the tools: some items are used only on one side.
#![allow(dead_code, unreachable_pub)]

use core::fmt;
use core::net::Ipv4Addr;

/// Largest node id.
pub const MAX_NODE_ID: u32 = 65_535;
/// Most lines (ranges) in a map.
pub const MAX_RANGES: usize = 64;
/// Most nodes in a map.
pub const MAX_NODES: usize = 256;

/// One line of the map: `count` nodes `id..id+count` at `ip..ip+count` (host byte order).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Range {
    /// First node id.
    pub id: u32,
    /// First IPv4 address, host byte order.
    pub ip: u32,
    /// Number of nodes.
    pub count: u32,
}

/// A map error; `line` is 1-based (0 when not about a line).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MapError {
    /// Not three fields.
    Syntax { line: usize },
    /// Id not a number in 1..=MAX_NODE_ID, or the range runs past it.
    BadId { line: usize },
    /// Not an IPv4 address, or the range runs past 255.255.255.255.
    BadIp { line: usize },
    /// Count not a number in 1..=MAX_NODES.
    BadCount { line: usize },
    /// An id or address appears twice.
    Overlap { line: usize },
    /// More than MAX_RANGES lines or MAX_NODES nodes, or no node at all.
    Size,
}

impl fmt::Display for MapError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MapError::Syntax { line } => write!(f, "line {line}: expected ID IP COUNT"),
            MapError::BadId { line } => write!(f, "line {line}: node ids must be 1..{MAX_NODE_ID}"),
            MapError::BadIp { line } => write!(f, "line {line}: bad IPv4 address range"),
            MapError::BadCount { line } => write!(f, "line {line}: count must be 1..{MAX_NODES}"),
            MapError::Overlap { line } => write!(f, "line {line}: node id or address listed twice"),
            MapError::Size => write!(
                f,
                "a map has 1..{MAX_NODES} nodes in at most {MAX_RANGES} lines"
            ),
        }
    }
}

/// Parses one line; `Ok(None)` for blank and comment lines. Only the line's own fields are
/// checked; [`validate`] checks the whole map.
pub fn parse_line(text: &str, line: usize) -> Result<Option<Range>, MapError> {
    let text = text.split('#').next().unwrap_or("");
    let mut f = text.split_whitespace();
    let (Some(id), Some(ip), Some(count)) = (f.next(), f.next(), f.next()) else {
        return if text.trim().is_empty() {
            Ok(None)
        } else {
            Err(MapError::Syntax { line })
        };
    };
    if f.next().is_some() {
        return Err(MapError::Syntax { line });
    }
    let id: u32 = id.parse().map_err(|_| MapError::BadId { line })?;
    let ip: Ipv4Addr = ip.parse().map_err(|_| MapError::BadIp { line })?;
    let count: u32 = count.parse().map_err(|_| MapError::BadCount { line })?;
    let r = Range {
        id,
        ip: u32::from(ip),
        count,
    };
    check_range(&r, line)?;
    Ok(Some(r))
}

fn check_range(r: &Range, line: usize) -> Result<(), MapError> {
    if r.count == 0 || r.count as usize > MAX_NODES {
        return Err(MapError::BadCount { line });
    }
    if r.id == 0
        || r.id
            .checked_add(r.count - 1)
            .map_or(true, |last| last > MAX_NODE_ID)
    {
        return Err(MapError::BadId { line });
    }
    if r.ip == 0 || r.ip.checked_add(r.count - 1).is_none() {
        return Err(MapError::BadIp { line });
    }
    Ok(())
}

/// Validates a whole map; returns its number of nodes.
pub fn validate(ranges: &[Range]) -> Result<usize, MapError> {
    if ranges.is_empty() || ranges.len() > MAX_RANGES {
        return Err(MapError::Size);
    }
    let mut nodes = 0usize;
    for (i, r) in ranges.iter().enumerate() {
        check_range(r, i + 1)?;
        nodes += r.count as usize;
        for q in &ranges[..i] {
            let ids = r.id < q.id + q.count && q.id < r.id + r.count;
            let ips = u64::from(r.ip) < u64::from(q.ip) + u64::from(q.count)
                && u64::from(q.ip) < u64::from(r.ip) + u64::from(r.count);
            if ids || ips {
                return Err(MapError::Overlap { line: i + 1 });
            }
        }
    }
    if nodes > MAX_NODES {
        return Err(MapError::Size);
    }
    Ok(nodes)
}

/// Every `(node id, IPv4 address)` of a valid map, in map order.
pub fn nodes(ranges: &[Range]) -> impl Iterator<Item = (u32, u32)> + '_ {
    ranges
        .iter()
        .flat_map(|r| (0..r.count).map(move |k| (r.id + k, r.ip + k)))
}

/// Writes the map in its text format, one `ID IP COUNT` line per range.
pub fn format(ranges: &[Range], out: &mut impl fmt::Write) -> fmt::Result {
    for r in ranges {
        writeln!(out, "{} {} {}", r.id, Ipv4Addr::from(r.ip), r.count)?;
    }
    Ok(())
}
