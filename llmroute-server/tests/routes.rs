//! Every route of the HTTP surface, against the real binary.

mod common;

use common::*;
use serde_json::Value;

#[tokio::test]
async fn health_routes_are_open_and_cheap() {
    let server = Server::start(&mock_config(""));
    let c = client();
    let r = c.get(server.url("/health")).send().await.expect("health");
    assert_eq!(r.status(), 200);
    assert!(r.headers().contains_key("x-request-id"));
    assert_eq!(r.json::<Value>().await.expect("json")["status"], "healthy");
    for path in ["/health/liveliness", "/health/liveness"] {
        assert_eq!(
            c.get(server.url(path)).send().await.expect("live").status(),
            200,
            "{path}"
        );
    }
    let ready = get_json(&server, "/health/readiness", None).await;
    assert_eq!(ready["status"], "healthy");
    assert_eq!(ready["models"], 1);
}

#[tokio::test]
async fn robots_follow_block_robots() {
    let server = Server::start(&format!("{}  block_robots: true\n", mock_config("")));
    let text = get_text(&server, "/robots.txt").await;
    assert_eq!(text, "User-agent: *\nDisallow: /\n");
}

#[tokio::test]
async fn models_list_and_one_model() {
    let extra = "  - model_name: gpt-4o-mini\n    litellm_params:\n      model: mock/mini\n";
    let server = Server::start(&mock_config(extra));
    let c = client();
    for path in ["/v1/models", "/models"] {
        let v: Value = c
            .get(server.url(path))
            .bearer_auth(MASTER_KEY)
            .send()
            .await
            .expect("models")
            .json()
            .await
            .expect("json");
        assert_eq!(v["object"], "list");
        let ids: Vec<&str> = v["data"]
            .as_array()
            .expect("data")
            .iter()
            .filter_map(|m| m["id"].as_str())
            .collect();
        assert_eq!(ids, vec!["mock", "gpt-4o-mini"], "{path}");
    }
    let one: Value = c
        .get(server.url("/v1/models/gpt-4o-mini"))
        .header("api-key", MASTER_KEY)
        .send()
        .await
        .expect("one")
        .json()
        .await
        .expect("json");
    assert_eq!(
        (one["id"].as_str(), one["object"].as_str()),
        (Some("gpt-4o-mini"), Some("model"))
    );
    let (status, err) = error_of(
        c.get(server.url("/v1/models/gpt-5"))
            .bearer_auth(MASTER_KEY)
            .send()
            .await
            .expect("missing"),
    )
    .await;
    assert_eq!(
        (status, err["code"].as_str()),
        (404, Some("model_not_found"))
    );
}

#[tokio::test]
async fn each_auth_failure_has_its_own_code_and_never_echoes_the_key() {
    let server = Server::start(&mock_config(""));
    let c = client();
    let (s, e) = error_of(c.get(server.url("/v1/models")).send().await.expect("none")).await;
    assert_eq!((s, e["code"].as_str()), (401, Some("missing_api_key")));
    let (s, e) = error_of(
        c.get(server.url("/v1/models"))
            .header("authorization", "Basic Zm9vOmJhcg==")
            .send()
            .await
            .expect("basic"),
    )
    .await;
    assert_eq!((s, e["code"].as_str()), (401, Some("malformed_api_key")));
    let wrong = "sk-wrong-key-that-is-long-9876";
    let resp = c
        .get(server.url("/v1/models"))
        .bearer_auth(wrong)
        .send()
        .await
        .expect("wrong");
    let (s, e) = error_of(resp).await;
    assert_eq!(
        (s, e["code"].as_str(), e["type"].as_str()),
        (401, Some("invalid_api_key"), Some("authentication_error"))
    );
    assert!(!e["message"].as_str().unwrap_or("").contains(wrong), "{e}");
    let resp = c
        .post(server.url("/v1/chat/completions"))
        .bearer_auth(wrong)
        .json(&chat_body("mock", "hi", false))
        .send()
        .await
        .expect("chat");
    assert_eq!(resp.status(), 401);
}

