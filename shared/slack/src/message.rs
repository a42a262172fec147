//! Messages Capstan sends to Slack (as the answer to a request, or posted to its `response_url`),
//! with Block Kit blocks for confirmations.
//!
//! Every builder keeps within Slack's documented limits, truncating with "…" rather than
//! producing a message Slack would reject.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// The `block_id` of the actions block holding Capstan's confirmation buttons.
pub const BLOCK_ID: &str = "capstan_req";
/// The `action_id` of the button that confirms a request (its value is the request id).
pub const CONFIRM_ACTION: &str = "capstan_confirm";
/// The `action_id` of the button that cancels a request (its value is the request id).
pub const CANCEL_ACTION: &str = "capstan_cancel";

/// Slack's limit on a message's top-level `text` (it truncates longer ones).
pub const TEXT_MAX: usize = 40_000;
/// Slack's limit on a section block's text.
pub const SECTION_TEXT_MAX: usize = 3_000;
/// Slack's limit on a button's text.
pub const BUTTON_TEXT_MAX: usize = 75;
/// Slack's limit on a button's value.
pub const BUTTON_VALUE_MAX: usize = 2_000;
/// Slack's limit on a confirmation dialog's title.
pub const DIALOG_TITLE_MAX: usize = 100;
/// Slack's limit on a confirmation dialog's text.
pub const DIALOG_TEXT_MAX: usize = 300;
/// Slack's limit on a confirmation dialog's confirm and deny button texts.
pub const DIALOG_BUTTON_MAX: usize = 30;

/// The label of the cancel button.
const CANCEL_LABEL: &str = "Cancel";
/// The label of the dialog's button that closes it without doing anything.
const DENY_LABEL: &str = "Go back";

/// Who sees a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResponseType {
    /// Only the person who asked (`ephemeral`), Slack's default.
    Ephemeral,
    /// Everyone in the conversation (`in_channel`).
    InChannel,
}

/// A message, serialized to exactly the JSON Slack accepts as a request's answer or a
/// `response_url` post.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    /// Who sees it; absent means Slack's default (ephemeral).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_type: Option<ResponseType>,
    /// The text, or with blocks the fallback shown in notifications (mrkdwn).
    #[serde(default)]
    pub text: String,
    /// Block Kit blocks; omitted when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub blocks: Vec<Value>,
    /// With a `response_url` from an interaction: replace the message that was clicked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replace_original: Option<bool>,
    /// With a `response_url` from an interaction: delete the message that was clicked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delete_original: Option<bool>,
}

/// What a confirmation message asks, for [`Message::confirmation`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Confirmation {
    /// The request id, the value of both buttons.
    pub request_id: String,
    /// What was asked, in mrkdwn (escape user text with [`escape`]).
    pub summary: String,
    /// The question, e.g. "Scale api from 4 to 12?" (mrkdwn); also the notification text.
    pub question: String,
    /// The confirm dialog's title, e.g. "Scale api?" (plain text).
    pub dialog_title: String,
    /// What will happen, shown in the confirm dialog (plain text).
    pub dialog_text: String,
    /// The label of the confirm button and of the dialog's confirm button, e.g. "Scale".
    pub confirm_label: String,
    /// A dangerous change (`--force`, lifting a cap): red buttons instead of green.
    pub danger: bool,
}

impl Message {
    /// A message only the person who asked sees.
    pub fn ephemeral(text: impl Into<String>) -> Message {
        Message::with_type(ResponseType::Ephemeral, text.into())
    }

    /// A message everyone in the conversation sees.
    pub fn in_channel(text: impl Into<String>) -> Message {
        Message::with_type(ResponseType::InChannel, text.into())
    }

    fn with_type(response_type: ResponseType, text: String) -> Message {
        Message {
            response_type: Some(response_type),
            text: truncate(&text, TEXT_MAX),
            blocks: Vec::new(),
            replace_original: None,
            delete_original: None,
        }
    }

