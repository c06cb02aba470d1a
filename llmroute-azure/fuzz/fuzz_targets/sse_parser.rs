//! Fuzzes the SSE parser: no panic on any input, and the events do not depend on how
//! the bytes were split into reads. Every event's data is also parsed as a chat chunk.
#![no_main]

use libfuzzer_sys::fuzz_target;
use llmroute_azure::sse::{SseEvent, SseParser};

fn events(reads: &[&[u8]]) -> Vec<SseEvent> {
    let mut parser = SseParser::with_max_event_bytes(1 << 20);
    let mut out = Vec::new();
    for read in reads {
        if parser.feed(read).is_err() {
            return out;
        }
        out.extend(std::iter::from_fn(|| parser.next_event()));
    }
    out.extend(std::iter::from_fn(|| parser.finish()));
    out
}

fuzz_target!(|data: &[u8]| {
    let (split, body) = match data.split_first() {
        Some((s, b)) => (*s as usize + 1, b),
        None => return,
    };
    let whole = events(&[body]);
    let reads: Vec<&[u8]> = body.chunks(split).collect();
    let pieces = events(&reads);
    assert_eq!(
        whole, pieces,
        "events depend on read boundaries (split every {split} bytes)"
    );
    for ev in &whole {
        let _ = ev.is_done();
        let _ = serde_json::from_str::<llmroute_core::types::ChatChunk>(&ev.data);
    }
});
