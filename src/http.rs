//! Reading an HTTP/1.1 response as DynamoDB sends one: a status line,
//! headers, and a body by Content-Length, chunked, or until the connection
//! closes. Only what the core needs is kept: the status, `Date` (DynamoDB's
//! clock), `x-amzn-ErrorType` and the body.

use crate::transport::Reply;

/// A whole response, and whether the connection must close after it.
#[derive(Debug)]
pub struct Parsed {
    pub reply: Reply,
    pub close: bool,
}

/// Headers larger than this are not a DynamoDB reply.
const MAX_HEAD: usize = 64 * 1024;

/// The whole response at the start of `buf`, None while more bytes are due.
/// `ended`: the peer closed, so a body without a length ends here.
pub fn parse(buf: &[u8], ended: bool) -> Result<Option<Parsed>, String> {
    let mut buf = buf;
    loop {
        let Some(head_end) = find(buf, b"\r\n\r\n") else {
            if buf.len() > MAX_HEAD {
                return Err("the response headers are too large".into());
            }
            return Ok(None);
        };
        let head = Head::read(&buf[..head_end])?;
        let rest = &buf[head_end + 4..];
        // 1xx (100 Continue): another head follows.
        if (100..200).contains(&head.status) {
            buf = rest;
            continue;
        }
        let body = if head.chunked {
            chunks(rest)?
        } else if let Some(length) = head.length {
            rest.get(..length).map(<[u8]>::to_vec)
        } else if ended {
            Some(rest.to_vec())
        } else {
            None
        };
        let Some(body) = body else { return Ok(None) };
        let close = head.close || (!head.chunked && head.length.is_none());
        return Ok(Some(Parsed {
            reply: Reply {
                status: head.status,
                date: head.date,
                error_type: head.error_type,
                body,
            },
            close,
        }));
    }
}

struct Head {
    status: u16,
    length: Option<usize>,
    chunked: bool,
    close: bool,
    date: Option<String>,
    error_type: Option<String>,
}

impl Head {
    fn read(head: &[u8]) -> Result<Head, String> {
        let text = std::str::from_utf8(head).map_err(|_| "the response head is not text".to_string())?;
        let mut lines = text.split("\r\n");
        let status_line = lines.next().unwrap_or("");
        if !status_line.starts_with("HTTP/1.") {
            return Err("not an HTTP response".into());
        }
        let status = status_line
            .get(9..12)
            .and_then(|code| code.parse().ok())
            .ok_or_else(|| "a response without a status".to_string())?;
        let mut parsed = Head {
            status,
            length: None,
            chunked: false,
            close: status_line.starts_with("HTTP/1.0"),
            date: None,
            error_type: None,
        };
        for line in lines {
            let Some((name, value)) = line.split_once(':') else {
                continue;
            };
            let value = value.trim();
            if name.eq_ignore_ascii_case("content-length") {
                parsed.length = Some(value.parse().map_err(|_| "a bad Content-Length".to_string())?);
            } else if name.eq_ignore_ascii_case("transfer-encoding") {
                parsed.chunked = value.to_ascii_lowercase().contains("chunked");
            } else if name.eq_ignore_ascii_case("connection") {
                parsed.close = value.eq_ignore_ascii_case("close");
            } else if name.eq_ignore_ascii_case("date") {
                parsed.date = Some(value.to_string());
            } else if name.eq_ignore_ascii_case("x-amzn-errortype") {
                parsed.error_type = Some(value.to_string());
            }
        }
        Ok(parsed)
    }
}

/// A chunked body, None while more bytes are due.
fn chunks(mut buf: &[u8]) -> Result<Option<Vec<u8>>, String> {
    let mut body = Vec::new();
    loop {
        let Some(line_end) = find(buf, b"\r\n") else {
            return Ok(None);
        };
        let size_text = std::str::from_utf8(&buf[..line_end]).unwrap_or("");
        let size_text = size_text.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_text, 16).map_err(|_| "a malformed chunked body".to_string())?;
        let data = line_end + 2;
        if size == 0 {
            // The last chunk, then (no trailers from DynamoDB) an empty line.
            return Ok((buf.len() >= data + 2).then_some(body));
        }
        if buf.len() < data + size + 2 {
            return Ok(None);
        }
        body.extend_from_slice(&buf[data..data + size]);
        buf = &buf[data + size + 2..];
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|window| window == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reply_by_content_length_with_the_headers_the_core_reads() {
        let raw = b"HTTP/1.1 400 Bad Request\r\nx-amzn-ErrorType: ThrottlingException:http://x\r\n\
            Date: Sat, 05 Dec 2026 07:00:00 GMT\r\nContent-Length: 2\r\n\r\n{}";
        assert!(parse(&raw[..raw.len() - 1], false).unwrap().is_none());
        let parsed = parse(raw, false).unwrap().unwrap();
        assert_eq!(parsed.reply.status, 400);
        assert_eq!(parsed.reply.error_type.as_deref(), Some("ThrottlingException:http://x"));
        assert_eq!(parsed.reply.date.as_deref(), Some("Sat, 05 Dec 2026 07:00:00 GMT"));
        assert_eq!(parsed.reply.body, b"{}");
        assert!(!parsed.close);
    }

    #[test]
    fn chunked_and_close_delimited_bodies_arrive_whole() {
        let chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{\"a\":\r\n2\r\n1}\r\n0\r\n\r\n";
        assert!(parse(&chunked[..chunked.len() - 2], false).unwrap().is_none());
        assert_eq!(parse(chunked, false).unwrap().unwrap().reply.body, b"{\"a\":1}");
        let until_close = b"HTTP/1.0 200 OK\r\n\r\n{\"b\":2}";
        assert!(parse(until_close, false).unwrap().is_none());
        let parsed = parse(until_close, true).unwrap().unwrap();
        assert_eq!(
            (parsed.reply.body.as_slice(), parsed.close),
            (b"{\"b\":2}".as_slice(), true)
        );
    }

    #[test]
    fn a_continue_is_skipped_and_garbage_is_an_error_not_a_panic() {
        let raw = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
        let parsed = parse(raw, false).unwrap().unwrap();
        assert_eq!((parsed.reply.status, parsed.close), (200, true));
        assert!(parse(b"SSH-2.0-OpenSSH\r\n\r\n", false).is_err());
        assert!(parse(b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n", false).is_err());
        assert!(parse(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", false).is_err());
        assert!(parse(b"HTTP/1.1\r\n\r\n", false).is_err());
        assert!(parse(&[0xff; 10], false).unwrap().is_none());
    }
}
