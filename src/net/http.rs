//! HTTP/1.1 as the store speaks it, without I/O: the bytes of a request, and
//! a reader that takes a reply's bytes as they arrive and says when one whole
//! reply is in. Heads and chunk sizes are parsed by `httparse` (hyper's
//! parser); what is written here is the framing between them, and the
//! limits: a reply no bigger than DynamoDB can send, a bounded head, a
//! bounded number of interim (1xx) heads. Every length that comes over the
//! wire is checked before it is used; nothing here can panic on any input.

/// The parts of an HTTP reply the core reads.
#[derive(Debug, Default, PartialEq)]
pub struct Reply {
    pub status: u16,
    /// The `Date` header: DynamoDB's clock, to correct a skewed one.
    pub date: Option<String>,
    /// The `x-amzn-ErrorType` header.
    pub error_type: Option<String>,
    /// The `x-amzn-RequestId` header, when it is a plausible one (visible
    /// ASCII, at most `MAX_REQUEST_ID` bytes).
    pub request_id: Option<String>,
    pub body: Vec<u8>,
    /// Not HTTP's: the request went out a second time (its first connection
    /// closed before any answer), so a write it asks for may have landed twice.
    pub resent: bool,
}

/// What a reply may be: larger is not DynamoDB talking.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Limits {
    /// One head (status line and headers).
    pub head: usize,
    /// The body (DynamoDB's largest, a BatchGetItem page, is about 16 MB of data).
    pub body: u64,
    /// Interim (1xx) heads before the final one.
    pub interim: u32,
}

pub const LIMITS: Limits = Limits {
    head: 64 * 1024,
    body: 32 * 1024 * 1024,
    interim: 8,
};

/// A chunk-size line (with extensions) longer than this is not a chunk size.
const MAX_CHUNK_LINE: usize = 4 * 1024;
/// Headers one head may have (DynamoDB sends about ten).
const MAX_HEADERS: usize = 96;
/// Buffers grown past this by one reply are given back once it is read.
const KEEP_CAPACITY: usize = 64 * 1024;

/// The bytes of a POST with these headers (each `name: value`) and this body.
pub fn request(path: &str, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let head_len: usize = headers.iter().map(|(n, v)| n.len() + v.len() + 4).sum::<usize>() + path.len() + 48;
    let mut bytes = Vec::with_capacity(head_len + body.len());
    bytes.extend_from_slice(b"POST ");
    bytes.extend_from_slice(path.as_bytes());
    bytes.extend_from_slice(b" HTTP/1.1\r\n");
    for (name, value) in headers {
        bytes.extend_from_slice(name.as_bytes());
        bytes.extend_from_slice(b": ");
        bytes.extend_from_slice(value.as_bytes());
        bytes.extend_from_slice(b"\r\n");
    }
    bytes.extend_from_slice(b"content-length: ");
    bytes.extend_from_slice(body.len().to_string().as_bytes());
    bytes.extend_from_slice(b"\r\n\r\n");
    bytes.extend_from_slice(body);
    bytes
}

/// One whole reply, and what it says of the connection it came on.
#[derive(Debug, PartialEq)]
pub struct Complete {
    pub reply: Reply,
    /// The server will close (or did): the connection carries nothing more.
    pub close: bool,
    /// Bytes that arrived after the reply. A server that answers once per
    /// request never sends any: the connection is out of step.
    pub extra: usize,
}

/// Where the reader is in a reply.
#[derive(Debug)]
enum State {
    Head,
    Length {
        left: u64,
    },
    ChunkSize,
    ChunkData {
        left: u64,
    },
    /// The CRLF after a chunk's data; how much of it has arrived.
    ChunkEnd {
        seen: u8,
    },
    Trailers,
    UntilClose,
}

