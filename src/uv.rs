//! The few libuv functions the socket pool uses, from the libuv inside Node
//! (every Node exports them for addons), and owned wrappers for its handles.
//!
//! A handle is memory libuv writes into until its close callback has run, so
//! each wrapper allocates its handle on the heap, and `Drop` hands it to
//! `uv_close`, whose callback frees it. Every call here must happen on the
//! thread that runs the loop (Node's JS thread).

use std::ffi::{c_char, c_int, c_void, CString};

#[allow(non_camel_case_types)]
pub type uv_loop_t = c_void;
#[allow(non_camel_case_types)]
type uv_handle_t = c_void;

pub const READABLE: c_int = 1;
pub const WRITABLE: c_int = 2;

const UV_POLL: c_int = 8;
const UV_TIMER: c_int = 13;
const UV_GETADDRINFO: c_int = 8;

type PollCallback = unsafe extern "C" fn(*mut uv_handle_t, c_int, c_int);
type TimerCallback = unsafe extern "C" fn(*mut uv_handle_t);
type CloseCallback = unsafe extern "C" fn(*mut uv_handle_t);
type AddrInfoCallback = unsafe extern "C" fn(*mut c_void, c_int, *mut libc::addrinfo);

extern "C" {
    fn uv_handle_size(kind: c_int) -> usize;
    fn uv_req_size(kind: c_int) -> usize;
    fn uv_poll_init_socket(event_loop: *mut uv_loop_t, handle: *mut uv_handle_t, socket: c_int) -> c_int;
    fn uv_poll_start(handle: *mut uv_handle_t, events: c_int, callback: PollCallback) -> c_int;
    fn uv_poll_stop(handle: *mut uv_handle_t) -> c_int;
    fn uv_timer_init(event_loop: *mut uv_loop_t, handle: *mut uv_handle_t) -> c_int;
    fn uv_timer_start(handle: *mut uv_handle_t, callback: TimerCallback, timeout: u64, repeat: u64) -> c_int;
    fn uv_timer_stop(handle: *mut uv_handle_t) -> c_int;
    fn uv_close(handle: *mut uv_handle_t, callback: CloseCallback);
    fn uv_ref(handle: *mut uv_handle_t);
    fn uv_unref(handle: *mut uv_handle_t);
    fn uv_now(event_loop: *const uv_loop_t) -> u64;
    fn uv_strerror(err: c_int) -> *const c_char;
    fn uv_getaddrinfo(
        event_loop: *mut uv_loop_t,
        req: *mut c_void,
        callback: AddrInfoCallback,
        node: *const c_char,
        service: *const c_char,
        hints: *const libc::addrinfo,
    ) -> c_int;
    fn uv_freeaddrinfo(info: *mut libc::addrinfo);
}

