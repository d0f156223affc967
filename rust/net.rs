// SPDX-License-Identifier: GPL-2.0
//! In-kernel IPv4 TCP sockets (`sock_create_kern` in the initial network namespace).
//!
//! Blocking operations are bounded by the socket's receive/send timeouts so that the kernel threads
//! using them can notice a stop request: [`TcpSocket::accept`] returns `Ok(None)` and
//! [`TcpSocket::recv_exact`] asks its caller's `abort` predicate whenever the receive timeout
//! expires. [`TcpSocket::shutdown`] wakes every thread blocked on the socket.
//!
//! C header: `include/linux/net.h`, `include/net/sock.h`, `include/linux/tcp.h`.

use core::mem::size_of;
use core::ptr;

use kernel::bindings;
use kernel::ffi::c_int;
use kernel::prelude::*;

/// Most parts [`TcpSocket::send_all_parts`] takes in one write (a frame header and its payload
/// parts).
pub(crate) const MAX_PARTS: usize = 8;

/// `ECONNRESET`: the peer closed the connection before the first byte of a read.
pub(crate) fn econnreset() -> Error {
    Error::from_errno(-(bindings::ECONNRESET as c_int))
}

/// `EBADMSG`: the peer closed the connection in the middle of a read (a truncated message).
pub(crate) fn ebadmsg() -> Error {
    Error::from_errno(-(bindings::EBADMSG as c_int))
}

/// An IPv4 address in host byte order (`10.77.0.1` is `0x0a4d_0001`).
pub(crate) type Ipv4 = u32;

/// A kernel TCP socket.
///
/// # Invariants
///
/// A socket created by `sock_create_kern` (or returned by `kernel_accept`), owned by this value and
/// released exactly once, in `Drop`.
pub(crate) struct TcpSocket {
    sock: *mut bindings::socket,
}

// SAFETY: kernel sockets may be used from any process context; the socket layer serializes
// concurrent operations with the socket lock. Callers that need whole-frame atomicity of sends
// serialize them themselves.
unsafe impl Send for TcpSocket {}
// SAFETY: see above; all methods take `&self` and are safe to call concurrently.
unsafe impl Sync for TcpSocket {}

fn sockaddr(ip: Ipv4, port: u16) -> bindings::sockaddr_in {
    // SAFETY: all-zero is a valid sockaddr_in.
    let mut a: bindings::sockaddr_in = unsafe { core::mem::zeroed() };
    a.sin_family = bindings::AF_INET as u16;
    a.sin_port = port.to_be();
    a.sin_addr.s_addr = ip.to_be();
    a
}

fn ms_to_jiffies(ms: u32) -> kernel::ffi::c_long {
    // SAFETY: a pure conversion.
    (unsafe { bindings::__msecs_to_jiffies(ms) }) as kernel::ffi::c_long
}

impl TcpSocket {
    fn create() -> Result<TcpSocket> {
        let mut sock = ptr::null_mut();
        // SAFETY: `init_net` is the initial network namespace, always valid; `sock` is an
        // out-pointer.
        kernel::error::to_result(unsafe {
            bindings::sock_create_kern(
                ptr::addr_of_mut!(bindings::init_net),
                bindings::AF_INET as c_int,
                bindings::sock_type_SOCK_STREAM as c_int,
                bindings::IPPROTO_TCP as c_int,
                &mut sock,
            )
        })?;
        Ok(TcpSocket { sock })
    }

    /// Sets the receive (and `accept`) and send timeouts in milliseconds.
    pub(crate) fn set_timeouts(&self, recv_ms: u32, send_ms: u32) {
        // SAFETY: `sock` and its `sk` are valid (type invariant); the fields are plain longs read
        // by the socket code at the start of each blocking operation.
        unsafe {
            let sk = (*self.sock).sk;
            (*sk).sk_rcvtimeo = ms_to_jiffies(recv_ms);
            (*sk).sk_sndtimeo = ms_to_jiffies(send_ms);
        }
    }

