//! The HTTP front: routes, auth headers, bodies, responses, streams.

pub mod admin;
pub mod answer;
pub mod body;
pub mod chat;
pub mod credentials;
pub mod info;
pub mod request_id;
pub mod response;
pub mod routes;
pub mod sse;
