//! # capstan-slack
//!
//! Slack's side of `/capstan`, as pure functions: no AWS, no HTTP client, no clock (the time is
//! an argument).
//!
//! - [`verify`]: "Verifying requests from Slack" (HMAC-SHA256 signatures, the replay window).
//! - [`request`]: slash command and interaction bodies, the request id.
//! - [`message`]: replies and Block Kit confirmation buttons.
//! - [`url`]: the `response_url` guard (Slack's hooks, or one local test prefix).
//!
//! A handler verifies first, then parses, and never acts on anything it could not verify.
#![warn(missing_docs)]

pub mod message;
pub mod request;
pub mod url;
pub mod verify;

pub use message::{escape, Confirmation, Message, ResponseType};
pub use request::{
    is_slack_user_id, parse_command, parse_interaction, request_id, Action, CommandBody,
    Interaction, RequestError, SlashCommand,
};
pub use url::{ResponseUrl, UrlError};
pub use verify::{Verifier, VerifyError, MAX_SKEW};
