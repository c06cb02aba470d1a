//! An incremental server-sent-events parser: feed it bytes as they arrive, take events out.
//!
//! It follows the WHATWG event-stream rules that the OpenAI SDKs use:
//! lines end with `\n`, `\r\n` or `\r`; a blank line ends an event; lines starting with
//! `:` are comments (keep-alives); several `data:` lines are joined with `\n`; one space
//! after the colon is dropped; `event:` and `id:` are kept; other fields are ignored.
//! Bytes may be split anywhere (inside a line, inside `\r\n`, inside a UTF-8 character):
//! text is decoded only once an event is complete.
//!
//! ```
//! use llmroute_azure::sse::SseParser;
//! let mut p = SseParser::new();
//! p.feed(b"data: {\"a\"").unwrap();
//! assert!(p.next_event().is_none());
//! p.feed(b":1}\r\n\r\n: keep-alive\n\ndata: [DONE]\n\n").unwrap();
//! assert_eq!(p.next_event().unwrap().data, "{\"a\":1}");
//! assert!(p.next_event().unwrap().is_done());
//! assert!(p.next_event().is_none());
//! ```

use std::fmt;

/// The largest event accepted by default (16 MiB); a bigger one is an error, so a broken
/// upstream cannot make the gateway buffer without bound.
pub const DEFAULT_MAX_EVENT_BYTES: usize = 16 * 1024 * 1024;

/// One complete event.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SseEvent {
    /// The `event:` field, when the upstream sent one (OpenAI and Azure do not, except
    /// `event: error`).
    pub event: Option<String>,
    /// The `data:` lines joined with `\n`. Invalid UTF-8 is replaced with U+FFFD.
    pub data: String,
    /// The last `id:` field seen in this event.
    pub id: Option<String>,
}

impl SseEvent {
    /// Whether this is the end-of-stream marker (data starting with `[DONE]`, as the
    /// OpenAI SDKs check it).
    pub fn is_done(&self) -> bool {
        self.data.starts_with("[DONE]")
    }
}

/// The input broke a limit of the parser.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseError {
    /// How many bytes the unfinished event had reached.
    pub pending_bytes: usize,
    /// The limit.
    pub limit: usize,
}

impl fmt::Display for SseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "server-sent event larger than {} bytes ({} bytes without an end); the upstream is not sending an event stream",
            self.limit, self.pending_bytes
        )
    }
}

impl std::error::Error for SseError {}

/// Incremental parser state. Cheap to create; one per stream.
#[derive(Debug, Clone)]
pub struct SseParser {
    /// Bytes received and not yet consumed as complete lines.
    buf: Vec<u8>,
    /// Where the unconsumed part of `buf` starts.
    start: usize,
    /// Data lines of the event being built.
    data: Vec<u8>,
    has_data: bool,
    event: Option<String>,
    id: Option<String>,
    max_event_bytes: usize,
    /// A `\r` ended the previous line; a `\n` right after it belongs to that line end.
    after_cr: bool,
}

impl Default for SseParser {
    fn default() -> Self {
        Self::new()
    }
}

impl SseParser {
    /// A parser with the default event size limit.
    pub fn new() -> Self {
        Self::with_max_event_bytes(DEFAULT_MAX_EVENT_BYTES)
    }

    /// A parser that rejects events larger than `limit` bytes.
    pub fn with_max_event_bytes(limit: usize) -> Self {
        SseParser {
            buf: Vec::new(),
            start: 0,
            data: Vec::new(),
            has_data: false,
            event: None,
            id: None,
            max_event_bytes: limit.max(1),
            after_cr: false,
        }
    }

    /// Adds bytes received from the network. Fails when an unfinished event grows past
    /// the size limit; the parser should then be dropped.
    pub fn feed(&mut self, bytes: &[u8]) -> Result<(), SseError> {
        if self.start > 0 && self.start >= self.buf.len() / 2 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        self.buf.extend_from_slice(bytes);
        let pending = self.buf.len() - self.start + self.data.len();
        if pending > self.max_event_bytes {
            return Err(SseError {
                pending_bytes: pending,
                limit: self.max_event_bytes,
            });
        }
        Ok(())
    }

    /// The next complete event, if the bytes fed so far hold one.
    pub fn next_event(&mut self) -> Option<SseEvent> {
        while let Some(line_end) = self.next_line_end() {
            let (line_start, line_stop, consumed) = line_end;
            let dispatched = self.process_line(line_start, line_stop);
            self.start = consumed;
            if dispatched.is_some() {
                return dispatched;
            }
        }
        None
    }

