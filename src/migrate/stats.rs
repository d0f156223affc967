// SPDX-License-Identifier: GPL-2.0
//! Counters of migration (`/proc/hpc/info/migration`).

use crate::counters::counters;

counters! {
    /// Counters of migration, in the order `/proc/hpc/info/migration` shows them.
    pub(crate) struct MigStats {
        /// Processes sent away from their home.
        out,
        /// Processes that came home.
        home,
        /// Guests installed here.
        guests,
        /// Migrations that failed or were refused.
        failed,
        /// System calls forwarded by guests here.
        forwarded,
        /// System calls served by deputies here.
        served,
        /// Total time guests here waited for their forwarded calls' replies, µs (sent to answered:
        /// network both ways, the deputy's wake-up and the call at home).
        forward_wait_us,
        /// Total time deputies here spent on the calls they served, µs (request taken to reply
        /// sent, the call itself included).
        serve_us,
        /// Signals deputies here forwarded to their processes.
        signals,
        /// Signals for processes here that could not be queued (a real-time signal beyond the
        /// process's `RLIMIT_SIGPENDING`, or no memory): lost, as `sigqueue` at home would have
        /// refused them.
        signals_lost,
        /// Pages sent in images.
        pages_out,
        /// Pages received in images.
        pages_in,
        /// Pages of images sent from here that were not sent: the receiver mapped them from its
        /// copy of the file they are the pages of (the same contents; `MigFile`).
        pages_mapped,
        /// Files named in images sent from here, and those of them the receivers held with the
        /// same contents.
        files_named,
        files_held,
        /// Frames for unknown processes (late or stray), dropped.
        stray,
        /// Frames that found their process's inbox full (a peer ignoring flow control); each
        /// ended its process.
        overruns,
        /// Processes that came home with clocks ahead of home's (the remote's clock ran faster) and
        /// were held until home's clock caught up, so their `CLOCK_MONOTONIC` never goes back.
        clock_holds,
        /// Total time of those holds, µs.
        clock_hold_us,
        /// Forwarded calls deputies here interrupted so that their process could move while it
        /// waited for them (`MigCtl` INTERRUPT).
        interrupted,
        /// Children that guests here made here (remote fork, `patches/0017`).
        forks,
        /// Children that deputies here forked at home for their guests' forks.
        forks_home,
        /// Programs that guests here executed here (the same file as at home).
        exec_remote,
        /// Execs of guests here that went home (a set-id program, a script, or a file this node
        /// does not hold identically).
        exec_home,
        /// Total time guests here spent checking the programs they executed here, µs (home's
        /// check and this node's, before the exec itself).
        exec_check_us,
        /// Total time guests here waited for their deputies to take their execs, µs.
        exec_done_us,
        /// Private file mappings that guests here made here (the same file as at home: the
        /// dynamic loader's libraries).
        maps_remote,
        /// Private file mappings of guests here that went home (a file this node does not hold
        /// identically, not a regular file, too big to hash).
        maps_home,
        /// Reads of guests here forwarded with read-ahead (`proto::readahead::READ_AHEAD`), and
        /// the bytes deputies here read for such fills (the call's and those ahead).
        readahead_fills,
        readahead_bytes,
        /// Reads of guests here served from their read-ahead, without a forwarded call.
        readahead_local,
        /// Read-ahead that guests here dropped unused because home said the file changed
        /// (`MigCtl` READ_DROP), a signal came from home, or it aged out.
        readahead_dropped,
        /// Files read ahead of that deputies here found changed at home (written, truncated or
        /// moved by another process) and told their guests to drop (`MigCtl` READ_DROP).
        readahead_changed,
        /// Writes of guests here to the null device at home, answered here without forwarding.
        writes_null,
    }
}