    /// A socket listening on `0.0.0.0:port` (with `SO_REUSEADDR`) with an accept timeout of
    /// `accept_timeout_ms`. Errors: `EADDRINUSE` and the other errors of bind/listen.
    pub(crate) fn listen(port: u16, backlog: i32, accept_timeout_ms: u32) -> Result<TcpSocket> {
        let s = Self::create()?;
        let mut a = sockaddr(0, port);
        // SAFETY: valid socket; `a` is a sockaddr_in of the given size.
        unsafe {
            bindings::sock_set_reuseaddr((*s.sock).sk);
            kernel::error::to_result(bindings::kernel_bind(
                s.sock,
                ptr::addr_of_mut!(a).cast(),
                size_of::<bindings::sockaddr_in>() as c_int,
            ))?;
            kernel::error::to_result(bindings::kernel_listen(s.sock, backlog))?;
        }
        s.set_timeouts(accept_timeout_ms, accept_timeout_ms);
        Ok(s)
    }

    /// Waits for a connection: `Ok(Some((socket, peer address)))`, or `Ok(None)` when the accept
    /// timeout expired. Errors: those of `kernel_accept` (e.g. `EINVAL` after `shutdown`).
    pub(crate) fn accept(&self) -> Result<Option<(TcpSocket, Ipv4)>> {
        let mut new = ptr::null_mut();
        // SAFETY: valid listening socket; `new` is an out-pointer.
        let r = unsafe { bindings::kernel_accept(self.sock, &mut new, 0) };
        if r == -(bindings::EAGAIN as c_int) {
            return Ok(None);
        }
        kernel::error::to_result(r)?;
        let s = TcpSocket { sock: new };
        // SAFETY: all-zero is a valid sockaddr_in.
        let mut a: bindings::sockaddr_in = unsafe { core::mem::zeroed() };
        // SAFETY: connected socket; `a` is large enough for an IPv4 address.
        let r = unsafe { bindings::kernel_getpeername(s.sock, ptr::addr_of_mut!(a).cast()) };
        if r < 0 {
            return Err(Error::from_errno(r));
        }
        Ok(Some((s, u32::from_be(a.sin_addr.s_addr))))
    }

    /// Connects to `ip:port`, giving up after `timeout_ms`. Errors: `ECONNREFUSED`,
    /// `ETIMEDOUT`/`EINPROGRESS`, `EHOSTUNREACH`, ...
    pub(crate) fn connect(ip: Ipv4, port: u16, timeout_ms: u32) -> Result<TcpSocket> {
        let s = Self::create()?;
        s.set_timeouts(timeout_ms, timeout_ms);
        let mut a = sockaddr(ip, port);
        // SAFETY: valid socket; `a` is a sockaddr_in of the given size. A blocking connect waits
        // at most the send timeout.
        kernel::error::to_result(unsafe {
            bindings::kernel_connect(
                s.sock,
                ptr::addr_of_mut!(a).cast(),
                size_of::<bindings::sockaddr_in>() as c_int,
                0,
            )
        })?;
        Ok(s)
    }

    /// Disables Nagle's algorithm (frames are written whole and latency matters).
    pub(crate) fn set_nodelay(&self) {
        // SAFETY: valid socket with a TCP `sk`.
        unsafe { bindings::tcp_sock_set_nodelay((*self.sock).sk) };
    }

    /// Sends all of `buf`. Errors: `EPIPE`/`ECONNRESET` when the peer is gone, `EAGAIN` when the
    /// send timeout expired with the buffer still full.
    pub(crate) fn send_all(&self, buf: &[u8]) -> Result {
        self.send_all_parts(&[buf])
    }

