//! A non-streaming answer: the upstream's bytes, the little a proxy needs from them
//! (model and usage, read at once), and the typed response, parsed only when asked for.
//!
//! A proxy forwards the upstream's bytes as they are and accounts for the usage; it never
//! needs the typed answer, and building it (every choice, every unmodelled field kept
//! losslessly) was the largest single cost of a proxied request (docs/performance.md).

use std::sync::OnceLock;

use bytes::Bytes;
use serde::de::IgnoredAny;
use serde::Deserialize;

use crate::provider::UpstreamMeta;
use crate::types::{ChatResponse, Usage};

/// A non-streaming answer with its upstream metadata.
///
/// It may carry the exact bytes the upstream sent: a proxy then forwards those bytes
/// instead of serializing the response again. [`Completion::response`] parses them on
/// first use; changing the response through [`Completion::response_mut`] drops them, so
/// what is sent is always what the response says.
#[derive(Debug, Clone)]
pub struct Completion {
    response: OnceLock<ChatResponse>,
    upstream_body: Option<Bytes>,
    summary: Summary,
    /// Upstream headers of interest.
    pub meta: UpstreamMeta,
}

/// What is read from an upstream body at once.
#[derive(Debug, Clone, Default)]
struct Summary {
    model: String,
    usage: Option<Usage>,
}

/// The fields of [`Summary`] as sent, with `choices` required (so a body that is JSON but
/// no chat completion is refused at once) and skipped over unread.
#[derive(Deserialize)]
struct SummaryWire {
    #[serde(default)]
    model: String,
    #[serde(default)]
    usage: Option<Usage>,
    #[serde(rename = "choices")]
    _choices: Vec<IgnoredAny>,
}

impl Completion {
    /// An answer built in process (nothing to forward verbatim).
    pub fn new(response: ChatResponse, meta: UpstreamMeta) -> Completion {
        let summary = Summary {
            model: response.model.clone(),
            usage: response.usage.clone(),
        };
        Completion {
            response: OnceLock::from(response),
            upstream_body: None,
            summary,
            meta,
        }
    }

    /// An answer from the upstream's JSON exactly as received. Reads its `model` and
    /// `usage` and checks that it has a `choices` array; the rest is parsed when
    /// [`Completion::response`] is first called.
    pub fn from_upstream(body: Bytes, meta: UpstreamMeta) -> serde_json::Result<Completion> {
        let wire: SummaryWire = serde_json::from_slice(&body)?;
        Ok(Completion {
            response: OnceLock::new(),
            upstream_body: Some(body),
            summary: Summary {
                model: wire.model,
                usage: wire.usage,
            },
            meta,
        })
    }

    /// The answer, parsed from the upstream's bytes on first use.
    ///
    /// A body whose summary was read but whose choices do not fit the typed response
    /// (an upstream breaking its own format) gives a response with the model and usage
    /// only, and a warning in the log; the bytes themselves are still what is forwarded.
    pub fn response(&self) -> &ChatResponse {
        self.response.get_or_init(|| {
            let body = self.upstream_body.as_deref().unwrap_or_default();
            serde_json::from_slice(body).unwrap_or_else(|e| {
                tracing::warn!(error = %e, "the upstream's answer does not fit the chat completion type; keeping its model and usage only");
                ChatResponse {
                    model: self.summary.model.clone(),
                    usage: self.summary.usage.clone(),
                    ..ChatResponse::default()
                }
            })
        })
    }

    /// The answer, to change; the upstream's bytes are dropped, since they no longer
    /// match it.
    pub fn response_mut(&mut self) -> &mut ChatResponse {
        self.response();
        self.upstream_body = None;
        self.response.get_mut().expect("parsed just above")
    }

    /// The model that answered, as the upstream named it.
    pub fn model(&self) -> &str {
        match self.response.get() {
            Some(response) => &response.model,
            None => &self.summary.model,
        }
    }

    /// The tokens used, as the upstream reported them.
    pub fn usage(&self) -> Option<&Usage> {
        match self.response.get() {
            Some(response) => response.usage.as_ref(),
            None => self.summary.usage.as_ref(),
        }
    }

    /// The upstream's JSON exactly as received, while it still matches
    /// [`Completion::response`].
    pub fn upstream_body(&self) -> Option<&Bytes> {
        self.upstream_body.as_ref()
    }

    /// The answer, the upstream's bytes (if they still match it), and the metadata.
    pub fn into_parts(self) -> (ChatResponse, Option<Bytes>, UpstreamMeta) {
        self.response();
        let response = self.response.into_inner().expect("parsed just above");
        (response, self.upstream_body, self.meta)
    }

    /// The answer alone.
    pub fn into_response(self) -> ChatResponse {
        self.into_parts().0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn upstream(body: &'static str) -> Completion {
        Completion::from_upstream(Bytes::from_static(body.as_bytes()), UpstreamMeta::default())
            .expect("a chat completion")
    }

    #[test]
    fn model_and_usage_are_read_at_once_and_the_rest_on_first_use() {
        let done = upstream(
            r#"{"id":"a","model":"gpt-4o-2024-08-06","choices":[{"index":0,"message":{"role":"assistant","content":"hi"}}],
                "usage":{"prompt_tokens":3,"completion_tokens":1,"total_tokens":4}}"#,
        );
        assert_eq!(done.model(), "gpt-4o-2024-08-06");
        assert_eq!(done.usage().map(|u| u.total_tokens), Some(4));
        assert!(done.response.get().is_none(), "not parsed yet");
        assert_eq!(done.response().first_text(), Some("hi"));
        assert_eq!(done.response().id, "a");
    }

    #[test]
    fn changing_the_response_drops_the_upstream_bytes() {
        let mut done = upstream(r#"{"id":"a","model":"m","choices":[]}"#);
        assert!(done.upstream_body().is_some());
        done.response_mut().model = "changed".into();
        assert_eq!(done.upstream_body(), None);
        assert_eq!(done.model(), "changed", "the accessors follow the change");
        let (response, bytes, _) = done.into_parts();
        assert_eq!((response.id.as_str(), bytes), ("a", None));
    }

    #[test]
    fn a_body_without_choices_is_not_a_chat_completion() {
        for body in [r#"{"model":"m"}"#, r#"{"choices":"x"}"#, "[]", "not json"] {
            let err = Completion::from_upstream(Bytes::from(body), UpstreamMeta::default());
            assert!(err.is_err(), "{body} was accepted");
        }
    }

    #[test]
    fn choices_that_do_not_fit_keep_model_and_usage() {
        let done = upstream(
            r#"{"model":"m","choices":[{"index":"first"}],"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}"#,
        );
        let response = done.response();
        assert_eq!(response.model, "m");
        assert_eq!(response.usage.as_ref().map(|u| u.total_tokens), Some(2));
        assert!(response.choices.is_empty());
        assert!(
            done.upstream_body().is_some(),
            "the bytes are still forwarded"
        );
    }

    #[test]
    fn an_answer_built_in_process_has_no_bytes() {
        let done = Completion::new(
            ChatResponse {
                model: "mock".into(),
                ..ChatResponse::default()
            },
            UpstreamMeta::default(),
        );
        assert_eq!(done.model(), "mock");
        assert!(done.upstream_body().is_none());
        assert_eq!(done.into_response().model, "mock");
    }
}