/// The loop's idea of now, in ms (cached once per loop iteration).
pub fn now(event_loop: *mut uv_loop_t) -> u64 {
    unsafe { uv_now(event_loop) }
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

unsafe extern "C" fn free_poll(handle: *mut uv_handle_t) {
    Memory::free(handle, uv_handle_size(UV_POLL));
}

unsafe extern "C" fn free_timer(handle: *mut uv_handle_t) {
    Memory::free(handle, uv_handle_size(UV_TIMER));
}

/// A `uv_poll_t` watching one socket.
pub struct Poll(*mut uv_handle_t);

impl Poll {
    /// `data` is what the callback finds with `data_of`.
    pub fn new(event_loop: *mut uv_loop_t, socket: c_int, data: *mut c_void) -> Result<Self, String> {
        let memory = Memory::new(unsafe { uv_handle_size(UV_POLL) }, data);
        let status = unsafe { uv_poll_init_socket(event_loop, memory.0, socket) };
        if status != 0 {
            unsafe { Memory::free(memory.0, uv_handle_size(UV_POLL)) };
            return Err(error_text(status));
        }
        Ok(Poll(memory.0))
    }

    pub fn start(&self, events: c_int, callback: PollCallback) -> Result<(), String> {
        match unsafe { uv_poll_start(self.0, events, callback) } {
            0 => Ok(()),
            err => Err(error_text(err)),
        }
    }

    /// Whether the handle keeps Node's loop (and so the process) alive.
    pub fn keep_alive(&self, keep: bool) {
        keep_alive(self.0, keep)
    }
}

impl Drop for Poll {
    fn drop(&mut self) {
        unsafe {
            uv_poll_stop(self.0);
            uv_close(self.0, free_poll);
        }
    }
}

/// Whether a handle keeps Node's loop (and so the process) alive.
fn keep_alive(handle: *mut uv_handle_t, keep: bool) {
    unsafe {
        if keep {
            uv_ref(handle)
        } else {
            uv_unref(handle)
        }
    }
}

/// A `uv_timer_t`.
pub struct Timer(*mut uv_handle_t);

impl Timer {
    pub fn new(event_loop: *mut uv_loop_t, data: *mut c_void) -> Result<Self, String> {
        let memory = Memory::new(unsafe { uv_handle_size(UV_TIMER) }, data);
        let status = unsafe { uv_timer_init(event_loop, memory.0) };
        if status != 0 {
            unsafe { Memory::free(memory.0, uv_handle_size(UV_TIMER)) };
            return Err(error_text(status));
        }
        Ok(Timer(memory.0))
    }

    pub fn start(&self, after_ms: u64, callback: TimerCallback) {
        unsafe { uv_timer_start(self.0, callback, after_ms, 0) };
    }

    pub fn stop(&self) {
        unsafe { uv_timer_stop(self.0) };
    }

    pub fn keep_alive(&self, keep: bool) {
        keep_alive(self.0, keep)
    }
}

impl Drop for Timer {
    fn drop(&mut self) {
        unsafe {
            uv_timer_stop(self.0);
            uv_close(self.0, free_timer);
        }
    }
}

/// A name resolved on libuv's thread pool; `callback(data, result)` runs on
/// the loop's thread with the addresses, or libuv's error.
pub fn resolve(
    event_loop: *mut uv_loop_t,
    host: &str,
    port: u16,
    data: *mut c_void,
    callback: unsafe extern "C" fn(*mut c_void, c_int, *mut libc::addrinfo),
) -> Result<(), String> {
    let node = CString::new(host).map_err(|_| "a host name with a NUL byte".to_string())?;
    let service = CString::new(port.to_string()).map_err(|_| "a bad port".to_string())?;
    let mut hints: libc::addrinfo = unsafe { std::mem::zeroed() };
    hints.ai_family = libc::AF_UNSPEC;
    hints.ai_socktype = libc::SOCK_STREAM;
    let size = unsafe { uv_req_size(UV_GETADDRINFO) };
    let memory = Memory::new(size, data);
    let status = unsafe { uv_getaddrinfo(event_loop, memory.0, callback, node.as_ptr(), service.as_ptr(), &hints) };
    if status != 0 {
        unsafe { Memory::free(memory.0, size) };
        return Err(error_text(status));
    }
    Ok(())
}

/// Frees a finished resolution's request and addresses; returns the addresses.
pub unsafe fn finish_resolve(req: *mut c_void, info: *mut libc::addrinfo) -> Vec<std::net::SocketAddr> {
    let mut addresses = Vec::new();
    let mut at = info;
    while !at.is_null() {
        let entry = &*at;
        if let Some(address) = socket_address(entry.ai_addr) {
            addresses.push(address);
        }
        at = entry.ai_next;
    }
    if !info.is_null() {
        uv_freeaddrinfo(info);
    }
    Memory::free(req, uv_req_size(UV_GETADDRINFO));
    addresses
}

/// A C `sockaddr` of either family as a Rust address.
unsafe fn socket_address(raw: *const libc::sockaddr) -> Option<std::net::SocketAddr> {
    use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV6};
    if raw.is_null() {
        return None;
    }
    match c_int::from((*raw).sa_family) {
        libc::AF_INET => {
            let v4 = &*(raw as *const libc::sockaddr_in);
            let ip = Ipv4Addr::from(u32::from_be(v4.sin_addr.s_addr));
            Some(SocketAddr::from((ip, u16::from_be(v4.sin_port))))
        }
        libc::AF_INET6 => {
            let v6 = &*(raw as *const libc::sockaddr_in6);
            let ip = Ipv6Addr::from(v6.sin6_addr.s6_addr);
            let port = u16::from_be(v6.sin6_port);
            Some(SocketAddr::V6(SocketAddrV6::new(
                ip,
                port,
                v6.sin6_flowinfo,
                v6.sin6_scope_id,
            )))
        }
        _ => None,
    }
}