    /// The same message, replacing the one that was clicked (`replace_original: true`).
    pub fn replacing(mut self) -> Message {
        self.replace_original = Some(true);
        self
    }

    /// An ephemeral message asking the requester to confirm: a section with the summary and
    /// the question, then an actions block ([`BLOCK_ID`]) with a confirm button
    /// ([`CONFIRM_ACTION`], with a confirmation dialog saying what will happen) and a cancel
    /// button ([`CANCEL_ACTION`]), both valued with the request id.
    ///
    /// Set `response_type` to in-channel afterwards if others granted `confirm` must see it.
    pub fn confirmation(c: &Confirmation) -> Message {
        let style = if c.danger { "danger" } else { "primary" };
        let question = or(&c.question, "Go ahead?");
        let summary = match (c.summary.is_empty(), c.question.is_empty()) {
            (true, _) => question.to_string(),
            (false, true) => c.summary.clone(),
            (false, false) => format!("{}\n{}", c.summary, c.question),
        };
        let value = truncate(&c.request_id, BUTTON_VALUE_MAX);
        let label = or(&c.confirm_label, "Confirm");
        let mut dialog = json!({
            "title": plain(or(&c.dialog_title, "Are you sure?"), DIALOG_TITLE_MAX),
            "text": plain(or(&c.dialog_text, question), DIALOG_TEXT_MAX),
            "confirm": plain(label, DIALOG_BUTTON_MAX),
            "deny": plain(DENY_LABEL, DIALOG_BUTTON_MAX),
        });
        if c.danger {
            dialog["style"] = json!("danger");
        }
        let blocks = vec![
            json!({
                "type": "section",
                "text": {"type": "mrkdwn", "text": truncate(&summary, SECTION_TEXT_MAX)},
            }),
            json!({
                "type": "actions",
                "block_id": BLOCK_ID,
                "elements": [
                    {
                        "type": "button",
                        "action_id": CONFIRM_ACTION,
                        "text": plain(label, BUTTON_TEXT_MAX),
                        "value": value,
                        "style": style,
                        "confirm": dialog,
                    },
                    {
                        "type": "button",
                        "action_id": CANCEL_ACTION,
                        "text": plain(CANCEL_LABEL, BUTTON_TEXT_MAX),
                        "value": value,
                    },
                ],
            }),
        ];
        Message {
            blocks,
            ..Message::ephemeral(question)
        }
    }
}

/// `text`, or `default` when it is empty (Slack refuses empty text objects).
fn or<'a>(text: &'a str, default: &'a str) -> &'a str {
    if text.is_empty() {
        default
    } else {
        text
    }
}

/// A `plain_text` text object, truncated to `max`.
fn plain(text: &str, max: usize) -> Value {
    json!({"type": "plain_text", "text": truncate(text, max)})
}

/// `text` cut to at most `max` characters, ending with "…" when cut. Lengths are counted in
/// UTF-16 code units, which is never less than the number of characters, so the result is
/// within the limit however Slack counts.
pub fn truncate(text: &str, max: usize) -> String {
    if text.encode_utf16().count() <= max {
        return text.to_string();
    }
    let mut out = String::new();
    let mut units = 0;
    for c in text.chars() {
        if units + c.len_utf16() > max.saturating_sub(1) {
            break;
        }
        units += c.len_utf16();
        out.push(c);
    }
    if max > 0 {
        out.push('…');
    }
    out
}