/// Reads one reply from the bytes of a connection, fed as they arrive.
/// Nothing is parsed twice: a head is parsed once its end has arrived, and a
/// body is taken as it comes.
#[derive(Debug)]
pub struct ReplyReader {
    limits: Limits,
    state: State,
    /// Bytes of a head, chunk-size line or trailers not yet complete.
    pending: Vec<u8>,
    /// How far `pending` has been searched for the end of a head.
    searched: usize,
    reply: Reply,
    close: bool,
    interim: u32,
    received: u64,
}

impl Default for ReplyReader {
    fn default() -> Self {
        Self::new(LIMITS)
    }
}

/// What the reader knows after some bytes.
type Read = Result<Option<Complete>, String>;

impl ReplyReader {
    pub fn new(limits: Limits) -> Self {
        ReplyReader {
            limits,
            state: State::Head,
            pending: Vec::new(),
            searched: 0,
            reply: Reply::default(),
            close: false,
            interim: 0,
            received: 0,
        }
    }

    /// The largest body the next reply may have.
    pub fn limit_body(&mut self, most: u64) {
        self.limits.body = most;
    }

    /// Whether any byte of a reply has arrived.
    pub fn started(&self) -> bool {
        self.received > 0
    }

    /// Ready for the next reply on the same connection, with memory a large
    /// reply needed given back.
    pub fn reset(&mut self) {
        let limits = self.limits;
        let mut pending = std::mem::take(&mut self.pending);
        pending.clear();
        if pending.capacity() > KEEP_CAPACITY {
            pending = Vec::new();
        }
        *self = ReplyReader {
            pending,
            ..ReplyReader::new(limits)
        };
    }

    /// Takes bytes that arrived: the whole reply once its last byte is in,
    /// None while more are due, an error when these are not a reply.
    pub fn feed(&mut self, mut bytes: &[u8]) -> Read {
        self.received = self.received.saturating_add(bytes.len() as u64);
        loop {
            let (used, done) = self.step(bytes)?;
            bytes = bytes.get(used..).unwrap_or_default();
            if done {
                return Ok(Some(self.finish(bytes.len())));
            }
            if bytes.is_empty() {
                return Ok(None);
            }
        }
    }

    /// The peer closed the connection: a body that runs until the close ends
    /// here; any other reply not yet whole never will be.
    pub fn end(&mut self) -> Read {
        match self.state {
            State::UntilClose => {
                self.close = true;
                Ok(Some(self.finish(0)))
            }
            _ => Err("the connection closed before the reply was complete".into()),
        }
    }

    fn finish(&mut self, extra: usize) -> Complete {
        let complete = Complete {
            reply: std::mem::take(&mut self.reply),
            close: self.close,
            extra,
        };
        self.reset();
        complete
    }

    /// Takes what it can of `bytes` in the current state: how many it used,
    /// and whether the reply is now whole.
    fn step(&mut self, bytes: &[u8]) -> Result<(usize, bool), String> {
        match self.state {
            State::Head => self.head(bytes),
            State::Length { left } => {
                let take = usize::try_from(left).map_or(bytes.len(), |left| left.min(bytes.len()));
                self.reply.body.extend_from_slice(&bytes[..take]);
                let left = left - take as u64;
                self.state = State::Length { left };
                Ok((take, left == 0))
            }
            State::ChunkSize => self.chunk_size(bytes),
            State::ChunkData { left } => {
                let take = usize::try_from(left).map_or(bytes.len(), |left| left.min(bytes.len()));
                self.reply.body.extend_from_slice(&bytes[..take]);
                let left = left - take as u64;
                self.state = if left == 0 {
                    State::ChunkEnd { seen: 0 }
                } else {
                    State::ChunkData { left }
                };
                Ok((take, false))
            }
            State::ChunkEnd { seen } => self.chunk_end(seen, bytes),
            State::Trailers => self.trailers(bytes),
            State::UntilClose => {
                self.grow_body(bytes.len() as u64)?;
                self.reply.body.extend_from_slice(bytes);
                Ok((bytes.len(), false))
            }
        }
    }

