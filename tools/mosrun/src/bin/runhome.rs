//! `runhome PROGRAM [ARGS...]`: run a program at home, locked, it and its children (openMosix's
//! `runhome`; `mosrun -h`). Exit status as `mosrun`'s.

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.is_empty() || args[0] == "--help" {
        eprintln!("usage: runhome PROGRAM [ARGS...]: run it here, locked, it and its children");
        return ExitCode::from(2);
    }
    let cli = mosrun::Cli {
        home: true,
        best: false,
        node: None,
        list: None,
        lock: false,
        no_auto: false,
        fail: false,
        help: None,
        command: args,
    };
    mosrun::run_with(&cli)
}
