//! The few libuv functions the core's own sockets use, from the libuv inside
//! Node (every Node exports them for addons), and owned wrappers for its
//! handles.
//!
//! A handle is memory libuv writes into until its close callback has run, so
//! each wrapper allocates its handle on the heap, and `Drop` hands it to
//! `uv_close`, whose callback frees it. Every call here must happen on the
//! thread that runs the loop (Node's JS thread). `Handles` counts a
//! carrier's handles until their close callbacks have run, and holds Node's
//! environment open (an async cleanup hook) while any is left: a worker that
//! ends with a store's sockets open closes them first, and its loop is never
//! torn down under an open handle.

use std::cell::{Cell, RefCell};
use std::ffi::{c_char, c_int, c_void};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::rc::Rc;

use napi::sys;

#[allow(non_camel_case_types)]
pub type uv_loop_t = c_void;
#[allow(non_camel_case_types)]
type uv_handle_t = c_void;

pub const READABLE: c_int = 1;
pub const WRITABLE: c_int = 2;

const UV_POLL: c_int = 8;
const UV_TIMER: c_int = 13;

type PollCallback = unsafe extern "C" fn(*mut uv_handle_t, c_int, c_int);
type TimerCallback = unsafe extern "C" fn(*mut uv_handle_t);
type CloseCallback = unsafe extern "C" fn(*mut uv_handle_t);

extern "C" {
    fn uv_handle_size(kind: c_int) -> usize;
    fn uv_poll_init_socket(event_loop: *mut uv_loop_t, handle: *mut uv_handle_t, socket: c_int) -> c_int;
    fn uv_poll_start(handle: *mut uv_handle_t, events: c_int, callback: PollCallback) -> c_int;
    fn uv_poll_stop(handle: *mut uv_handle_t) -> c_int;
    fn uv_timer_init(event_loop: *mut uv_loop_t, handle: *mut uv_handle_t) -> c_int;
    fn uv_timer_start(handle: *mut uv_handle_t, callback: TimerCallback, timeout: u64, repeat: u64) -> c_int;
    fn uv_timer_stop(handle: *mut uv_handle_t) -> c_int;
    fn uv_close(handle: *mut uv_handle_t, callback: CloseCallback);
    fn uv_unref(handle: *mut uv_handle_t);
    fn uv_strerror(err: c_int) -> *const c_char;
}

/// libuv's text for one of its (negative) error numbers.
pub fn error_text(err: c_int) -> String {
    let text = unsafe { uv_strerror(err) };
    if text.is_null() {
        return format!("libuv error {err}");
    }
    unsafe { std::ffi::CStr::from_ptr(text) }.to_string_lossy().into_owned()
}

/// Heap memory for one handle or request, 16-byte aligned. `data` (the
/// first field of every libuv handle and request) points back to its owner.
struct Memory(*mut c_void);

impl Memory {
    fn new(size: usize, data: *mut c_void) -> Self {
        let words = size.div_ceil(16).max(1);
        let block: Box<[u128]> = vec![0u128; words].into_boxed_slice();
        let raw = Box::into_raw(block) as *mut c_void;
        unsafe { *(raw as *mut *mut c_void) = data };
        // The length is recovered from libuv's own size when it is freed.
        Memory(raw)
    }

    /// Frees memory made by `new` for a block of `size` bytes.
    unsafe fn free(raw: *mut c_void, size: usize) {
        let words = size.div_ceil(16).max(1);
        drop(Box::from_raw(std::ptr::slice_from_raw_parts_mut(
            raw as *mut u128,
            words,
        )));
    }
}

/// The owner a handle's `data` points to.
pub unsafe fn data_of<T>(handle: *mut c_void) -> *mut T {
    *(handle as *mut *mut T)
}

/// A carrier's libuv handles, counted until their close callbacks have run.
/// While the carrier lives, or any of its handles is still closing, an async
/// cleanup hook holds Node's environment open; when the environment ends
/// first, the hook runs `on_teardown` (which drops the carrier, closing
/// every handle) and Node's loop keeps turning until the last has closed.
pub struct Handles {
    hook: Cell<sys::napi_async_cleanup_hook_handle>,
    /// The hook's own reference to this, given back when it is removed.
    hook_arg: Cell<*const Handles>,
    open: Cell<usize>,
    /// The carrier is gone: the hook goes once no handle is open.
    released: Cell<bool>,
    on_teardown: RefCell<Option<Box<dyn FnOnce()>>>,
}

impl Handles {
    /// Without the hook (a runtime without it), handles are still counted.
    pub fn new(env: sys::napi_env, on_teardown: impl FnOnce() + 'static) -> Rc<Handles> {
        let handles = Rc::new(Handles {
            hook: Cell::new(std::ptr::null_mut()),
            hook_arg: Cell::new(std::ptr::null()),
            open: Cell::new(0),
            released: Cell::new(false),
            on_teardown: RefCell::new(Some(Box::new(on_teardown))),
        });
        let arg = Rc::into_raw(handles.clone());
        let mut hook = std::ptr::null_mut();
        let status =
            unsafe { sys::napi_add_async_cleanup_hook(env, Some(on_env_teardown), arg as *mut c_void, &mut hook) };
        if status == sys::Status::napi_ok && !hook.is_null() {
            handles.hook.set(hook);
            handles.hook_arg.set(arg);
        } else {
            drop(unsafe { Rc::from_raw(arg) });
        }
        handles
    }