/// Escapes text for Slack's mrkdwn: `&`, `<` and `>` become `&amp;`, `&lt;` and `&gt;`, so user
/// text cannot form links, mentions (`<!channel>`) or other markup.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn confirmation(danger: bool) -> Confirmation {
        Confirmation {
            request_id: "req-0123456789abcdef0123456789".into(),
            summary: "<@U2147483697> asked: `scale api 12 --force`".into(),
            question: "Scale *api* from 4 to 12, over its cap?".into(),
            dialog_title: "Scale api?".into(),
            dialog_text: "api goes from 4 to 12 tasks now, ignoring the cost cap.".into(),
            confirm_label: "Scale".into(),
            danger,
        }
    }

    #[test]
    fn plain_messages() {
        assert_eq!(
            serde_json::to_value(Message::ephemeral("Unknown command")).unwrap(),
            json!({"response_type": "ephemeral", "text": "Unknown command"})
        );
        assert_eq!(
            serde_json::to_value(Message::in_channel("<@U1> scaled api to 6").replacing()).unwrap(),
            json!({"response_type": "in_channel", "text": "<@U1> scaled api to 6", "replace_original": true})
        );
        let delete = Message {
            response_type: None,
            text: String::new(),
            blocks: vec![],
            replace_original: None,
            delete_original: Some(true),
        };
        assert_eq!(
            serde_json::to_value(delete).unwrap(),
            json!({"text": "", "delete_original": true})
        );
    }

    #[test]
    fn a_message_reads_back() {
        let message = Message::confirmation(&confirmation(true)).replacing();
        let text = serde_json::to_string(&message).unwrap();
        assert_eq!(serde_json::from_str::<Message>(&text).unwrap(), message);
    }

    #[test]
    fn a_confirmation_has_a_summary_and_two_buttons_valued_with_the_request_id() {
        let message = Message::confirmation(&confirmation(false));
        assert_eq!(
            serde_json::to_value(&message).unwrap(),
            json!({
                "response_type": "ephemeral",
                "text": "Scale *api* from 4 to 12, over its cap?",
                "blocks": [
                    {
                        "type": "section",
                        "text": {
                            "type": "mrkdwn",
                            "text": "<@U2147483697> asked: `scale api 12 --force`\nScale *api* from 4 to 12, over its cap?"
                        }
                    },
                    {
                        "type": "actions",
                        "block_id": "capstan_req",
                        "elements": [
                            {
                                "type": "button",
                                "action_id": "capstan_confirm",
                                "text": {"type": "plain_text", "text": "Scale"},
                                "value": "req-0123456789abcdef0123456789",
                                "style": "primary",
                                "confirm": {
                                    "title": {"type": "plain_text", "text": "Scale api?"},
                                    "text": {"type": "plain_text", "text": "api goes from 4 to 12 tasks now, ignoring the cost cap."},
                                    "confirm": {"type": "plain_text", "text": "Scale"},
                                    "deny": {"type": "plain_text", "text": "Go back"}
                                }
                            },
                            {
                                "type": "button",
                                "action_id": "capstan_cancel",
                                "text": {"type": "plain_text", "text": "Cancel"},
                                "value": "req-0123456789abcdef0123456789"
                            }
                        ]
                    }
                ]
            })
        );
    }

    #[test]
    fn a_dangerous_confirmation_is_red_and_so_is_its_dialog() {
        let value = serde_json::to_value(Message::confirmation(&confirmation(true))).unwrap();
        let confirm = &value["blocks"][1]["elements"][0];
        assert_eq!(confirm["style"], "danger");
        assert_eq!(confirm["confirm"]["style"], "danger");
        let cancel = &value["blocks"][1]["elements"][1];
        assert_eq!(cancel.get("style"), None);
        let safe = serde_json::to_value(Message::confirmation(&confirmation(false))).unwrap();
        assert_eq!(
            safe["blocks"][1]["elements"][0]["confirm"].get("style"),
            None
        );
    }

    #[test]
    fn a_confirmation_stays_within_slacks_limits() {
        let c = Confirmation {
            request_id: "r".repeat(2_500),
            summary: "s".repeat(5_000),
            question: "q".repeat(50),
            dialog_title: "t".repeat(150),
            dialog_text: "d".repeat(400),
            confirm_label: "l".repeat(100),
            danger: true,
        };
        let value = serde_json::to_value(Message::confirmation(&c)).unwrap();
        let len = |v: &Value| v.as_str().unwrap().chars().count();
        let section = &value["blocks"][0]["text"]["text"];
        assert_eq!(len(section), SECTION_TEXT_MAX);
        assert!(section.as_str().unwrap().ends_with('…'));
        let confirm = &value["blocks"][1]["elements"][0];
        assert_eq!(len(&confirm["text"]["text"]), BUTTON_TEXT_MAX);
        assert_eq!(len(&confirm["value"]), BUTTON_VALUE_MAX);
        assert_eq!(len(&confirm["confirm"]["title"]["text"]), DIALOG_TITLE_MAX);
        assert_eq!(len(&confirm["confirm"]["text"]["text"]), DIALOG_TEXT_MAX);
        assert_eq!(
            len(&confirm["confirm"]["confirm"]["text"]),
            DIALOG_BUTTON_MAX
        );
        assert_eq!(
            confirm["confirm"]["confirm"]["text"],
            format!("{}…", "l".repeat(29))
        );
        assert_eq!(value["blocks"][1]["elements"][1]["value"], confirm["value"]);
    }

    #[test]
    fn empty_parts_get_defaults_because_slack_refuses_empty_text() {
        let c = Confirmation {
            request_id: "req-1".into(),
            summary: String::new(),
            question: String::new(),
            dialog_title: String::new(),
            dialog_text: String::new(),
            confirm_label: String::new(),
            danger: false,
        };
        let value = serde_json::to_value(Message::confirmation(&c)).unwrap();
        assert_eq!(value["text"], "Go ahead?");
        assert_eq!(value["blocks"][0]["text"]["text"], "Go ahead?");
        let confirm = &value["blocks"][1]["elements"][0];
        assert_eq!(confirm["text"]["text"], "Confirm");
        assert_eq!(confirm["confirm"]["title"]["text"], "Are you sure?");
        assert_eq!(confirm["confirm"]["text"]["text"], "Go ahead?");
        let only_summary = Confirmation {
            summary: "asked".into(),
            ..c
        };
        let value = serde_json::to_value(Message::confirmation(&only_summary)).unwrap();
        assert_eq!(value["blocks"][0]["text"]["text"], "asked");
    }

    #[test]
    fn truncation_counts_characters_not_bytes() {
        assert_eq!(truncate("short", 5), "short");
        assert_eq!(truncate("toolong", 5), "tool…");
        assert_eq!(truncate("ééééééé", 5), "éééé…");
        // An emoji is two UTF-16 units: it is not split, and the limit holds either way.
        assert_eq!(truncate("ab😀cdef", 4), "ab…");
        assert_eq!(truncate("ab😀cdef", 5), "ab😀…");
        assert_eq!(truncate("abc", 0), "");
        assert_eq!(truncate("abc", 1), "…");
        let long = "x".repeat(TEXT_MAX + 10);
        assert_eq!(Message::ephemeral(long).text.chars().count(), TEXT_MAX);
    }

    #[test]
    fn escape_leaves_no_markup() {
        assert_eq!(
            escape("a & b <!channel> > c"),
            "a &amp; b &lt;!channel&gt; &gt; c"
        );
        assert_eq!(escape("&amp;"), "&amp;amp;");
        assert_eq!(escape("plain *bold* `code`"), "plain *bold* `code`");
        assert_eq!(escape(""), "");
    }

    proptest! {
        #[test]
        fn truncate_keeps_within_the_limit_and_a_prefix(text in ".{0,200}", max in 0usize..120) {
            let cut = truncate(&text, max);
            prop_assert!(cut.encode_utf16().count() <= max);
            prop_assert!(cut.chars().count() <= max);
            if text.encode_utf16().count() <= max {
                prop_assert_eq!(&cut, &text);
            } else if max > 0 {
                prop_assert!(text.starts_with(cut.trim_end_matches('…')));
            }
        }

        #[test]
        fn escaped_text_has_no_angle_brackets(text in ".{0,100}") {
            let escaped = escape(&text);
            prop_assert!(!escaped.contains('<') && !escaped.contains('>'));
        }
    }
}
