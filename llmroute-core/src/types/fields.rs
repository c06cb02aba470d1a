//! Reading a JSON object into a struct with an `extra` map, without serde's buffering.
//!
//! `#[serde(flatten)] extra` keeps the fields a struct does not model, but serde reads
//! such an object into an intermediate tree of every key and value first and then
//! deserializes the struct from that tree. The types on the hot path of an answer (a
//! stream chunk and its parts, and usage) implement [`Fields`] instead: each key is
//! matched as it is read, a modelled field is deserialized straight from the input and
//! any other goes to `extra`. The result is the same as with `flatten` (missing fields
//! take their defaults, unknown ones are kept, a field of the wrong type is an error
//! naming it); a key given twice keeps its last value.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{DeserializeSeed, Deserializer, MapAccess, Visitor};

use super::Extra;

/// A struct read field by field, its unmodelled fields kept in `extra`.
pub(crate) trait Fields: Default {
    /// What the object is, for error messages ("a chat completion chunk").
    const EXPECTING: &'static str;

    /// Reads `key`'s value from `map` into `self` when `key` is a modelled field;
    /// `Ok(false)` when it is not (the caller puts it in `extra`).
    fn field<'de, A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<bool, A::Error>;

    /// The unmodelled fields.
    fn extra(&mut self) -> &mut Extra;
}

/// Deserializes a [`Fields`] type from a map; the body of its `Deserialize` impl.
pub(crate) fn deserialize_fields<'de, T: Fields, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<T, D::Error> {
    deserializer.deserialize_map(FieldsVisitor(PhantomData))
}

/// Reads a struct field by field: `read_by_fields!(Type, "what it is", { "key" => field, ... })`
/// implements [`Fields`] (each key into its field, the rest into `extra`) and
/// `Deserialize` through [`deserialize_fields`].
macro_rules! read_by_fields {
    ($t:ty, $expecting:literal, { $($key:literal => $field:ident),+ $(,)? }) => {
        impl $crate::types::fields::Fields for $t {
            const EXPECTING: &'static str = $expecting;

            fn field<'de, A: serde::de::MapAccess<'de>>(
                &mut self,
                key: &str,
                map: &mut A,
            ) -> Result<bool, A::Error> {
                match key {
                    $($key => self.$field = map.next_value()?,)+
                    _ => return Ok(false),
                }
                Ok(true)
            }

            fn extra(&mut self) -> &mut $crate::types::Extra {
                &mut self.extra
            }
        }

        impl<'de> serde::Deserialize<'de> for $t {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                $crate::types::fields::deserialize_fields(d)
            }
        }
    };
}
pub(crate) use read_by_fields;

struct FieldsVisitor<T>(PhantomData<T>);

impl<'de, T: Fields> Visitor<'de> for FieldsVisitor<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(T::EXPECTING)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<T, A::Error> {
        let mut value = T::default();
        while let Some(Key(key)) = map.next_key_seed(KeySeed)? {
            if !value.field(&key, &mut map)? {
                let other = map.next_value()?;
                value.extra().insert(key.into_owned(), other);
            }
        }
        Ok(value)
    }
}

/// An object key, borrowed from the input when it has no escapes.
struct Key<'de>(Cow<'de, str>);

struct KeySeed;

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = Key<'de>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Key<'de>, D::Error> {
        d.deserialize_str(KeySeed)
    }
}

impl<'de> Visitor<'de> for KeySeed {
    type Value = Key<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a field name")
    }

    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Key<'de>, E> {
        Ok(Key(Cow::Borrowed(v)))
    }

    fn visit_str<E>(self, v: &str) -> Result<Key<'de>, E> {
        Ok(Key(Cow::Owned(v.to_string())))
    }

    fn visit_string<E>(self, v: String) -> Result<Key<'de>, E> {
        Ok(Key(Cow::Owned(v)))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use crate::types::{ChatChunk, Usage};

    /// Every hand-read type gives back exactly what it read: modelled fields, unknown
    /// ones (nested ones too), escaped keys; missing ones take defaults.
    #[test]
    fn chunks_and_usage_round_trip_with_their_unknown_fields() {
        let chunk = json!({
            "id": "c1", "object": "chat.completion.chunk", "created": 7, "model": "gpt-4o",
            "system_fingerprint": "fp", "zeta": 1, "alpha": {"x": [1, 2]},
            "choices": [{
                "index": 0, "finish_reason": null, "logprobs": {"content": []},
                "content_filter_results": {"hate": {"filtered": false}},
                "delta": {"role": "assistant", "content": "Hi", "new_field": true,
                    "tool_calls": [{"index": 1, "id": "call_1", "type": "function", "x": 2,
                        "function": {"name": "f", "arguments": "{\"a\"", "y": 3}}]}
            }],
            "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5,
                "prompt_tokens_details": {"cached_tokens": 1, "audio_tokens": 0},
                "completion_tokens_details": {"reasoning_tokens": 4, "accepted_prediction_tokens": 0},
                "fut\u{00e9}": "escaped"}
        });
        let text = serde_json::to_string(&chunk)
            .expect("json")
            .replace("futé", "fut\\u00e9");
        let parsed: ChatChunk = serde_json::from_str(&text).expect("a chunk");
        assert_eq!(parsed.choices[0].delta.content.as_deref(), Some("Hi"));
        assert_eq!(parsed.usage.as_ref().map(|u| u.cached_tokens()), Some(1));
        let keys: Vec<&String> = parsed.extra.keys().collect();
        assert_eq!(keys, ["alpha", "zeta"], "the unknown fields");
        assert_eq!(
            parsed.usage.as_ref().map(|u| u.extra["futé"].clone()),
            Some(json!("escaped"))
        );
        let back: Value = serde_json::to_value(&parsed).expect("serializes");
        assert_eq!(back, chunk);

        let empty: ChatChunk = serde_json::from_str("{}").expect("all defaults");
        assert_eq!(empty, ChatChunk::default());
    }

    #[test]
    fn a_field_of_the_wrong_type_is_an_error_that_names_the_type() {
        let e = serde_json::from_str::<Usage>(r#"{"prompt_tokens": "many"}"#)
            .expect_err("not a number");
        assert!(e.to_string().contains("invalid type"), "{e}");
        let e = serde_json::from_str::<ChatChunk>(r#"{"choices": 3}"#).expect_err("not a list");
        assert!(e.to_string().contains("invalid type"), "{e}");
        let e = serde_json::from_str::<ChatChunk>("[]").expect_err("not an object");
        assert!(e.to_string().contains("a chat completion chunk"), "{e}");
    }
}