    /// Sends all of `parts`, in order, as one stream write: one `kernel_sendmsg` over all of
    /// them (with `TCP_NODELAY` a frame made of a header and a payload then leaves in one
    /// segment where it fits, not one per part). At most [`MAX_PARTS`] parts. Errors: as
    /// [`TcpSocket::send_all`]; `EINVAL` for too many parts.
    pub(crate) fn send_all_parts(&self, parts: &[&[u8]]) -> Result {
        if parts.len() > MAX_PARTS {
            return Err(EINVAL);
        }
        let mut vecs = [bindings::kvec {
            iov_base: core::ptr::null_mut(),
            iov_len: 0,
        }; MAX_PARTS];
        let mut n = 0;
        for p in parts.iter().filter(|p| !p.is_empty()) {
            vecs[n] = bindings::kvec {
                iov_base: p.as_ptr() as *mut _,
                iov_len: p.len(),
            };
            n += 1;
        }
        // `first..n` are the kvecs still (partly) to send.
        let mut first = 0;
        while first < n {
            let total: usize = vecs[first..n].iter().map(|v| v.iov_len).sum();
            // SAFETY: all-zero is a valid "no options" msghdr.
            let mut msg: bindings::msghdr = unsafe { core::mem::zeroed() };
            msg.msg_flags = bindings::MSG_NOSIGNAL;
            // SAFETY: valid socket and msghdr; `vecs[first..n]` describe live parts of `parts`,
            // which outlive the call.
            let r = unsafe {
                bindings::kernel_sendmsg(
                    self.sock,
                    &mut msg,
                    vecs[first..].as_mut_ptr(),
                    n - first,
                    total,
                )
            };
            if r < 0 {
                return Err(Error::from_errno(r));
            }
            if r == 0 {
                return Err(EPIPE);
            }
            // Skip what was sent: whole kvecs, then part of the next one.
            let mut sent = r as usize;
            while first < n && sent >= vecs[first].iov_len {
                sent -= vecs[first].iov_len;
                first += 1;
            }
            if first < n && sent > 0 {
                let v = &mut vecs[first];
                // SAFETY: `sent < iov_len`: the new base stays inside the same part.
                v.iov_base = unsafe { v.iov_base.cast::<u8>().add(sent) }.cast();
                v.iov_len -= sent;
            }
        }
        Ok(())
    }

    /// Fills `buf` completely. Whenever the receive timeout expires, `abort()` is asked whether to
    /// give up (`EINTR`); with nothing read yet, `Ok(false)` is returned instead so the caller can
    /// do periodic work. `Ok(true)`: `buf` is full. Errors: `ECONNRESET` when the peer closed the
    /// connection before the first byte, `EBADMSG` when it closed it in the middle of `buf`, or
    /// the error of `kernel_recvmsg`.
    pub(crate) fn recv_exact(&self, buf: &mut [u8], abort: impl Fn() -> bool) -> Result<bool> {
        let mut got = 0;
        while got < buf.len() {
            // SAFETY: all-zero is a valid "no options" msghdr.
            let mut msg: bindings::msghdr = unsafe { core::mem::zeroed() };
            let rest = &mut buf[got..];
            let mut v = bindings::kvec {
                iov_base: rest.as_mut_ptr().cast(),
                iov_len: rest.len(),
            };
            // SAFETY: valid socket, msghdr and kvec describing `rest`, which outlives the call.
            let r =
                unsafe { bindings::kernel_recvmsg(self.sock, &mut msg, &mut v, 1, rest.len(), 0) };
            if r == -(bindings::EAGAIN as c_int) || r == -(bindings::EINTR as c_int) {
                if abort() {
                    return Err(EINTR);
                }
                if got == 0 {
                    return Ok(false);
                }
                continue;
            }
            if r < 0 {
                return Err(Error::from_errno(r));
            }
            if r == 0 {
                return Err(if got == 0 { econnreset() } else { ebadmsg() });
            }
            got += r as usize;
        }
        Ok(true)
    }

    /// Shuts the connection down in both directions, waking every thread blocked on it.
    pub(crate) fn shutdown(&self) {
        // SAFETY: valid socket; shutting down an already shut down socket is harmless.
        unsafe { bindings::kernel_sock_shutdown(self.sock, bindings::sock_shutdown_cmd_SHUT_RDWR) };
    }
}

impl Drop for TcpSocket {
    fn drop(&mut self) {
        // SAFETY: owned socket (type invariant), released once.
        unsafe { bindings::sock_release(self.sock) };
    }
}
