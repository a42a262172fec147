//! The bodies Slack posts, parsed after their signature has been verified: slash commands
//! (`application/x-www-form-urlencoded` fields) and interactions (a `payload` form field holding
//! JSON, e.g. a `block_actions` button click).
//!
//! Parsing never panics, whatever bytes come in; every refusal names the field and the problem.
//! The deprecated verification `token` Slack still sends is ignored and never kept.

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use std::collections::HashMap;

/// Why a body could not be parsed. The message names the field and the problem.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    /// The body is not UTF-8 text.
    #[error("the body is not UTF-8")]
    NotUtf8,
    /// A required field is absent (or `null` in JSON).
    #[error("field `{field}` is missing")]
    Missing {
        /// The field, as a path for JSON (`user.id`, `actions[0].action_id`).
        field: &'static str,
    },
    /// A required field is present but empty.
    #[error("field `{field}` is empty")]
    Empty {
        /// The field.
        field: &'static str,
    },
    /// A form field appears more than once, so its value is ambiguous.
    #[error("field `{field}` appears more than once")]
    Duplicate {
        /// The field.
        field: &'static str,
    },
    /// A field holds a value of the wrong kind.
    #[error("field `{field}` {problem}")]
    Invalid {
        /// The field.
        field: &'static str,
        /// What is wrong with it ("is not a string", "is not `true` or `false`", ...).
        problem: &'static str,
    },
    /// The `payload` field of an interaction is not JSON.
    #[error("field `{field}` is not JSON: {detail}")]
    NotJson {
        /// The field (`payload`).
        field: &'static str,
        /// The JSON parser's explanation (position and expectation, never the content).
        detail: String,
    },
}

/// What a slash command request body holds.
// One per request, matched at once: boxing the command would only make matching clumsier.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandBody {
    /// Slack's SSL certificate probe (`ssl_check=1`): answer 200, do nothing else.
    SslCheck,
    /// A slash command someone typed.
    Command(SlashCommand),
}

/// A slash command (`/capstan scale api 6`), as Slack sends it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlashCommand {
    /// The workspace (`T...`).
    pub team_id: String,
    /// The Enterprise Grid organization (`E...`), when there is one.
    pub enterprise_id: Option<String>,
    /// The Slack app the command belongs to (`A...`).
    pub api_app_id: Option<String>,
    /// The conversation the command was typed in (`C...`, `G...`, `D...`).
    pub channel_id: String,
    /// The conversation's name, when Slack gives it (informational; authorize on the id).
    pub channel_name: Option<String>,
    /// Who typed the command (`U...` or `W...`).
    pub user_id: String,
    /// Their (deprecated) user name, when Slack gives it (informational; authorize on the id).
    pub user_name: Option<String>,
    /// The command itself (`/capstan`).
    pub command: String,
    /// Everything after the command (may be empty).
    pub text: String,
    /// Where to post responses, for 30 minutes (check it with [`crate::url::ResponseUrl`]).
    pub response_url: String,
    /// A short-lived id for opening a modal; also identifies this invocation.
    pub trigger_id: Option<String>,
    /// Whether the app is installed org-wide on an Enterprise Grid organization.
    pub is_enterprise_install: bool,
}

/// An interaction payload (a Block Kit button click is a `block_actions` one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interaction {
    /// The payload's `type` (`block_actions`, `view_submission`, ...).
    pub kind: String,
    /// Who interacted (`user.id`).
    pub user_id: String,
    /// Their user name (`user.username`, else `user.name`), informational.
    pub user_name: Option<String>,
    /// The workspace (`team.id`, else `user.team_id`).
    pub team_id: String,
    /// The Enterprise Grid organization (`enterprise.id`, else `user.enterprise_id`).
    pub enterprise_id: Option<String>,
    /// The Slack app (`api_app_id`).
    pub api_app_id: Option<String>,
    /// The conversation (`channel.id`, else `container.channel_id`).
    pub channel_id: Option<String>,
    /// Where to post responses (`response_url`); absent for interactions in modals.
    pub response_url: Option<String>,
    /// A short-lived id for opening a modal (`trigger_id`).
    pub trigger_id: Option<String>,
    /// The message the interaction happened in (`container.message_ts`).
    pub message_ts: Option<String>,
    /// The first of `actions`: what was clicked.
    pub action: Option<Action>,
}