    /// A head, from `pending` and `bytes`, once its blank line has arrived.
    fn head(&mut self, bytes: &[u8]) -> Result<(usize, bool), String> {
        let before = self.pending.len();
        let (buf, end): (&[u8], Option<usize>) = if before == 0 {
            (bytes, head_end(bytes, 0))
        } else {
            self.pending.extend_from_slice(bytes);
            let end = head_end(&self.pending, self.searched);
            (&self.pending, end)
        };
        let Some(end) = end else {
            if buf.len() > self.limits.head {
                return Err("the reply's head is too large".into());
            }
            if before == 0 {
                self.pending.extend_from_slice(bytes);
            }
            self.searched = self.pending.len().saturating_sub(3);
            return Ok((bytes.len(), false));
        };
        if end > self.limits.head {
            return Err("the reply's head is too large".into());
        }
        let head = parse_head(&buf[..end])?;
        // What of `bytes` the head used: all that was pending came before it.
        let used = past(end, before)?;
        self.pending.clear();
        self.searched = 0;
        if (100..200).contains(&head.status) {
            self.interim += 1;
            if self.interim > self.limits.interim {
                return Err("too many interim (1xx) replies".into());
            }
            return Ok((used, false));
        }
        self.close = head.close;
        self.reply.status = head.status;
        self.reply.date = head.date;
        self.reply.error_type = head.error_type;
        self.reply.request_id = head.request_id;
        let done = match head.framing {
            _ if head.status == 204 || head.status == 304 => true,
            Framing::Chunked => {
                self.state = State::ChunkSize;
                false
            }
            Framing::Length(length) => {
                self.grow_body(length)?;
                if length > 0 {
                    let reserve = usize::try_from(length).unwrap_or(0).min(KEEP_CAPACITY);
                    self.reply.body.reserve(reserve);
                }
                self.state = State::Length { left: length };
                length == 0
            }
            Framing::UntilClose => {
                self.close = true;
                self.state = State::UntilClose;
                false
            }
        };
        Ok((used, done))
    }

    /// A chunk-size line; the last chunk (size 0) leads to the trailers.
    fn chunk_size(&mut self, bytes: &[u8]) -> Result<(usize, bool), String> {
        let before = self.pending.len();
        let buf: &[u8] = if before == 0 {
            bytes
        } else {
            self.pending.extend_from_slice(bytes);
            &self.pending
        };
        if !buf.first().is_none_or(u8::is_ascii_hexdigit) {
            return Err("a malformed chunked body".into());
        }
        match httparse::parse_chunk_size(buf) {
            Ok(httparse::Status::Complete((end, size))) => {
                let used = past(end, before)?;
                self.pending.clear();
                self.grow_body(size)?;
                self.state = if size == 0 {
                    State::Trailers
                } else {
                    State::ChunkData { left: size }
                };
                Ok((used, false))
            }
            Ok(httparse::Status::Partial) => {
                if buf.len() > MAX_CHUNK_LINE {
                    return Err("a malformed chunked body".into());
                }
                if before == 0 {
                    self.pending.extend_from_slice(bytes);
                }
                Ok((bytes.len(), false))
            }
            Err(_) => Err("a malformed chunked body".into()),
        }
    }

    /// The CRLF that ends a chunk's data, and nothing else.
    fn chunk_end(&mut self, seen: u8, bytes: &[u8]) -> Result<(usize, bool), String> {
        let mut seen = seen;
        let mut used = 0;
        for &byte in bytes.iter().take(2 - usize::from(seen.min(2))) {
            let expected = if seen == 0 { b'\r' } else { b'\n' };
            if byte != expected {
                return Err("a malformed chunked body".into());
            }
            seen += 1;
            used += 1;
        }
        self.state = if seen == 2 {
            State::ChunkSize
        } else {
            State::ChunkEnd { seen }
        };
        Ok((used, false))
    }