    /// The carrier has dropped its handles: once they have closed, the
    /// environment need not wait for this any more.
    pub fn release(self: &Rc<Self>) {
        self.released.set(true);
        self.on_teardown.borrow_mut().take();
        if self.open.get() == 0 {
            self.remove_hook();
        }
    }

    fn opened(&self) {
        self.open.set(self.open.get() + 1);
    }

    fn closed(self: &Rc<Self>) {
        self.open.set(self.open.get().saturating_sub(1));
        if self.open.get() == 0 && self.released.get() {
            self.remove_hook();
        }
    }

    /// Callers hold an `Rc` of their own: the hook's may be the one dropped here.
    fn remove_hook(self: &Rc<Self>) {
        let hook = self.hook.replace(std::ptr::null_mut());
        let arg = self.hook_arg.replace(std::ptr::null());
        if hook.is_null() {
            return;
        }
        unsafe { sys::napi_remove_async_cleanup_hook(hook) };
        if !arg.is_null() {
            drop(unsafe { Rc::from_raw(arg) });
        }
    }
}

/// Node's environment is ending (a worker stops, the process exits).
unsafe extern "C" fn on_env_teardown(_hook: sys::napi_async_cleanup_hook_handle, arg: *mut c_void) {
    let arg = arg as *const Handles;
    if arg.is_null() {
        return;
    }
    Rc::increment_strong_count(arg);
    let handles = Rc::from_raw(arg);
    let _ = catch_unwind(AssertUnwindSafe(|| {
        let teardown = handles.on_teardown.borrow_mut().take();
        if let Some(teardown) = teardown {
            teardown();
        }
        // Whatever happened, the environment must not wait for ever.
        handles.released.set(true);
        if handles.open.get() == 0 {
            handles.remove_hook();
        }
    }));
}

/// A handle's memory after `uv_close`: its `data` now points to its `Handles`.
unsafe fn closed_handle(handle: *mut uv_handle_t, size: usize) {
    let handles = data_of::<Handles>(handle);
    Memory::free(handle, size);
    if !handles.is_null() {
        let handles = Rc::from_raw(handles);
        let _ = catch_unwind(AssertUnwindSafe(|| handles.closed()));
    }
}

/// Closes a handle: its `data` is pointed at `handles` for the close callback.
unsafe fn close(handle: *mut uv_handle_t, handles: &Rc<Handles>, callback: CloseCallback) {
    *(handle as *mut *const Handles) = Rc::into_raw(handles.clone());
    uv_close(handle, callback);
}

unsafe extern "C" fn closed_poll(handle: *mut uv_handle_t) {
    closed_handle(handle, uv_handle_size(UV_POLL));
}

unsafe extern "C" fn closed_timer(handle: *mut uv_handle_t) {
    closed_handle(handle, uv_handle_size(UV_TIMER));
}

/// A `uv_poll_t` watching one socket. It never keeps the loop alive on its
/// own: a store with calls pending does that.
pub struct Poll(*mut uv_handle_t, Rc<Handles>);

impl Poll {
    /// `data` is what the callback finds with `data_of`.
    pub fn new(
        event_loop: *mut uv_loop_t,
        socket: c_int,
        data: *mut c_void,
        handles: &Rc<Handles>,
    ) -> Result<Self, String> {
        let memory = Memory::new(unsafe { uv_handle_size(UV_POLL) }, data);
        let status = unsafe { uv_poll_init_socket(event_loop, memory.0, socket) };
        if status != 0 {
            unsafe { Memory::free(memory.0, uv_handle_size(UV_POLL)) };
            return Err(error_text(status));
        }
        handles.opened();
        unsafe { uv_unref(memory.0) };
        Ok(Poll(memory.0, handles.clone()))
    }

    pub fn start(&self, events: c_int, callback: PollCallback) -> Result<(), String> {
        match unsafe { uv_poll_start(self.0, events, callback) } {
            0 => Ok(()),
            err => Err(error_text(err)),
        }
    }
}

impl Drop for Poll {
    fn drop(&mut self) {
        unsafe {
            uv_poll_stop(self.0);
            close(self.0, &self.1, closed_poll);
        }
    }
}

/// A `uv_timer_t`; like a poll, it never keeps the loop alive on its own.
pub struct Timer(*mut uv_handle_t, Rc<Handles>);

impl Timer {
    pub fn new(event_loop: *mut uv_loop_t, data: *mut c_void, handles: &Rc<Handles>) -> Result<Self, String> {
        let memory = Memory::new(unsafe { uv_handle_size(UV_TIMER) }, data);
        let status = unsafe { uv_timer_init(event_loop, memory.0) };
        if status != 0 {
            unsafe { Memory::free(memory.0, uv_handle_size(UV_TIMER)) };
            return Err(error_text(status));
        }
        handles.opened();
        unsafe { uv_unref(memory.0) };
        Ok(Timer(memory.0, handles.clone()))
    }

    pub fn start(&self, after_ms: u64, callback: TimerCallback) {
        unsafe { uv_timer_start(self.0, callback, after_ms, 0) };
    }

    pub fn stop(&self) {
        unsafe { uv_timer_stop(self.0) };
    }
}

impl Drop for Timer {
    fn drop(&mut self) {
        unsafe {
            uv_timer_stop(self.0);
            close(self.0, &self.1, closed_timer);
        }
    }
}