/// One interactive element's action (a button click).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Action {
    /// The element's `action_id` (e.g. [`crate::message::CONFIRM_ACTION`]).
    pub action_id: String,
    /// The block the element is in (e.g. [`crate::message::BLOCK_ID`]).
    pub block_id: Option<String>,
    /// The button's `value` (for Capstan's buttons, the request id).
    pub value: Option<String>,
}

/// The form fields of a body, refusing any known field given twice.
struct Form {
    fields: HashMap<String, String>,
}

impl Form {
    /// Parses `body` as `application/x-www-form-urlencoded`. Only `known` fields are kept (so
    /// `token` never is); a known field given twice is refused.
    fn parse(body: &[u8], known: &[&'static str]) -> Result<Form, RequestError> {
        std::str::from_utf8(body).map_err(|_| RequestError::NotUtf8)?;
        let mut fields = HashMap::new();
        for (name, value) in form_urlencoded::parse(body) {
            let Some(field) = known.iter().find(|k| **k == name) else {
                continue;
            };
            if fields
                .insert((*field).to_string(), value.into_owned())
                .is_some()
            {
                return Err(RequestError::Duplicate { field });
            }
        }
        Ok(Form { fields })
    }

    fn optional(&self, field: &'static str) -> Option<String> {
        self.fields.get(field).cloned()
    }

    /// A present, non-empty field.
    fn required(&self, field: &'static str) -> Result<String, RequestError> {
        match self.fields.get(field) {
            None => Err(RequestError::Missing { field }),
            Some(value) if value.is_empty() => Err(RequestError::Empty { field }),
            Some(value) => Ok(value.clone()),
        }
    }

    /// An optional field, absent when empty.
    fn non_empty(&self, field: &'static str) -> Option<String> {
        self.optional(field).filter(|v| !v.is_empty())
    }
}

/// The slash command fields Capstan reads (`token` is deliberately not among them).
const COMMAND_FIELDS: &[&str] = &[
    "ssl_check",
    "team_id",
    "enterprise_id",
    "api_app_id",
    "channel_id",
    "channel_name",
    "user_id",
    "user_name",
    "command",
    "text",
    "response_url",
    "trigger_id",
    "is_enterprise_install",
];

/// Parses a slash command request body (`/slack/commands`), already verified.
///
/// `ssl_check=1` is Slack's SSL probe ([`CommandBody::SslCheck`]). Otherwise `team_id`,
/// `channel_id`, `user_id`, `command` and `response_url` are required and non-empty; `text` may
/// be empty or absent.
pub fn parse_command(body: &[u8]) -> Result<CommandBody, RequestError> {
    let form = Form::parse(body, COMMAND_FIELDS)?;
    if form.optional("ssl_check").as_deref() == Some("1") {
        return Ok(CommandBody::SslCheck);
    }
    let is_enterprise_install = match form.optional("is_enterprise_install").as_deref() {
        None | Some("") | Some("false") => false,
        Some("true") => true,
        Some(_) => {
            return Err(RequestError::Invalid {
                field: "is_enterprise_install",
                problem: "is not `true` or `false`",
            })
        }
    };
    Ok(CommandBody::Command(SlashCommand {
        team_id: form.required("team_id")?,
        enterprise_id: form.non_empty("enterprise_id"),
        api_app_id: form.non_empty("api_app_id"),
        channel_id: form.required("channel_id")?,
        channel_name: form.non_empty("channel_name"),
        user_id: form.required("user_id")?,
        user_name: form.non_empty("user_name"),
        command: form.required("command")?,
        text: form.optional("text").unwrap_or_default(),
        response_url: form.required("response_url")?,
        trigger_id: form.non_empty("trigger_id"),
        is_enterprise_install,
    }))
}

/// Parses an interaction request body (`/slack/interactions`), already verified: the `payload`
/// form field holds the JSON payload.
///
/// Required: `type`, `user.id`, and a team (`team.id` or `user.team_id`). The first of `actions`,
/// when there is one, must have an `action_id`.
pub fn parse_interaction(body: &[u8]) -> Result<Interaction, RequestError> {
    let form = Form::parse(body, &["payload"])?;
    let raw = form.required("payload")?;
    let payload: Value = serde_json::from_str(&raw).map_err(|e| RequestError::NotJson {
        field: "payload",
        detail: json_error(&e),
    })?;
    let Value::Object(payload) = payload else {
        return Err(RequestError::Invalid {
            field: "payload",
            problem: "is not a JSON object",
        });
    };
    let user = object(&payload, "user", "user")?.ok_or(RequestError::Missing { field: "user" })?;
    let team = object(&payload, "team", "team")?;
    let enterprise = object(&payload, "enterprise", "enterprise")?;
    let channel = object(&payload, "channel", "channel")?;
    let container = object(&payload, "container", "container")?;

    let team_id = match team {
        Some(team) => string(team, "id", "team.id")?,
        None => None,
    };
    let team_id = match team_id {
        Some(id) => id,
        None => string(user, "team_id", "user.team_id")?
            .ok_or(RequestError::Missing { field: "team.id" })?,
    };
    let enterprise_id = match enterprise {
        Some(enterprise) => string(enterprise, "id", "enterprise.id")?,
        None => None,
    };
    let enterprise_id = match enterprise_id {
        Some(id) => Some(id),
        None => string(user, "enterprise_id", "user.enterprise_id")?,
    };
    let channel_id = match channel {
        Some(channel) => string(channel, "id", "channel.id")?,
        None => None,
    };
    let channel_id = match (channel_id, container) {
        (Some(id), _) => Some(id),
        (None, Some(container)) => string(container, "channel_id", "container.channel_id")?,
        (None, None) => None,
    };
    let message_ts = match container {
        Some(container) => string(container, "message_ts", "container.message_ts")?,
        None => None,
    };
    let user_name = match string(user, "username", "user.username")? {
        Some(name) => Some(name),
        None => string(user, "name", "user.name")?,
    };

    Ok(Interaction {
        kind: required(string(&payload, "type", "type")?, "type")?,
        user_id: required(string(user, "id", "user.id")?, "user.id")?,
        user_name,
        team_id,
        enterprise_id,
        api_app_id: string(&payload, "api_app_id", "api_app_id")?,
        channel_id,
        response_url: string(&payload, "response_url", "response_url")?,
        trigger_id: string(&payload, "trigger_id", "trigger_id")?,
        message_ts,
        action: first_action(&payload)?,
    })
}

/// The first of `actions`, if any.
fn first_action(payload: &Map<String, Value>) -> Result<Option<Action>, RequestError> {
    let actions = match payload.get("actions") {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Array(actions)) => actions,
        Some(_) => {
            return Err(RequestError::Invalid {
                field: "actions",
                problem: "is not a list",
            })
        }
    };
    let Some(first) = actions.first() else {
        return Ok(None);
    };
    let Value::Object(first) = first else {
        return Err(RequestError::Invalid {
            field: "actions[0]",
            problem: "is not an object",
        });
    };
    Ok(Some(Action {
        action_id: required(
            string(first, "action_id", "actions[0].action_id")?,
            "actions[0].action_id",
        )?,
        block_id: string(first, "block_id", "actions[0].block_id")?,
        value: string(first, "value", "actions[0].value")?,
    }))
}