    /// Trailer lines after the last chunk, up to the blank line that ends the reply.
    fn trailers(&mut self, bytes: &[u8]) -> Result<(usize, bool), String> {
        let before = self.pending.len();
        self.pending.extend_from_slice(bytes);
        // No trailers: the blank line at once.
        for blank in [&b"\r\n"[..], &b"\n"[..]] {
            if self.pending.starts_with(blank) {
                self.pending.clear();
                return past(blank.len(), before).map(|used| (used, true));
            }
        }
        if self.pending[..] == b"\r"[..] {
            return Ok((bytes.len(), false));
        }
        let Some(end) = head_end(&self.pending, self.searched) else {
            if self.pending.len() > self.limits.head {
                return Err("the reply's trailers are too large".into());
            }
            self.searched = self.pending.len().saturating_sub(3);
            return Ok((bytes.len(), false));
        };
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        match httparse::parse_headers(&self.pending[..end], &mut headers) {
            Ok(httparse::Status::Complete(_)) => {}
            _ => return Err("malformed trailers".into()),
        }
        self.pending.clear();
        self.searched = 0;
        past(end, before).map(|used| (used, true))
    }

    /// Counts `more` body bytes against the limit.
    fn grow_body(&mut self, more: u64) -> Result<(), String> {
        let total = (self.reply.body.len() as u64).checked_add(more);
        match total {
            Some(total) if total <= self.limits.body => Ok(()),
            _ => Err(format!(
                "the reply is larger than DynamoDB sends ({} MB at most)",
                self.limits.body / (1024 * 1024)
            )),
        }
    }
}

/// Where a head ends (just past its blank line), searching from `from`;
/// a bare LF line end is taken as well as CRLF.
fn head_end(buf: &[u8], from: usize) -> Option<usize> {
    let mut at = from.min(buf.len());
    while let Some(found) = buf[at..].iter().position(|&b| b == b'\n') {
        let lf = at + found;
        match (buf.get(lf + 1), buf.get(lf + 2)) {
            (Some(b'\n'), _) => return Some(lf + 2),
            (Some(b'\r'), Some(b'\n')) => return Some(lf + 3),
            _ => at = lf + 1,
        }
    }
    None
}

/// How many of the new bytes a unit ending at `end` used, when `before`
/// bytes of it were pending: it always ends among the new ones.
fn past(end: usize, before: usize) -> Result<usize, String> {
    end.checked_sub(before)
        .ok_or_else(|| "the reply could not be read".to_string())
}

enum Framing {
    Length(u64),
    Chunked,
    UntilClose,
}

struct Head {
    status: u16,
    framing: Framing,
    close: bool,
    date: Option<String>,
    error_type: Option<String>,
    request_id: Option<String>,
}

/// DynamoDB's request ids are 52 characters; a longer one is not kept.
const MAX_REQUEST_ID: usize = 128;

