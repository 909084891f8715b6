//! Serves a Lambda HTTP handler on a local port: each HTTP request becomes the `lambda_http::Request` that API
//! Gateway would have produced (raw body bytes, headers, query parameters), so the local stack runs the exact
//! handler code that is deployed.

use axum::body::Bytes;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use lambda_http::RequestExt;
use std::collections::HashMap;
use std::sync::Arc;
use webhook::WebhookApp;

/// Converts, calls the handler, converts back. Bodies above `max_body` are refused before reaching the
/// handler, as API Gateway and Lambda refuse oversized payloads.
pub async fn serve_request(
    app: Arc<WebhookApp>,
    max_body: usize,
    request: axum::extract::Request,
) -> Response {
    let (parts, body) = request.into_parts();
    let bytes: Bytes = match axum::body::to_bytes(body, max_body.saturating_add(1)).await {
        Ok(bytes) => bytes,
        Err(_) => return (StatusCode::PAYLOAD_TOO_LARGE, "payload too large").into_response(),
    };
    let mut query: HashMap<String, Vec<String>> = HashMap::new();
    if let Some(q) = parts.uri.query() {
        for (k, v) in form_urlencoded::parse(q.as_bytes()) {
            query
                .entry(k.into_owned())
                .or_default()
                .push(v.into_owned());
        }
    }
    let body = if bytes.is_empty() {
        lambda_http::Body::Empty
    } else {
        lambda_http::Body::Binary(bytes.to_vec())
    };
    let request = lambda_http::Request::from_parts(parts, body).with_query_string_parameters(query);
    let response = app.handle(request).await;
    let (parts, body) = response.into_parts();
    let bytes = match body {
        lambda_http::Body::Empty => Vec::new(),
        lambda_http::Body::Text(t) => t.into_bytes(),
        lambda_http::Body::Binary(b) => b,
        _ => Vec::new(),
    };
    Response::from_parts(parts, axum::body::Body::from(bytes))
}