/// An optional nested object; `null` counts as absent.
fn object<'a>(
    parent: &'a Map<String, Value>,
    key: &str,
    field: &'static str,
) -> Result<Option<&'a Map<String, Value>>, RequestError> {
    match parent.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(map)) => Ok(Some(map)),
        Some(_) => Err(RequestError::Invalid {
            field,
            problem: "is not an object",
        }),
    }
}

/// An optional string; `null` and `""` count as absent.
fn string(
    parent: &Map<String, Value>,
    key: &str,
    field: &'static str,
) -> Result<Option<String>, RequestError> {
    match parent.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(RequestError::Invalid {
            field,
            problem: "is not a string",
        }),
    }
}

fn required(value: Option<String>, field: &'static str) -> Result<String, RequestError> {
    value.ok_or(RequestError::Missing { field })
}

/// serde_json's explanation without any of the content: its category and position.
fn json_error(error: &serde_json::Error) -> String {
    use serde_json::error::Category;
    let what = match error.classify() {
        Category::Io => "unreadable",
        Category::Syntax => "syntax error",
        Category::Data => "unexpected data",
        Category::Eof => "unexpected end",
    };
    format!("{what} at line {} column {}", error.line(), error.column())
}

/// The number of hex digits of the SHA-256 kept in a request id (104 bits).
const REQUEST_ID_DIGITS: usize = 26;