fn parse_head(buf: &[u8]) -> Result<Head, String> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut response = httparse::Response::new(&mut headers);
    match response.parse(buf) {
        Ok(httparse::Status::Complete(_)) => {}
        Ok(httparse::Status::Partial) => return Err("not an HTTP response".into()),
        Err(httparse::Error::TooManyHeaders) => return Err("the reply has too many headers".into()),
        Err(err) => return Err(format!("not an HTTP response ({err})")),
    }
    let status = response.code.ok_or("a response without a status")?;
    if !(100..600).contains(&status) {
        return Err(format!("a response with status {status}"));
    }
    let mut head = Head {
        status,
        framing: Framing::UntilClose,
        close: response.version != Some(1),
        date: None,
        error_type: None,
        request_id: None,
    };
    let mut length: Option<u64> = None;
    let mut chunked = false;
    for header in response.headers.iter() {
        let name = header.name;
        let value = std::str::from_utf8(header.value).ok().map(str::trim);
        if name.eq_ignore_ascii_case("content-length") {
            let value = value
                .filter(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|v| v.parse::<u64>().ok())
                .ok_or("a bad Content-Length")?;
            if length.is_some_and(|seen| seen != value) {
                return Err("two different Content-Lengths".into());
            }
            length = Some(value);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            if !value.is_some_and(|v| v.eq_ignore_ascii_case("chunked")) || chunked {
                return Err("a Transfer-Encoding other than chunked".into());
            }
            chunked = true;
        } else if name.eq_ignore_ascii_case("connection") {
            let tokens = value.unwrap_or_default().split(',').map(str::trim);
            if tokens.clone().any(|t| t.eq_ignore_ascii_case("close")) {
                head.close = true;
            }
        } else if name.eq_ignore_ascii_case("date") {
            head.date = value.map(str::to_string);
        } else if name.eq_ignore_ascii_case("x-amzn-errortype") {
            head.error_type = value.map(str::to_string);
        } else if name.eq_ignore_ascii_case("x-amzn-requestid") && head.request_id.is_none() {
            // The first plausible one: a repeat after it (a proxy's own) does not replace it.
            head.request_id = value
                .filter(|v| !v.is_empty() && v.len() <= MAX_REQUEST_ID && v.bytes().all(|b| b.is_ascii_graphic()))
                .map(str::to_string);
        }
    }
    head.framing = match (chunked, length) {
        (true, Some(_)) => return Err("both Content-Length and Transfer-Encoding".into()),
        (true, None) => Framing::Chunked,
        (false, Some(length)) => Framing::Length(length),
        (false, None) => Framing::UntilClose,
    };
    Ok(head)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `raw` in pieces of `size` bytes; the first whole reply.
    fn read_in(raw: &[u8], size: usize) -> Result<Option<Complete>, String> {
        let mut reader = ReplyReader::default();
        for piece in raw.chunks(size.max(1)) {
            if let Some(done) = reader.feed(piece)? {
                return Ok(Some(done));
            }
        }
        Ok(None)
    }

    fn read(raw: &[u8]) -> Result<Option<Complete>, String> {
        read_in(raw, raw.len())
    }

    #[test]
    fn a_reply_by_content_length_with_the_headers_the_core_reads() {
        let raw = b"HTTP/1.1 400 Bad Request\r\nx-amzn-ErrorType: ThrottlingException:http://x\r\n\
            Date: Sat, 05 Dec 2026 07:00:00 GMT\r\nContent-Length: 2\r\n\r\n{}";
        assert!(read(&raw[..raw.len() - 1]).unwrap().is_none());
        let done = read(raw).unwrap().unwrap();
        assert_eq!(done.reply.status, 400);
        assert_eq!(done.reply.error_type.as_deref(), Some("ThrottlingException:http://x"));
        assert_eq!(done.reply.date.as_deref(), Some("Sat, 05 Dec 2026 07:00:00 GMT"));
        assert_eq!(done.reply.body, b"{}");
        assert_eq!((done.close, done.extra), (false, 0));
    }

    #[test]
    fn a_request_id_is_kept_only_when_plausible_and_the_first_plausible_one_wins() {
        let id = |headers: &str| {
            let raw = format!("HTTP/1.1 200 OK\r\n{headers}Content-Length: 0\r\n\r\n");
            read(raw.as_bytes()).unwrap().unwrap().reply.request_id
        };
        assert_eq!(id("x-amzn-RequestId: ABC-1\r\n").as_deref(), Some("ABC-1"));
        assert_eq!(
            id(&format!("x-amzn-RequestId: {}\r\n", "a".repeat(128))).map(|v| v.len()),
            Some(128)
        );
        for bad in ["", "a b", &"a".repeat(129)] {
            assert_eq!(id(&format!("x-amzn-RequestId: {bad}\r\n")), None, "{bad:?}");
        }
        let repeated = format!("x-amzn-RequestId: FIRST\r\nx-amzn-RequestId: {}\r\n", "b".repeat(200));
        assert_eq!(id(&repeated).as_deref(), Some("FIRST"));
        assert_eq!(
            id("x-amzn-RequestId: FIRST\r\nX-AMZN-REQUESTID: SECOND\r\n").as_deref(),
            Some("FIRST")
        );
        assert_eq!(
            id("x-amzn-RequestId: a b\r\nx-amzn-RequestId: LATER\r\n").as_deref(),
            Some("LATER")
        );
    }

    #[test]
    fn the_same_reply_whatever_the_reads_it_arrives_in() {
        let raw: &[u8] = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\n{\"a\":\r\n2\r\n1}\r\n0\r\nx-trailer: y\r\n\r\n";
        let whole = read(raw).unwrap().unwrap();
        assert_eq!(whole.reply.body, b"{\"a\":1}");
        for size in 1..raw.len() {
            assert_eq!(read_in(raw, size).unwrap().unwrap(), whole, "in pieces of {size}");
        }
    }

    #[test]
    fn chunked_and_close_delimited_bodies_arrive_whole() {
        let chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{\"a\":\r\n2\r\n1}\r\n0\r\n\r\n";
        assert!(read(&chunked[..chunked.len() - 1]).unwrap().is_none());
        assert_eq!(read(chunked).unwrap().unwrap().reply.body, b"{\"a\":1}");
        let mut reader = ReplyReader::default();
        assert!(reader.feed(b"HTTP/1.0 200 OK\r\n\r\n{\"b\":2}").unwrap().is_none());
        let done = reader.end().unwrap().unwrap();
        assert_eq!(
            (done.reply.body.as_slice(), done.close),
            (b"{\"b\":2}".as_slice(), true)
        );
    }

    #[test]
    fn a_continue_is_skipped_and_garbage_is_an_error_not_a_panic() {
        let raw = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
        let done = read(raw).unwrap().unwrap();
        assert_eq!((done.reply.status, done.close), (200, true));
        assert!(read(b"SSH-2.0-OpenSSH\r\n\r\n").is_err());
        assert!(read(b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n").is_err());
        assert!(read(b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n").is_err());
        assert!(read(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n").is_err());
        assert!(read(b"HTTP/1.1\r\n\r\n").is_err());
        assert!(read(&[0xff; 10]).unwrap().is_none());
        assert!(read(&[0xff; 10 * 1024 * 1024]).is_err());
    }

    #[test]
    fn a_chunk_size_that_overflows_is_an_error() {
        let head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
        for size in ["ffffffffffffffff", "fffffffffffffffff0", "10000000000000000", "2000001"] {
            let mut raw = head.clone();
            raw.extend_from_slice(format!("{size}\r\nxx").as_bytes());
            let err = read(&raw).unwrap_err();
            assert!(err.contains("chunked") || err.contains("larger"), "{size}: {err}");
        }
        // An empty size line is not the last chunk.
        let mut raw = head.clone();
        raw.extend_from_slice(b"\r\n\r\n");
        assert!(read(&raw).is_err());
    }

    #[test]
    fn a_chunk_must_end_with_crlf_and_the_body_with_a_blank_line() {
        let head = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
        assert!(read(format!("{head}2\r\n{{}}XX0\r\n\r\n").as_bytes()).is_err());
        assert!(read(format!("{head}0\r\nnot a trailer\r\n\r\n").as_bytes()).is_err());
        // Bytes after the blank line are counted, not read as part of this reply.
        let done = read(format!("{head}0\r\n\r\nHTTP/1.1 200 OK\r\n").as_bytes())
            .unwrap()
            .unwrap();
        assert_eq!(done.extra, 17);
    }

    #[test]
    fn bytes_after_a_reply_are_reported() {
        let raw = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}HTTP/1.1 200 OK\r\n";
        assert_eq!(read(raw).unwrap().unwrap().extra, 17);
    }

    #[test]
    fn replies_larger_than_the_limits_are_refused_before_they_are_read() {
        let huge = b"HTTP/1.1 200 OK\r\nContent-Length: 100000000000\r\n\r\n";
        assert!(read(huge).unwrap_err().contains("larger"));
        let max = u64::MAX.to_string();
        assert!(read(format!("HTTP/1.1 200 OK\r\nContent-Length: {max}\r\n\r\n").as_bytes()).is_err());
        let mut reader = ReplyReader::new(Limits { body: 10, ..LIMITS });
        assert!(reader.feed(b"HTTP/1.1 200 OK\r\n\r\n0123456789").unwrap().is_none());
        assert!(reader.feed(b"x").is_err());
        let mut chunks = ReplyReader::new(Limits { body: 4, ..LIMITS });
        assert!(chunks
            .feed(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n3\r\n")
            .is_err());
        let mut interim = b"HTTP/1.1 100 Continue\r\n\r\n".repeat(9);
        interim.extend_from_slice(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
        assert!(read(&interim).unwrap_err().contains("interim"));
        let long_head = format!("HTTP/1.1 200 OK\r\nx: {}\r\n\r\n", "a".repeat(70_000));
        assert!(read_in(long_head.as_bytes(), 1000).unwrap_err().contains("head"));
    }

    #[test]
    fn smuggling_shapes_are_refused() {
        assert!(read(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}").is_err());
        assert!(read(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n").is_err());
        assert!(read(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n").is_err());
        // The same length twice is one length.
        let same = read(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\n{}").unwrap();
        assert_eq!(same.unwrap().reply.body, b"{}");
    }

    #[test]
    fn a_reader_gives_back_what_a_large_reply_needed() {
        let mut reader = ReplyReader::default();
        let head = b"HTTP/1.1 200 OK\r\nx: ";
        reader.feed(head).unwrap();
        reader.feed(&vec![b'a'; 60_000]).unwrap();
        assert!(reader.pending.capacity() > KEEP_CAPACITY || reader.pending.len() >= 60_000);
        let done = reader.feed(b"\r\nContent-Length: 0\r\n\r\n").unwrap().unwrap();
        assert_eq!(done.reply.status, 200);
        assert!(reader.pending.capacity() <= KEEP_CAPACITY);
        assert!(!reader.started());
    }

    #[test]
    fn no_body_for_204_and_connection_close_is_a_token_in_a_list() {
        let done = read(b"HTTP/1.1 204 No Content\r\nConnection: keep-alive, Close\r\n\r\n")
            .unwrap()
            .unwrap();
        assert_eq!((done.reply.status, done.close, done.reply.body.len()), (204, true, 0));
    }

    #[test]
    fn a_request_is_a_post_with_its_length() {
        let bytes = request("/", &[("host", "h"), ("x-amz-target", "T")], b"{}");
        assert_eq!(
            bytes,
            b"POST / HTTP/1.1\r\nhost: h\r\nx-amz-target: T\r\ncontent-length: 2\r\n\r\n{}"
        );
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use proptest::prelude::*;

    /// `raw` fed in pieces cut at `cuts` (positions, any order).
    fn feed_cut(raw: &[u8], cuts: &[usize], limits: Limits) -> (Result<Option<Complete>, String>, usize) {
        let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (raw.len() + 1)).collect();
        cuts.push(raw.len());
        cuts.sort_unstable();
        let mut reader = ReplyReader::new(limits);
        let mut at = 0;
        let mut most_pending = 0;
        for cut in cuts {
            let piece = &raw[at..cut];
            at = cut;
            match reader.feed(piece) {
                Ok(None) => most_pending = most_pending.max(reader.pending.len()),
                other => return (other, most_pending),
            }
        }
        (Ok(None), most_pending)
    }

    /// A reply as a server may frame it: by length, chunked (with extensions
    /// and trailers), or until the close.
    fn reply_strategy() -> impl Strategy<Value = (Vec<u8>, Vec<u8>, u8)> {
        (
            prop::collection::vec(any::<u8>(), 0..300),
            0u8..3,
            prop::collection::vec(1usize..40, 1..6),
            any::<bool>(),
        )
            .prop_map(|(body, framing, sizes, trailers)| {
                let mut raw = b"HTTP/1.1 200 OK\r\nDate: d\r\nx-amzn-RequestId: r\r\n".to_vec();
                match framing {
                    0 => {
                        raw.extend_from_slice(format!("Content-Length: {}\r\n\r\n", body.len()).as_bytes());
                        raw.extend_from_slice(&body);
                    }
                    1 => {
                        raw.extend_from_slice(b"Transfer-Encoding: chunked\r\n\r\n");
                        let mut rest = &body[..];
                        let mut i = 0;
                        while !rest.is_empty() {
                            let n = sizes[i % sizes.len()].min(rest.len());
                            raw.extend_from_slice(format!("{n:x};i={i}\r\n").as_bytes());
                            raw.extend_from_slice(&rest[..n]);
                            raw.extend_from_slice(b"\r\n");
                            rest = &rest[n..];
                            i += 1;
                        }
                        raw.extend_from_slice(b"0\r\n");
                        if trailers {
                            raw.extend_from_slice(b"x-checksum: 1\r\n");
                        }
                        raw.extend_from_slice(b"\r\n");
                    }
                    _ => {
                        raw.extend_from_slice(b"Connection: close\r\n\r\n");
                        raw.extend_from_slice(&body);
                    }
                }
                (raw, body, framing)
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn any_bytes_in_any_pieces_never_panic_and_hold_no_more_than_the_limits(
            raw in prop::collection::vec(any::<u8>(), 0..2048),
            cuts in prop::collection::vec(any::<usize>(), 0..8),
        ) {
            let limits = Limits { head: 256, body: 512, interim: 2 };
            let (read, most_pending) = feed_cut(&raw, &cuts, limits);
            prop_assert!(most_pending <= limits.head + MAX_CHUNK_LINE + 2048);
            if let Ok(Some(done)) = read {
                prop_assert!(done.reply.body.len() as u64 <= limits.body);
            }
        }

        #[test]
        fn http_looking_garbage_never_panics(
            lines in prop::collection::vec(
                prop::sample::select(vec![
                    "HTTP/1.1 200 OK", "HTTP/1.1 100 Continue", "HTTP/1.0 204 x", "Content-Length: 3",
                    "Content-Length: 99999999999999999999", "Transfer-Encoding: chunked", "Connection: close",
                    "", "ffffffffffffffff", "3", "abc", "0", "x: y", "-1", "\u{0}",
                ]),
                0..20,
            ),
            cuts in prop::collection::vec(any::<usize>(), 0..6),
        ) {
            let raw = lines.join("\r\n").into_bytes();
            let (read, _) = feed_cut(&raw, &cuts, LIMITS);
            if let Ok(Some(done)) = read {
                prop_assert!(done.reply.body.len() <= raw.len());
            }
        }

        #[test]
        fn a_reply_reads_the_same_whatever_pieces_it_arrives_in(
            (raw, body, framing) in reply_strategy(),
            cuts in prop::collection::vec(any::<usize>(), 0..10),
            extra in prop::collection::vec(any::<u8>(), 0..20),
        ) {
            let mut reader = ReplyReader::default();
            let mut all = raw.clone();
            if framing != 2 {
                all.extend_from_slice(&extra);
            }
            let (read, _) = feed_cut(&all, &cuts, LIMITS);
            let done = match (read, framing) {
                (Ok(Some(done)), 0 | 1) => done,
                (Ok(None), 2) => {
                    reader.feed(&raw).unwrap();
                    reader.end().unwrap().unwrap()
                }
                (other, _) => return Err(TestCaseError::fail(format!("{other:?}"))),
            };
            prop_assert_eq!(&done.reply.body, &body);
            prop_assert_eq!(done.reply.status, 200);
            prop_assert_eq!(done.reply.date.as_deref(), Some("d"));
            if framing != 2 {
                // Only what arrived in the piece that ended the reply is seen as extra.
                prop_assert!(done.extra <= extra.len());
                let whole = ReplyReader::default().feed(&all).unwrap().unwrap();
                prop_assert_eq!(whole.extra, extra.len());
            }
        }
    }
}
