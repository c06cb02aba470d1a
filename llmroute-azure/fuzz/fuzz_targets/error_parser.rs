//! Fuzzes Azure error parsing and mapping: any body, any status, any retry header.
#![no_main]

use libfuzzer_sys::fuzz_target;
use llmroute_azure::errors::{
    map_status, map_stream_error, retry_after, AzureErrorBody, ErrorContext,
};

fuzz_target!(|data: &[u8]| {
    let ctx = ErrorContext {
        deployment: "d",
        api_base: "https://r.openai.azure.com",
        api_version: "2024-10-21",
        entra: data.first().is_some_and(|b| b & 1 == 1),
        request_id: Some("fuzz"),
    };
    let _ = AzureErrorBody::parse(data);
    let text = String::from_utf8_lossy(data);
    let retry = retry_after(Some(&text), Some(&text));
    for status in [400u16, 401, 403, 404, 408, 429, 500, 503, 418] {
        let e = map_status(status, data, retry, &ctx);
        let _ = (e.status(), e.to_json(), e.is_retryable());
    }
    let _ = map_stream_error(data, &ctx).to_json();
});