/// An opaque, stable id for a Slack request: `req-` and 26 lowercase hex digits of a SHA-256.
///
/// It is derived from the team and `trigger_id` when there is one (unique per invocation), else
/// from the request timestamp and the raw body. The same request retried by Slack
/// (`X-Slack-Retry-Num`) carries the same trigger id and body, so it gets the same id and is
/// never acted on twice.
pub fn request_id(team_id: &str, trigger_id: Option<&str>, timestamp: &str, body: &[u8]) -> String {
    let mut hash = Sha256::new();
    // Length-prefixed parts, so no two different inputs hash the same bytes.
    let mut part = |bytes: &[u8]| {
        hash.update((bytes.len() as u64).to_be_bytes());
        hash.update(bytes);
    };
    match trigger_id.filter(|t| !t.is_empty()) {
        Some(trigger) => {
            part(b"capstan-slack/trigger");
            part(team_id.as_bytes());
            part(trigger.as_bytes());
        }
        None => {
            part(b"capstan-slack/body");
            part(timestamp.as_bytes());
            part(body);
        }
    }
    let digest = hex::encode(hash.finalize());
    format!("req-{}", &digest[..REQUEST_ID_DIGITS])
}

/// A form body as Slack sends one (`application/x-www-form-urlencoded`), from its fields in
/// order: for tests, demos and tools that play Slack.
pub fn encode_form(pairs: &[(&str, &str)]) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