#[tokio::test]
async fn bad_requests_get_clear_errors() {
    let server = Server::start(&format!(
        "{}  max_request_size_mb: 0.001\n",
        mock_config("")
    ));
    let c = client();
    let post = |body: Vec<u8>| {
        c.post(server.url("/v1/chat/completions"))
            .bearer_auth(MASTER_KEY)
            .header("content-type", "application/json")
            .body(body)
            .send()
    };

    let (s, e) = error_of(
        post(b"{\"model\": \"mock\", \"messages\": [".to_vec())
            .await
            .expect("send"),
    )
    .await;
    assert_eq!((s, e["code"].as_str()), (400, Some("invalid_json")));
    assert!(
        e["message"]
            .as_str()
            .unwrap_or("")
            .contains("line 1 column"),
        "{e}"
    );

    let (s, e) = error_of(post(b"{\"model\": \"mock\"}".to_vec()).await.expect("send")).await;
    assert_eq!(s, 400);
    assert!(
        e["message"]
            .as_str()
            .unwrap_or("")
            .contains("missing field `messages`"),
        "{e}"
    );

    let (s, e) = error_of(
        post(serde_json::to_vec(&chat_body("gpt-5", "hi", false)).expect("json"))
            .await
            .expect("send"),
    )
    .await;
    assert_eq!(
        (s, e["code"].as_str(), e["param"].as_str()),
        (404, Some("model_not_found"), Some("model"))
    );

    let big = serde_json::to_vec(&chat_body("mock", &"x".repeat(5000), false)).expect("json");
    let (s, e) = error_of(post(big).await.expect("send")).await;
    assert_eq!((s, e["code"].as_str()), (413, Some("request_too_large")));

    let resp = c
        .get(server.url("/v1/chat/completions"))
        .bearer_auth(MASTER_KEY)
        .send()
        .await
        .expect("get");
    assert_eq!(header(&resp, "allow"), Some("POST"));
    let (s, e) = error_of(resp).await;
    assert_eq!((s, e["code"].as_str()), (405, Some("method_not_allowed")));

    let (s, e) = error_of(c.get(server.url("/v2/nothing")).send().await.expect("404")).await;
    assert_eq!((s, e["code"].as_str()), (404, Some("not_found")));
}

#[tokio::test]
async fn chat_whole_and_streamed_on_every_chat_path() {
    let server = Server::start(&mock_config(""));
    let resp = post_chat(&server, &chat_body("mock", "hello there", false)).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(header(&resp, "x-llmroute-deployment"), Some("mock-0"));
    let v: Value = resp.json().await.expect("json");
    assert_eq!(v["choices"][0]["message"]["content"], "hello there");
    assert_eq!(v["usage"]["completion_tokens"], 2);

    let c = client();
    let again = chat_body("mock", "again", false);
    let v: Value = post_as(&server, MASTER_KEY, "/chat/completions", &again)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(v["choices"][0]["message"]["content"], "again");
    let v: Value = c
        .post(server.url("/openai/deployments/mock/chat/completions?api-version=2024-10-21"))
        .header("api-key", MASTER_KEY)
        .json(&serde_json::json!({"messages": [{"role": "user", "content": "azure path"}]}))
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert_eq!(v["choices"][0]["message"]["content"], "azure path");

    let resp = post_chat(&server, &chat_body("mock", "one two three", true)).await;
    assert_eq!(header(&resp, "content-type"), Some("text/event-stream"));
    let events = sse_events(&resp.text().await.expect("body"));
    assert_eq!(events.last().map(String::as_str), Some("[DONE]"));
    let chunks: Vec<Value> = events[..events.len() - 1]
        .iter()
        .map(|e| serde_json::from_str(e).expect("chunk"))
        .collect();
    let text: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert_eq!(text, "one two three");
    assert!(
        chunks
            .iter()
            .all(|c| !c["choices"].as_array().expect("choices").is_empty()),
        "usage chunk sent without being asked for"
    );

    let mut body = chat_body("mock", "count me", true);
    body["stream_options"] = serde_json::json!({"include_usage": true});
    let events = sse_events(&post_chat(&server, &body).await.text().await.expect("body"));
    let usage: Value = serde_json::from_str(&events[events.len() - 2]).expect("usage chunk");
    assert_eq!(usage["usage"]["completion_tokens"], 2);
    assert_eq!(usage["choices"].as_array().map(Vec::len), Some(0));
}