    /// Ends the input: an unterminated last line is taken as complete, and a pending
    /// event without its blank line is returned (lenient; the strict rule would drop it).
    pub fn finish(&mut self) -> Option<SseEvent> {
        if let Some(ev) = self.next_event() {
            return Some(ev);
        }
        if self.start < self.buf.len() {
            let stop = self.buf.len();
            let from = self.start;
            self.start = stop;
            self.after_cr = false;
            if let Some(ev) = self.process_line(from, stop) {
                return Some(ev);
            }
        }
        self.dispatch()
    }

    /// Bytes held for an unfinished event.
    pub fn pending_bytes(&self) -> usize {
        self.buf.len() - self.start + self.data.len()
    }

    /// Finds the next complete line in the buffer: (start, end of content, next start).
    fn next_line_end(&mut self) -> Option<(usize, usize, usize)> {
        loop {
            let rest = &self.buf[self.start..];
            if rest.is_empty() {
                return None;
            }
            if self.after_cr {
                self.after_cr = false;
                if rest[0] == b'\n' {
                    self.start += 1;
                    continue;
                }
            }
            // memchr2 looks at 16-32 bytes a step: an event's line is ~300 bytes.
            let i = memchr::memchr2(b'\n', b'\r', rest)?;
            let from = self.start;
            if rest[i] == b'\r' {
                self.after_cr = true;
            }
            return Some((from, from + i, from + i + 1));
        }
    }

    /// Applies one line; returns an event when the line was blank and one was pending.
    fn process_line(&mut self, from: usize, to: usize) -> Option<SseEvent> {
        let line = &self.buf[from..to];
        if line.is_empty() {
            return self.dispatch();
        }
        if line[0] == b':' {
            return None;
        }
        let (field, value) = match memchr::memchr(b':', line) {
            Some(c) => {
                let v = &line[c + 1..];
                (&line[..c], v.strip_prefix(b" ").unwrap_or(v))
            }
            None => (line, &b""[..]),
        };
        match field {
            b"data" => {
                if self.has_data {
                    self.data.push(b'\n');
                }
                self.data.extend_from_slice(value);
                self.has_data = true;
            }
            b"event" => self.event = Some(String::from_utf8_lossy(value).into_owned()),
            b"id" => self.id = Some(String::from_utf8_lossy(value).into_owned()),
            _ => {}
        }
        None
    }

    /// Emits the pending event (if it has data) and resets the event state.
    fn dispatch(&mut self) -> Option<SseEvent> {
        let event = self.event.take();
        let id = self.id.take();
        if !self.has_data {
            return None;
        }
        self.has_data = false;
        let bytes = std::mem::take(&mut self.data);
        let data = match String::from_utf8(bytes) {
            Ok(s) => s,
            Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
        };
        Some(SseEvent { event, data, id })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(p: &mut SseParser) -> Vec<String> {
        std::iter::from_fn(|| p.next_event())
            .map(|e| e.data)
            .collect()
    }

    #[test]
    fn splits_on_every_line_break_form() {
        let mut p = SseParser::new();
        p.feed(b"data: a\n\ndata: b\r\n\r\ndata: c\r\rdata: d\n\n")
            .expect("test input");
        assert_eq!(all(&mut p), ["a", "b", "c", "d"]);
    }

    #[test]
    fn joins_multi_line_data_and_skips_comments() {
        let mut p = SseParser::new();
        p.feed(b": ping\n\ndata: one\ndata:two\nevent: error\nid: 7\n\n")
            .expect("test input");
        let ev = p.next_event().expect("test input");
        assert_eq!(ev.data, "one\ntwo");
        assert_eq!(ev.event.as_deref(), Some("error"));
        assert_eq!(ev.id.as_deref(), Some("7"));
        assert!(p.next_event().is_none());
    }

    #[test]
    fn crlf_split_across_feeds_is_one_line_end() {
        let mut p = SseParser::new();
        p.feed(b"data: x\r").expect("test input");
        assert!(p.next_event().is_none());
        p.feed(b"\n\r").expect("test input");
        assert_eq!(p.next_event().expect("test input").data, "x");
        p.feed(b"\ndata: y\r\n\r\n").expect("test input");
        assert_eq!(all(&mut p), ["y"]);
    }

    #[test]
    fn utf8_split_inside_a_character() {
        let text = "data: Olá ✓\n\n".as_bytes();
        let mut p = SseParser::new();
        for b in text {
            p.feed(std::slice::from_ref(b)).expect("test input");
        }
        assert_eq!(all(&mut p), ["Olá ✓"]);
    }

    #[test]
    fn finish_returns_an_unterminated_event() {
        let mut p = SseParser::new();
        p.feed(b"data: [DONE]").expect("test input");
        assert!(p.next_event().is_none());
        assert!(p.finish().expect("test input").is_done());
        assert!(p.finish().is_none());
    }

    #[test]
    fn oversized_event_is_an_error() {
        let mut p = SseParser::with_max_event_bytes(8);
        assert!(p.feed(b"data: 0123456789").is_err());
    }
}
