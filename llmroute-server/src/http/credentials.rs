//! Who is calling: the key from `Authorization: Bearer <key>` or `api-key: <key>`,
//! checked by the gateway's authenticator.

use http::HeaderMap;
use llmroute_core::auth::Principal;
use llmroute_core::Error;

use crate::gateway::Gateway;

/// The caller behind the request's key (master key or virtual key).
pub async fn authenticate(gw: &Gateway, headers: &HeaderMap) -> Result<Principal, Error> {
    let key = presented_key(headers)?;
    gw.auth.authenticate(key).await
}

/// The caller, who must hold the master key.
pub async fn authenticate_master(gw: &Gateway, headers: &HeaderMap) -> Result<(), Error> {
    if authenticate(gw, headers).await?.is_master() {
        Ok(())
    } else {
        Err(Error::Forbidden {
            message: "this route needs the master key; virtual keys cannot use it".to_string(),
            code: "admin_only",
        })
    }
}

/// The key the caller presented, or the 401 that says what is wrong with the headers.
pub fn presented_key(headers: &HeaderMap) -> Result<&str, Error> {
    if let Some(value) = headers.get(http::header::AUTHORIZATION) {
        let text = value
            .to_str()
            .map_err(|_| malformed("the Authorization header is not valid text"))?;
        let (scheme, rest) = text.trim().split_once(' ').unwrap_or((text.trim(), ""));
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Err(malformed("the Authorization header must be `Bearer <key>`"));
        }
        let key = rest.trim();
        if key.is_empty() {
            return Err(malformed(
                "the Authorization header has `Bearer` but no key after it",
            ));
        }
        return Ok(key);
    }
    if let Some(value) = headers.get("api-key") {
        let key = value
            .to_str()
            .map_err(|_| malformed("the api-key header is not valid text"))?
            .trim();
        if key.is_empty() {
            return Err(malformed("the api-key header is empty"));
        }
        return Ok(key);
    }
    Err(Error::Unauthorized {
        message: "no API key: send `Authorization: Bearer <key>` (OpenAI SDKs: api_key=...) or `api-key: <key>`".to_string(),
        code: "missing_api_key",
    })
}

fn malformed(what: &str) -> Error {
    Error::Unauthorized {
        message: format!("malformed API key header: {what}"),
        code: "malformed_api_key",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().expect("header"));
        }
        h
    }

    #[test]
    fn bearer_and_api_key_are_read() {
        assert_eq!(
            presented_key(&headers(&[("authorization", "Bearer sk-1")])).ok(),
            Some("sk-1")
        );
        assert_eq!(
            presented_key(&headers(&[("authorization", "bearer  sk-2 ")])).ok(),
            Some("sk-2")
        );
        assert_eq!(
            presented_key(&headers(&[("api-key", "sk-3")])).ok(),
            Some("sk-3")
        );
    }

    #[test]
    fn each_failure_has_its_own_code() {
        let code = |h: HeaderMap| presented_key(&h).err().and_then(|e| e.code());
        assert_eq!(code(headers(&[])), Some("missing_api_key"));
        assert_eq!(
            code(headers(&[("authorization", "Basic abc")])),
            Some("malformed_api_key")
        );
        assert_eq!(
            code(headers(&[("authorization", "Bearer")])),
            Some("malformed_api_key")
        );
        assert_eq!(code(headers(&[("api-key", "")])), Some("malformed_api_key"));
    }
}
