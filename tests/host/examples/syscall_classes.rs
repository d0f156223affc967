//! Prints the class of every x86-64 system call number as `src/syscalls.rs` decides it, one line
//! each: `NR CLASS DETAIL`. `scripts/syscalls-doc.sh` joins it with the kernel's syscall table
//! into `Documentation/syscalls.md`.
use oxmosix_host_tests::syscalls::{classify, nr, Arg, Class};

fn args_text(a: &[Arg; 6]) -> String {
    let t: Vec<String> = a
        .iter()
        .enumerate()
        .filter(|(_, x)| **x != Arg::Val)
        .map(|(i, x)| match x {
            Arg::In(n) => format!("arg{i}: in, arg{n} bytes"),
            Arg::Out(n) => format!("arg{i}: out, up to arg{n} bytes"),
            Arg::InFixed(s) => format!("arg{i}: in, {s} bytes"),
            Arg::OutFixed(s) => format!("arg{i}: out, {s} bytes"),
            Arg::InOutFixed(s) => format!("arg{i}: in/out, {s} bytes"),
            Arg::InOutArray(n, s) => format!("arg{i}: in/out, arg{n} × {s} bytes"),
            Arg::OutArray(n, s) => format!("arg{i}: out, up to arg{n} × {s} bytes"),
            Arg::OutArrayCapped(n, s) => {
                format!("arg{i}: out, up to arg{n} × {s} bytes (arg{n} capped to one frame)")
            }
            Arg::FdSet(n) => format!("arg{i}: in/out fd_set of arg{n} bits"),
            Arg::Str => format!("arg{i}: path"),
            Arg::Val => unreachable!(),
        })
        .collect();
    t.join("; ")
}

fn main() {
    for n in 0..nr::COUNT {
        let c = classify(n, &[0; 6]);
        let (class, detail) = match c {
            Class::Local => ("local", String::new()),
            Class::Home => ("go home", String::new()),
            Class::Exec => (
                "exec where it runs",
                "when the remote holds the same file (absolute path and SHA-256 from home); set-id programs, file capabilities and scripts go home".into(),
            ),
            Class::MapFile => (
                "mapped where it runs",
                "private mapping of the same file of the remote (absolute path and SHA-256 from home)".into(),
            ),
            Class::Fork => (
                "fork where it runs",
                "the deputy forks at home (the child's deputy); the child is made on the remote"
                    .into(),
            ),
            Class::Vectored(v) => (
                "forwarded",
                format!("as call {} (iovecs gathered on the remote)", v.plain),
            ),
            Class::Forward(f) if f.oneway => (
                "forwarded",
                "no answer awaited; also runs on the remote".into(),
            ),
            Class::Forward(f) => ("forwarded", args_text(&f.args)),
            Class::Msg(send) => (
                "forwarded",
                format!(
                    "as call {} (iovecs gathered on the remote)",
                    if send { nr::SENDTO } else { nr::RECVFROM }
                ),
            ),
        };
        let note = match n {
            nr::PRCTL => "by option: PR_SET_NAME, PR_GET_NAME, PR_SET_PDEATHSIG, PR_GET_PDEATHSIG, PR_GET_DUMPABLE, PR_SET_DUMPABLE forwarded (a name set is also taken on the remote), others go home",
            nr::CLONE => "by flags: without CLONE_VM (or with CLONE_VM and CLONE_VFORK), CLONE_FILES, CLONE_FS, CLONE_SIGHAND, CLONE_THREAD, CLONE_PIDFD, CLONE_PARENT, namespaces or ptrace; otherwise go home",
            nr::CLONE3 => "as clone, by the flags of its struct clone_args (and no set_tid); otherwise go home",
            nr::MMAP => "by flags: local for private anonymous memory; a private mapping of a regular file mapped from the remote's identical file (absolute path and SHA-256 from home), or go home when the remote holds none; shared and huge-page file mappings go home",
            nr::RT_SIGACTION => "a change that alters what the deputy does with the signal at home (catch and forward it, or ignore it; SIGCHLD's SA_NOCLDSTOP/SA_NOCLDWAIT) is sent to the deputy first",
            nr::FCNTL => "by command: plain commands and record locks forwarded, others go home",
            nr::IOCTL => "by request: terminal requests (TCGETS, TCSETS*, TIOC[GS]PGRP, TIOC[GS]WINSZ, TIOCGSID, FIONREAD, FIONBIO, FIOASYNC, FIO[N]CLEX, TCSBRK, TCXONC, TCFLSH) forwarded, others go home",
            nr::PSELECT6 => "forwarded only with a NULL sixth argument, otherwise go home",
            nr::GETRUSAGE => "by whom: the process's own (RUSAGE_SELF, RUSAGE_THREAD) local, its children's forwarded",
            nr::TIMES => "the process's own times (tms_utime, tms_stime) replaced by the remote's count, which includes its CPU time on every node",
            nr::READ | nr::PREAD64 => "beyond one frame: further frame-sized calls while each comes back whole from a seekable descriptor",
            nr::WRITE | nr::PWRITE64 => "beyond one frame: further frame-sized calls while each is taken whole",
            nr::READV | nr::PREADV | nr::WRITEV | nr::PWRITEV => "beyond one frame: split as the plain call is",
            nr::RECVFROM => "forwarded only without a source address, otherwise go home",
            nr::SENDMSG | nr::RECVMSG => "forwarded when the msghdr has no address and no control data, otherwise go home",
            _ => "",
        };
        let text = match (detail.is_empty(), note.is_empty()) {
            (_, true) => detail,
            (true, false) => note.to_string(),
            (false, false) => format!("{detail}; {note}"),
        };
        println!("{n}\t{class}\t{text}");
    }
}
