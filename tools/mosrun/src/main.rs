//! `mosrun [-h|-b|-r NODE|-j LIST] [-l] [-L] [-F] PROGRAM [ARGS...]`: run a program with a run
//! mode that its children inherit (openMosix's and MOSIX's `mosrun`). `-h` home only (locked),
//! `-b` best node, `-r`/`-N NODE` a given node, `-j LIST` the least loaded node of a list,
//! `-l` locked where it starts, `-L` no automatic moves, `-F` fail instead of running here when
//! the node is not up. Each program the process or its children execute starts by that mode.
//!
//! Exit status: the program's (mosrun becomes it); 1 when the mode cannot be set or `-F` found
//! no node up; 2 on bad arguments; 127 when the program cannot be executed.

use std::process::ExitCode;

fn main() -> ExitCode {
    mosrun::run_with(&oxmosix_dev::man::parse_or_man::<mosrun::Cli>(
        mosrun::EXIT_STATUS,
    ))
}
