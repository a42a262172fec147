//! API Gateway HTTP API (payload format 2.0) in and out: the route, the two Slack headers and
//! the raw body as Slack signed it; a JSON or empty answer.

use aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use aws_lambda_events::encodings::Body;
use base64::Engine as _;
use capstan_slack::Message;
use http::header::{HeaderValue, CONTENT_TYPE};

/// The routes the function serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// `POST /slack/commands`: the slash command.
    Commands,
    /// `POST /slack/interactions`: button clicks.
    Interactions,
}

/// What the acknowledgement needs of an HTTP request.
#[derive(Debug, Clone, PartialEq)]
pub struct Inbound {
    /// Which route, if one of ours.
    pub route: Option<Route>,
    /// `X-Slack-Request-Timestamp`.
    pub timestamp: Option<String>,
    /// `X-Slack-Signature`.
    pub signature: Option<String>,
    /// `X-Slack-Retry-Num`, when Slack retries.
    pub retry: Option<String>,
    /// The body exactly as Slack signed it (base64-decoded when API Gateway encoded it).
    pub body: Result<Vec<u8>, String>,
}

impl Inbound {
    /// Reads the parts of an API Gateway v2 request.
    pub fn of(request: &ApiGatewayV2httpRequest) -> Inbound {
        let header = |name: &str| {
            request
                .headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let method = request.request_context.http.method.as_str();
        let path = request
            .raw_path
            .as_deref()
            .or(request.request_context.http.path.as_deref())
            .unwrap_or("");
        let route = match (method, path.trim_end_matches('/')) {
            ("POST", "/slack/commands") => Some(Route::Commands),
            ("POST", "/slack/interactions") => Some(Route::Interactions),
            _ => None,
        };
        let raw = request.body.as_deref().unwrap_or("");
        let body = if request.is_base64_encoded {
            base64::engine::general_purpose::STANDARD
                .decode(raw)
                .map_err(|e| format!("the body is marked base64 but is not: {e}"))
        } else {
            Ok(raw.as_bytes().to_vec())
        };
        Inbound {
            route,
            timestamp: header("x-slack-request-timestamp"),
            signature: header("x-slack-signature"),
            retry: header("x-slack-retry-num"),
            body,
        }
    }
}

/// An answer with a JSON message (Slack shows it).
pub fn message(message: &Message) -> ApiGatewayV2httpResponse {
    let body = serde_json::to_string(message).expect("a Slack message serializes");
    let mut r = answer(200, Some(body));
    r.headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    r
}

/// An answer with a status and a plain text (or no) body.
pub fn answer(status: i64, text: Option<String>) -> ApiGatewayV2httpResponse {
    let mut r = ApiGatewayV2httpResponse::default();
    r.status_code = status;
    if let Some(text) = &text {
        r.headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        r.body = Some(Body::Text(text.clone()));
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(json: serde_json::Value) -> ApiGatewayV2httpRequest {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn reads_routes_headers_and_both_bodies() {
        let r = request(serde_json::json!({
            "version": "2.0",
            "routeKey": "POST /slack/commands",
            "rawPath": "/slack/commands",
            "headers": {"X-Slack-Request-Timestamp": "1", "x-slack-signature": "v0=ab", "x-slack-retry-num": "1"},
            "requestContext": {"http": {"method": "POST", "path": "/slack/commands"}},
            "body": "dGV4dD1oaQ==",
            "isBase64Encoded": true
        }));
        let i = Inbound::of(&r);
        assert_eq!(i.route, Some(Route::Commands));
        assert_eq!(i.timestamp.as_deref(), Some("1"));
        assert_eq!(i.signature.as_deref(), Some("v0=ab"));
        assert_eq!(i.retry.as_deref(), Some("1"));
        assert_eq!(i.body.unwrap(), b"text=hi");

        let plain = request(serde_json::json!({
            "rawPath": "/slack/interactions",
            "requestContext": {"http": {"method": "POST"}},
            "body": "payload=x", "isBase64Encoded": false
        }));
        let i = Inbound::of(&plain);
        assert_eq!(i.route, Some(Route::Interactions));
        assert_eq!(i.body.unwrap(), b"payload=x");
        assert_eq!(i.signature, None);
    }

    #[test]
    fn other_routes_and_bad_base64_are_told_apart() {
        let get = request(serde_json::json!({
            "rawPath": "/slack/commands",
            "requestContext": {"http": {"method": "GET"}}
        }));
        assert_eq!(Inbound::of(&get).route, None);
        let bad = request(serde_json::json!({
            "rawPath": "/slack/commands",
            "requestContext": {"http": {"method": "POST"}},
            "body": "%%%", "isBase64Encoded": true
        }));
        assert!(Inbound::of(&bad).body.unwrap_err().contains("base64"));
    }
}