/// Whether `s` looks like a Slack user id: `U` or `W` followed by uppercase letters and digits,
/// 3 to 21 characters in all.
pub fn is_slack_user_id(s: &str) -> bool {
    let bytes = s.as_bytes();
    (3..=21).contains(&bytes.len())
        && matches!(bytes[0], b'U' | b'W')
        && bytes[1..]
            .iter()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    const COMMAND: &str = "token=gIkuvaNzQIHg97ATvDxqgjtO&team_id=T0001&team_domain=example&enterprise_id=E0001&enterprise_name=Globular+Construct+Inc&channel_id=C2147483705&channel_name=ops-scaling&user_id=U2147483697&user_name=steve&command=%2Fcapstan&text=scale+api+6&api_app_id=A123456&is_enterprise_install=false&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT0001%2F1234567890%2FabcdefABCDEF123456&trigger_id=13345224609.738474920.8088930838d88f008e0";

    fn command(body: &str) -> Result<SlashCommand, RequestError> {
        match parse_command(body.as_bytes())? {
            CommandBody::Command(c) => Ok(c),
            CommandBody::SslCheck => panic!("not a command"),
        }
    }

    fn without(body: &str, field: &str) -> String {
        body.split('&')
            .filter(|kv| kv.split('=').next() != Some(field))
            .collect::<Vec<_>>()
            .join("&")
    }

    fn with(body: &str, field: &str, value: &str) -> String {
        body.split('&')
            .map(|kv| {
                if kv.split('=').next() == Some(field) {
                    format!("{field}={value}")
                } else {
                    kv.to_string()
                }
            })
            .collect::<Vec<_>>()
            .join("&")
    }

    fn interaction_body(payload: &Value) -> Vec<u8> {
        form_urlencoded::Serializer::new(String::new())
            .append_pair("payload", &payload.to_string())
            .finish()
            .into_bytes()
    }

    fn click() -> Value {
        json!({
            "type": "block_actions",
            "user": {"id": "U2147483697", "username": "steve", "name": "steve", "team_id": "T0001"},
            "api_app_id": "A123456",
            "token": "gIkuvaNzQIHg97ATvDxqgjtO",
            "container": {"type": "message", "message_ts": "1795442401.000200", "channel_id": "C2147483705", "is_ephemeral": true},
            "trigger_id": "1021.3901.2e25",
            "team": {"id": "T0001", "domain": "example"},
            "enterprise": null,
            "is_enterprise_install": false,
            "channel": {"id": "C2147483705", "name": "ops-scaling"},
            "response_url": "https://hooks.slack.com/actions/T0001/1795442402/XXXXXXXXXXXXXXXXXXXX",
            "actions": [{
                "type": "button", "action_id": "capstan_confirm", "block_id": "capstan_req",
                "text": {"type": "plain_text", "text": "Scale"}, "value": "req-01JD6ZK8S0",
                "style": "danger", "action_ts": "1795442410.289415"
            }]
        })
    }

    #[test]
    fn a_slash_command_is_parsed_whole() {
        assert_eq!(
            command(COMMAND).unwrap(),
            SlashCommand {
                team_id: "T0001".into(),
                enterprise_id: Some("E0001".into()),
                api_app_id: Some("A123456".into()),
                channel_id: "C2147483705".into(),
                channel_name: Some("ops-scaling".into()),
                user_id: "U2147483697".into(),
                user_name: Some("steve".into()),
                command: "/capstan".into(),
                text: "scale api 6".into(),
                response_url:
                    "https://hooks.slack.com/commands/T0001/1234567890/abcdefABCDEF123456".into(),
                trigger_id: Some("13345224609.738474920.8088930838d88f008e0".into()),
                is_enterprise_install: false,
            }
        );
    }

    #[test]
    fn the_token_is_never_kept() {
        let parsed = command(COMMAND).unwrap();
        assert!(!format!("{parsed:?}").contains("gIkuvaNzQIHg97ATvDxqgjtO"));
        let interaction = parse_interaction(&interaction_body(&click())).unwrap();
        assert!(!format!("{interaction:?}").contains("gIkuvaNzQIHg97ATvDxqgjtO"));
        // A duplicated token is not an error: the field is not read at all.
        command(&format!("{COMMAND}&token=a&token=b")).unwrap();
    }

    #[test]
    fn quoted_and_encoded_text_is_decoded() {
        let c = command(&with(
            COMMAND,
            "text",
            "lift-cap+%22Q3+spend%22+%26+more%E2%80%A6",
        ))
        .unwrap();
        assert_eq!(c.text, "lift-cap \"Q3 spend\" & more…");
    }

    #[test]
    fn ssl_check_is_recognised() {
        assert_eq!(
            parse_command(b"ssl_check=1&token=abc").unwrap(),
            CommandBody::SslCheck
        );
        assert_eq!(
            parse_command(b"token=abc&ssl_check=1").unwrap(),
            CommandBody::SslCheck
        );
        // Any other value is not the probe: the body must then be a whole command.
        assert_eq!(
            parse_command(b"ssl_check=0&token=abc").unwrap_err(),
            RequestError::Missing { field: "team_id" }
        );
    }

    #[test]
    fn required_fields_are_named_when_missing_or_empty() {
        for field in [
            "team_id",
            "channel_id",
            "user_id",
            "command",
            "response_url",
        ] {
            let err = command(&without(COMMAND, field)).unwrap_err();
            assert_eq!(err, RequestError::Missing { field });
            assert_eq!(err.to_string(), format!("field `{field}` is missing"));
            let err = command(&with(COMMAND, field, "")).unwrap_err();
            assert_eq!(err.to_string(), format!("field `{field}` is empty"));
        }
    }

    #[test]
    fn optional_fields_may_be_absent() {
        let mut body = COMMAND.to_string();
        for field in [
            "enterprise_id",
            "api_app_id",
            "channel_name",
            "user_name",
            "trigger_id",
            "is_enterprise_install",
            "text",
        ] {
            body = without(&body, field);
        }
        let c = command(&body).unwrap();
        assert_eq!(c.enterprise_id, None);
        assert_eq!(c.api_app_id, None);
        assert_eq!(c.channel_name, None);
        assert_eq!(c.user_name, None);
        assert_eq!(c.trigger_id, None);
        assert!(!c.is_enterprise_install);
        assert_eq!(c.text, "");
        assert_eq!(command(&with(COMMAND, "text", "")).unwrap().text, "");
        assert_eq!(
            command(&with(COMMAND, "enterprise_id", ""))
                .unwrap()
                .enterprise_id,
            None
        );
    }

    #[test]
    fn is_enterprise_install_is_a_boolean() {
        assert!(
            command(&with(COMMAND, "is_enterprise_install", "true"))
                .unwrap()
                .is_enterprise_install
        );
        assert_eq!(
            command(&with(COMMAND, "is_enterprise_install", "yes"))
                .unwrap_err()
                .to_string(),
            "field `is_enterprise_install` is not `true` or `false`"
        );
    }

    #[test]
    fn a_field_given_twice_is_refused() {
        let err = command(&format!("{COMMAND}&user_id=U0ATTACKER")).unwrap_err();
        assert_eq!(err, RequestError::Duplicate { field: "user_id" });
        assert_eq!(err.to_string(), "field `user_id` appears more than once");
    }

    #[test]
    fn a_body_that_is_not_utf8_is_refused() {
        let mut body = COMMAND.as_bytes().to_vec();
        body.push(0xff);
        assert_eq!(parse_command(&body).unwrap_err(), RequestError::NotUtf8);
        assert_eq!(parse_interaction(&body).unwrap_err(), RequestError::NotUtf8);
    }

    #[test]
    fn a_button_click_is_parsed() {
        assert_eq!(
            parse_interaction(&interaction_body(&click())).unwrap(),
            Interaction {
                kind: "block_actions".into(),
                user_id: "U2147483697".into(),
                user_name: Some("steve".into()),
                team_id: "T0001".into(),
                enterprise_id: None,
                api_app_id: Some("A123456".into()),
                channel_id: Some("C2147483705".into()),
                response_url: Some(
                    "https://hooks.slack.com/actions/T0001/1795442402/XXXXXXXXXXXXXXXXXXXX".into()
                ),
                trigger_id: Some("1021.3901.2e25".into()),
                message_ts: Some("1795442401.000200".into()),
                action: Some(Action {
                    action_id: "capstan_confirm".into(),
                    block_id: Some("capstan_req".into()),
                    value: Some("req-01JD6ZK8S0".into()),
                }),
            }
        );
    }

    #[test]
    fn an_org_wide_click_falls_back_to_the_users_team_and_the_containers_channel() {
        let mut payload = click();
        payload["team"] = Value::Null;
        payload["enterprise"] = json!({"id": "E0001", "name": "Globular"});
        payload.as_object_mut().unwrap().remove("channel");
        payload["user"].as_object_mut().unwrap().remove("username");
        let i = parse_interaction(&interaction_body(&payload)).unwrap();
        assert_eq!(i.team_id, "T0001");
        assert_eq!(i.enterprise_id.as_deref(), Some("E0001"));
        assert_eq!(i.channel_id.as_deref(), Some("C2147483705"));
        assert_eq!(i.user_name.as_deref(), Some("steve"));

        payload["user"].as_object_mut().unwrap().remove("team_id");
        assert_eq!(
            parse_interaction(&interaction_body(&payload))
                .unwrap_err()
                .to_string(),
            "field `team.id` is missing"
        );
    }

    #[test]
    fn the_first_action_is_the_one_kept_and_none_is_fine() {
        let mut payload = click();
        payload["actions"]
            .as_array_mut()
            .unwrap()
            .push(json!({"action_id": "capstan_cancel", "value": "req-other"}));
        let i = parse_interaction(&interaction_body(&payload)).unwrap();
        assert_eq!(i.action.unwrap().action_id, "capstan_confirm");
        payload["actions"] = json!([]);
        assert_eq!(
            parse_interaction(&interaction_body(&payload))
                .unwrap()
                .action,
            None
        );
        payload.as_object_mut().unwrap().remove("actions");
        assert_eq!(
            parse_interaction(&interaction_body(&payload))
                .unwrap()
                .action,
            None
        );
        payload["actions"] = json!([{"action_id": "capstan_confirm"}]);
        let action = parse_interaction(&interaction_body(&payload))
            .unwrap()
            .action
            .unwrap();
        assert_eq!((action.block_id, action.value), (None, None));
    }

    #[test]
    fn interaction_errors_name_the_field() {
        type Change = fn(&mut Value);
        let cases: Vec<(Change, &str)> = vec![
            (
                |p| drop(p.as_object_mut().unwrap().remove("type")),
                "field `type` is missing",
            ),
            (
                |p| drop(p.as_object_mut().unwrap().remove("user")),
                "field `user` is missing",
            ),
            (
                |p| drop(p["user"].as_object_mut().unwrap().remove("id")),
                "field `user.id` is missing",
            ),
            (
                |p| p["user"]["id"] = json!(42),
                "field `user.id` is not a string",
            ),
            (|p| p["user"] = json!("U1"), "field `user` is not an object"),
            (
                |p| p["team"]["id"] = json!(["T1"]),
                "field `team.id` is not a string",
            ),
            (
                |p| p["actions"] = json!({}),
                "field `actions` is not a list",
            ),
            (
                |p| p["actions"] = json!(["x"]),
                "field `actions[0]` is not an object",
            ),
            (
                |p| p["actions"] = json!([{"value": "req-1"}]),
                "field `actions[0].action_id` is missing",
            ),
            (
                |p| p["response_url"] = json!(true),
                "field `response_url` is not a string",
            ),
            (
                |p| p["container"] = json!(1),
                "field `container` is not an object",
            ),
        ];
        for (change, message) in cases {
            let mut payload = click();
            change(&mut payload);
            assert_eq!(
                parse_interaction(&interaction_body(&payload))
                    .unwrap_err()
                    .to_string(),
                message
            );
        }
    }

    #[test]
    fn the_payload_must_be_one_json_object() {
        assert_eq!(
            parse_interaction(b"").unwrap_err().to_string(),
            "field `payload` is missing"
        );
        assert_eq!(
            parse_interaction(b"payload=").unwrap_err().to_string(),
            "field `payload` is empty"
        );
        let err = parse_interaction(b"payload=%7B%22type%22").unwrap_err();
        assert_eq!(
            err.to_string(),
            "field `payload` is not JSON: unexpected end at line 1 column 7"
        );
        let err = parse_interaction(b"payload=secret-stuff").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("field `payload` is not JSON: syntax error"),
            "{err}"
        );
        assert!(!err.to_string().contains("secret"));
        assert_eq!(
            parse_interaction(b"payload=%5B%5D")
                .unwrap_err()
                .to_string(),
            "field `payload` is not a JSON object"
        );
        let body = [
            interaction_body(&click()),
            b"&".to_vec(),
            interaction_body(&click()),
        ]
        .concat();
        assert_eq!(
            parse_interaction(&body).unwrap_err(),
            RequestError::Duplicate { field: "payload" }
        );
    }

    #[test]
    fn request_ids_are_stable_and_distinct() {
        let body = COMMAND.as_bytes();
        let id = request_id(
            "T0001",
            Some("13345224609.738474920.8088930838d88f008e0"),
            "1795442400",
            body,
        );
        assert!(id.starts_with("req-"));
        assert_eq!(id.len(), 4 + 26);
        assert!(id[4..]
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
        // A retry is re-signed at another time but carries the same trigger id: same id.
        assert_eq!(
            id,
            request_id(
                "T0001",
                Some("13345224609.738474920.8088930838d88f008e0"),
                "1795442460",
                body
            )
        );
        // Another invocation, or the same trigger id in another workspace: another id.
        assert_ne!(
            id,
            request_id(
                "T0001",
                Some("13345224609.738474920.8088930838d88f008e1"),
                "1795442400",
                body
            )
        );
        assert_ne!(
            id,
            request_id(
                "T0002",
                Some("13345224609.738474920.8088930838d88f008e0"),
                "1795442400",
                body
            )
        );
        // Without a trigger id: timestamp and body.
        let a = request_id("T0001", None, "1795442400", body);
        assert_eq!(a, request_id("T0001", Some(""), "1795442400", body));
        assert_eq!(
            a,
            request_id("T0009", None, "1795442400", body),
            "the body names the team"
        );
        assert_ne!(a, id);
        assert_ne!(a, request_id("T0001", None, "1795442401", body));
        assert_ne!(a, request_id("T0001", None, "1795442400", &body[1..]));
        // Parts are length-prefixed: moving bytes between them changes the id.
        assert_ne!(
            request_id("T1", None, "12", b"3"),
            request_id("T1", None, "1", b"23")
        );
        assert_ne!(
            request_id("T1", Some("23"), "", b""),
            request_id("T12", Some("3"), "", b"")
        );
    }

    #[test]
    fn slack_user_ids() {
        for ok in [
            "U2147483697",
            "W012A3CDE",
            "U0G9QF9C6",
            "UAB",
            "U12345678901234567890",
        ] {
            assert!(is_slack_user_id(ok), "{ok}");
        }
        for bad in [
            "",
            "U",
            "U1",
            "u2147483697",
            "B2147483697",
            "C2147483705",
            "T0001",
            "U21474836a7",
            "U-1234",
            " U2147483697",
            "U2147483697 ",
            "U123456789012345678901",
            "UÉ1234",
            "cli:steve",
        ] {
            assert!(!is_slack_user_id(bad), "{bad}");
        }
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(body in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = parse_command(&body);
            let _ = parse_interaction(&body);
            let _ = request_id("T1", None, "1", &body);
        }

        #[test]
        fn arbitrary_forms_never_panic(
            pairs in proptest::collection::vec(
                (
                    prop_oneof![
                        Just("payload".to_string()), Just("user_id".to_string()), Just("ssl_check".to_string()),
                        Just("team_id".to_string()), Just("is_enterprise_install".to_string()), "[a-z_]{0,12}"
                    ],
                    ".{0,64}",
                ),
                0..12,
            )
        ) {
            let mut form = form_urlencoded::Serializer::new(String::new());
            for (k, v) in &pairs {
                form.append_pair(k, v);
            }
            let body = form.finish();
            let _ = parse_command(body.as_bytes());
            let _ = parse_interaction(body.as_bytes());
        }

        #[test]
        fn arbitrary_json_payloads_never_panic(json in arbitrary_json()) {
            let _ = parse_interaction(&interaction_body(&json));
            let mut payload = click();
            payload["user"] = json.clone();
            let _ = parse_interaction(&interaction_body(&payload));
            payload["actions"] = json;
            let _ = parse_interaction(&interaction_body(&payload));
        }
    }

    fn arbitrary_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(|n| json!(n)),
            "[a-zA-Z0-9_]{0,8}".prop_map(Value::String),
        ];
        leaf.prop_recursive(3, 32, 6, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                proptest::collection::btree_map(
                    prop_oneof![
                        Just("id".to_string()),
                        Just("type".to_string()),
                        Just("team_id".to_string()),
                        Just("action_id".to_string()),
                        "[a-z_]{1,8}"
                    ],
                    inner,
                    0..4
                )
                .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }
}
