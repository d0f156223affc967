// SPDX-License-Identifier: GPL-2.0
//! A misc character device (`/dev/<name>`, dynamic minor) whose `ioctl`s go to an [`IoctlHandler`].
//!
//! Linux 6.12's `kernel` crate has no miscdevice abstraction (it arrived in 6.13). The
//! `file_operations` carry `owner = THIS_MODULE`, so the module cannot be unloaded while the device
//! is open; `misc_deregister` in `Drop` removes the node before the handler is freed.
//!
//! C header: `include/linux/miscdevice.h`, `include/linux/fs.h`.

use core::mem::size_of;
use core::pin::Pin;
use kernel::ffi::{c_long, c_uint, c_ulong};

use kernel::alloc::{flags::GFP_KERNEL, KBox};
use kernel::bindings;
use kernel::prelude::*;
use kernel::str::CStr;
use kernel::sync::Arc;
use kernel::types::{AsBytes, FromBytes, Opaque};
use kernel::uaccess::{UserPtr, UserSlice};
use kernel::ThisModule;

/// The user-space argument of an ioctl: a pointer into the caller's address space.
pub(crate) struct IoctlArg(UserPtr);

impl IoctlArg {
    /// Reads a `T` from the argument (`size_of::<T>()` bytes). Errors: `EFAULT` on a fault.
    pub(crate) fn read<T: FromBytes>(&self) -> Result<T> {
        UserSlice::new(self.0, size_of::<T>()).reader().read()
    }

    /// Writes `value` to the argument (`size_of::<T>()` bytes). Errors: `EFAULT` on a fault.
    pub(crate) fn write<T: AsBytes>(&self, value: &T) -> Result {
        UserSlice::new(self.0, size_of::<T>()).writer().write(value)
    }
}

/// The behaviour of a [`MiscDevice`].
pub(crate) trait IoctlHandler: Send + Sync + 'static {
    /// Handles request `cmd` with argument `arg`; `Ok(n)` is returned to user space as `n`,
    /// an error as `-1` with that errno. Unknown requests should fail with `ENOTTY`.
    fn ioctl(&self, cmd: u32, arg: IoctlArg) -> Result<i32>;
}

#[repr(C)]
struct Inner<T: IoctlHandler> {
    /// Must stay the first field: `file->private_data` points here and is cast back to `Inner`.
    misc: Opaque<bindings::miscdevice>,
    fops: bindings::file_operations,
    handler: Arc<T>,
}

/// A registered misc device.
///
/// # Invariants
///
/// `inner.misc` is registered with misc_register and points at `inner.fops`; the box is never moved
/// out of while registered.
pub(crate) struct MiscDevice<T: IoctlHandler> {
    inner: Pin<KBox<Inner<T>>>,
}

// SAFETY: registration and deregistration may happen from any process context; the handler is
// `Send + Sync`.
unsafe impl<T: IoctlHandler> Send for MiscDevice<T> {}
// SAFETY: `&MiscDevice` exposes nothing.
unsafe impl<T: IoctlHandler> Sync for MiscDevice<T> {}

impl<T: IoctlHandler> MiscDevice<T> {
    /// Registers `/dev/<name>` with permission bits `mode`, served by `handler`.
    /// `name` must be `'static`: the misc core keeps the pointer. Errors from `misc_register`
    /// (`EBUSY` if the name is taken, `ENOMEM`).
    pub(crate) fn register(
        name: &'static CStr,
        mode: u16,
        module: &'static ThisModule,
        handler: Arc<T>,
    ) -> Result<Self> {
        let fops = bindings::file_operations {
            owner: module.as_ptr(),
            unlocked_ioctl: Some(Self::ioctl),
            // SAFETY: zero means "not implemented" for every other callback and flag.
            ..unsafe { core::mem::zeroed() }
        };
        let inner = KBox::pin(
            Inner {
                // SAFETY: an all-zero miscdevice is what C code gets from `= {}` initialisers.
                misc: Opaque::new(unsafe { core::mem::zeroed() }),
                fops,
                handler,
            },
            GFP_KERNEL,
        )?;
        let misc = inner.misc.get();
        // SAFETY: `misc` points into the pinned box and nobody else references it yet.
        unsafe {
            (*misc).minor = bindings::MISC_DYNAMIC_MINOR as i32;
            (*misc).name = name.as_char_ptr();
            (*misc).fops = &inner.fops;
            (*misc).mode = mode;
        }
        // SAFETY: `misc` is fully initialised and, being in a pinned box owned by the returned
        // value, stays valid until `misc_deregister` in `Drop`.
        kernel::error::to_result(unsafe { bindings::misc_register(misc) })?;
        Ok(MiscDevice { inner })
    }

    /// # Safety
    /// Called by the VFS for a file opened through this device (the misc core stored a pointer to
    /// `Inner::misc` in `private_data`).
    unsafe extern "C" fn ioctl(file: *mut bindings::file, cmd: c_uint, arg: c_ulong) -> c_long {
        // SAFETY: see above; `misc` is the first field of the `#[repr(C)]` `Inner<T>`, and the
        // device (so the box) outlives every open file: the module cannot be unloaded while a file
        // is open (fops owner) and `Drop` deregisters before freeing.
        let inner = unsafe { &*(*file).private_data.cast::<Inner<T>>() };
        match inner.handler.ioctl(cmd, IoctlArg(arg as UserPtr)) {
            Ok(v) => v as c_long,
            Err(e) => e.to_errno() as c_long,
        }
    }
}

impl<T: IoctlHandler> Drop for MiscDevice<T> {
    fn drop(&mut self) {
        // SAFETY: registered in `register` (type invariant).
        unsafe { bindings::misc_deregister(self.inner.misc.get()) };
    }
}
