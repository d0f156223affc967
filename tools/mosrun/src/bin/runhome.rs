//! `runhome PROGRAM [ARGS...]`: run a program at home, locked, it and its children (openMosix's
//! `runhome`; `mosrun -h`). Exit status as `mosrun`'s.

use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = oxmosix_dev::man::parse_or_man::<mosrun::RunHome>(mosrun::EXIT_STATUS);
    mosrun::run_with(&cli.as_mosrun())
}
