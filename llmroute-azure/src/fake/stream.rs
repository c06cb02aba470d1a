//! Streamed answers: the canned text or a tool call as server-sent events, paced, cut
//! or broken by a stream fault, each counted as completed or aborted when it ends.

use std::time::Duration;

use bytes::Bytes;
use futures::stream;
use http::{HeaderValue, Response};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::StreamBody;
use hyper::body::Frame;

use super::canned::openai_error;
use super::server::{azure_headers, full, Body};
use super::tools::{self, ToolCall};
use super::tracked::tracked;
use super::{Fault, State};

/// A streamed answer: the text, or `call`; paced, cut or broken by `fault`. Its body
/// counts how it ended (sent to the end, or dropped by the client).
pub(crate) fn stream_answer(
    state: &State,
    usage: bool,
    fault: Option<&Fault>,
    call: Option<&ToolCall>,
) -> Response<Body> {
    let c = &state.canned;
    let mut delay = state.cfg.chunk_delay;
    if let Some(Fault::SlowStream(d)) = fault {
        delay += *d;
    }
    let body = match fault {
        None | Some(Fault::DelayFirstByte(_)) if delay.is_zero() && call.is_none() => {
            full(if usage {
                c.stream_with_usage.clone()
            } else {
                c.stream_without_usage.clone()
            })
        }
        _ => {
            let (mut events, usage_event) = match call {
                Some(call) => tools::stream_events(state, call),
                None => (c.events.clone(), c.usage_event.clone()),
            };
            if usage {
                events.push(usage_event);
            }
            events.push(c.done_event.clone());
            match fault {
                Some(Fault::CutStream { after_events }) => events.truncate(*after_events),
                Some(Fault::MidStreamError { after_events }) => {
                    events.truncate(*after_events);
                    let error = openai_error(
                        "The server had an error while processing your request. Sorry about that!",
                        "server_error",
                        None,
                        None,
                    );
                    let mut e = b"data: ".to_vec();
                    e.extend_from_slice(&error);
                    e.extend_from_slice(b"\n\n");
                    events.push(Bytes::from(e));
                }
                _ => {}
            }
            paced(events, delay)
        }
    };
    let mut resp = Response::new(tracked(body, state.streams.clone()));
    azure_headers(
        state,
        resp.headers_mut(),
        "text/event-stream; charset=utf-8",
    );
    resp.headers_mut().insert(
        http::header::CACHE_CONTROL,
        HeaderValue::from_static("no-cache"),
    );
    resp
}

/// A body that sends each event as its own frame, `delay` before each.
fn paced(events: Vec<Bytes>, delay: Duration) -> Body {
    let frames = stream::unfold(events.into_iter(), move |mut it| async move {
        let next = it.next()?;
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        Some((Ok(Frame::data(next)), it))
    });
    UnsyncBoxBody::new(StreamBody::new(frames))
}
