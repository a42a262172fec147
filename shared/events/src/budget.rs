//! AWS Budgets alerts. Budgets publishes to SNS a plain-text message (not JSON) whose lines
//! `Budget Name: ...`, `Alert Type: ...`, `Alert Threshold: ...` carry the facts; the prose
//! around them is ignored.

use capstan_policy::model::AlertType;
use capstan_policy::signal::{BudgetSignal, Signal, TimedSignal};
use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::json::{self, as_obj, element, kind, Obj};
use crate::{AcceptedTopics, EventError};

/// One AWS Budgets alert found in an SNS payload.
#[derive(Debug, Clone, PartialEq)]
pub struct BudgetDelivery {
    /// Budget name, alert type, threshold percent, budgeted and actual or forecast amounts.
    pub signal: BudgetSignal,
    /// Idempotency key: `budget:<name>:<ACTUAL|FORECASTED>:<threshold percent>:<yyyy-mm>` (the
    /// month of the SNS `Timestamp`, UTC), e.g. `budget:AI-Service-Monthly:ACTUAL:80:2026-11`.
    /// The same alert delivered twice, even under another `MessageId`, has one key.
    pub key: String,
    /// The SNS `MessageId`.
    pub message_id: String,
    /// When SNS published the message (its `Timestamp`).
    pub sent_at: DateTime<Utc>,
}

impl BudgetDelivery {
    /// The signal for the policy engine, timed when the alert was published (the signal
    /// carries that time too, as `sent_at`).
    pub fn timed_signal(&self) -> TimedSignal {
        TimedSignal {
            at: self.sent_at,
            signal: Signal::Budget(self.signal.clone()),
        }
    }
}

/// A text that is not an AWS Budgets notification, or a malformed one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct BudgetTextError {
    /// The line the error is about (1-based), when it is about one line.
    pub line: Option<usize>,
    /// What is wrong, quoting the line when there is one, e.g.
    /// `line "Alert Type: SOMETIMES": expected ACTUAL or FORECASTED` or
    /// `no "Budget Name:" line: not an AWS Budgets notification`.
    pub message: String,
}

/// The labelled lines of a notification, in the order AWS writes them; the discriminant indexes
/// [`LABELS`].
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Field {
    Name,
    Type,
    Budgeted,
    AlertType,
    Threshold,
    ActualAmount,
    ForecastedAmount,
}

/// The label of each [`Field`], before the colon.
const LABELS: [&str; 7] = [
    "Budget Name",
    "Budget Type",
    "Budgeted Amount",
    "Alert Type",
    "Alert Threshold",
    "ACTUAL Amount",
    "FORECASTED Amount",
];

/// Budget types whose amounts are spend or usage, where "above the threshold" means "too much".
/// Reservation and Savings Plans utilisation and coverage budgets alert when a percentage falls
/// *below* a threshold; acting on them as overspend would be wrong, so they are refused.
const BUDGET_TYPES: [&str; 2] = ["Cost", "Usage"];

/// One labelled line: its number (1-based), its text (trimmed) and the value after the colon.
#[derive(Clone, Copy)]
struct Line<'a> {
    number: usize,
    text: &'a str,
    value: &'a str,
}

impl Line<'_> {
    fn error(&self, what: impl std::fmt::Display) -> BudgetTextError {
        BudgetTextError {
            line: Some(self.number),
            message: format!("line {}: {what}", quote(self.text)),
        }
    }
}

/// A line for an error message: quoted, and cut at 80 characters so a stray message cannot
/// flood the logs.
fn quote(text: &str) -> String {
    const MAX: usize = 80;
    match text.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{:?}", format!("{}...", &text[..cut])),
        None => format!("{text:?}"),
    }
}

fn not_budget(what: &str) -> BudgetTextError {
    BudgetTextError {
        line: None,
        message: format!("{what}: not an AWS Budgets notification"),
    }
}

/// Reads the plain-text message AWS Budgets publishes to SNS.
///
/// The lines `Budget Name:`, `Alert Type:` (`ACTUAL` or `FORECASTED`) and `Alert Threshold:`
/// are required; `Budget Type:` (Cost or Usage), `Budgeted Amount:` and the `ACTUAL Amount:` or
/// `FORECASTED Amount:` line matching the alert type are read when present. Labels are matched
/// without regard to case; other lines (the letter's prose) are ignored.
///
/// The threshold is written as a percentage (`> 80%`, `> 80.00%`) or as an absolute amount
/// (`> $4,000.00`), then it is converted to a percent of the budgeted amount (4,000 of 5,000:
/// 80). Since AWS rounds the absolute amount it displays, the percent is the one with the
/// fewest decimals (up to 2) that gives the displayed amount, so an 80% alert on a $333.33
/// budget (displayed `> $266.66`) reads as 80, not 79.9988. Amounts may carry a currency or
/// unit before or after the number and thousands separators (`$5,000.00`, `5,000.00 USD`,
/// `1,200.00 Hrs`); the number is taken.
///
/// Fails closed: JSON, text without the required lines, a repeated labelled line, an unknown
/// alert type, a threshold that is not "greater than", an absolute threshold without a positive
/// budgeted amount, a reservation or Savings Plans budget, an unreadable amount: each is a
/// [`BudgetTextError`] quoting the line (at most 80 characters of it) but nothing else of the
/// message (which names the AWS account).
///
/// ```
/// use capstan_events::parse_budget_text;
/// use capstan_policy::model::AlertType;
///
/// let text = "AWS Budget Notification November 23, 2026\n\
///             Budget Name: AI-Service-Monthly\n\
///             Budget Type: Cost\n\
///             Budgeted Amount: $5,000.00\n\
///             Alert Type: ACTUAL\n\
///             Alert Threshold: > $4,000.00\n\
///             ACTUAL Amount: $4,102.37\n";
/// let signal = parse_budget_text(text)?;
/// assert_eq!(signal.budget, "AI-Service-Monthly");
/// assert_eq!(signal.alert_type, AlertType::Actual);
/// assert_eq!(signal.threshold_percent, 80.0);
/// assert_eq!((signal.budgeted, signal.amount), (Some(5000.0), Some(4102.37)));
///
/// let bad = parse_budget_text(&text.replace("ACTUAL\n", "SOMETIMES\n")).unwrap_err();
/// assert_eq!(bad.to_string(), r#"line "Alert Type: SOMETIMES": expected ACTUAL or FORECASTED"#);
/// assert_eq!(bad.line, Some(5));
/// # Ok::<(), capstan_events::BudgetTextError>(())
/// ```
pub fn parse_budget_text(text: &str) -> Result<BudgetSignal, BudgetTextError> {
    let start = text.trim_start();
    if start.starts_with(['{', '[']) && serde_json::from_str::<Value>(text).is_ok() {
        return Err(not_budget(
            "the message is JSON (AWS Budgets writes plain text)",
        ));
    }

    let mut found: [Option<Line<'_>>; LABELS.len()] = [None; LABELS.len()];
    for (index, raw) in text.lines().enumerate() {
        let trimmed = raw.trim();
        let Some((label, value)) = trimmed.split_once(':') else {
            continue;
        };
        let label = label.trim();
        let Some(slot) = LABELS.iter().position(|l| l.eq_ignore_ascii_case(label)) else {
            continue;
        };
        let line = Line {
            number: index + 1,
            text: trimmed,
            value: value.trim(),
        };
        if let Some(first) = found[slot] {
            return Err(line.error(format!(
                "a second \"{}:\" line (the first is line {})",
                LABELS[slot], first.number
            )));
        }
        found[slot] = Some(line);
    }
    let get = |field: Field| found[field as usize];
    let require = |field: Field| {
        get(field).ok_or_else(|| not_budget(&format!("no \"{}:\" line", LABELS[field as usize])))
    };

    let name = require(Field::Name)?;
    if name.value.is_empty() {
        return Err(name.error("empty budget name"));
    }
    if let Some(line) = get(Field::Type) {
        if !BUDGET_TYPES
            .iter()
            .any(|t| t.eq_ignore_ascii_case(line.value))
        {
            return Err(line.error(
                "Capstan acts on Cost and Usage budgets only (reservation and Savings Plans \
                 budgets alert on falling below a threshold)",
            ));
        }
    }
    let alert_line = require(Field::AlertType)?;
    let alert_type = if alert_line.value.eq_ignore_ascii_case("ACTUAL") {
        AlertType::Actual
    } else if alert_line.value.eq_ignore_ascii_case("FORECASTED") {
        AlertType::Forecasted
    } else {
        return Err(alert_line.error("expected ACTUAL or FORECASTED"));
    };
    let threshold_line = require(Field::Threshold)?;

    let budgeted = match get(Field::Budgeted) {
        None => None,
        Some(line) => {
            let amount = amount(&line)?;
            if amount.value < 0.0 {
                return Err(line.error("a budgeted amount below zero"));
            }
            Some(amount.value)
        }
    };
    let mut amount_for_type = None;
    for (field, of) in [
        (Field::ActualAmount, AlertType::Actual),
        (Field::ForecastedAmount, AlertType::Forecasted),
    ] {
        if let Some(line) = get(field) {
            let value = amount(&line)?.value;
            if of == alert_type {
                amount_for_type = Some(value);
            }
        }
    }
    let threshold_percent = threshold(&threshold_line, budgeted)?;

    Ok(BudgetSignal {
        budget: name.value.to_string(),
        alert_type,
        threshold_percent,
        budgeted,
        amount: amount_for_type,
        sent_at: None,
    })
}

/// A number read from an amount, with how many decimals it was written with.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Number {
    value: f64,
    decimals: u32,
}

/// The number in `text`: digits with optional thousands separators and decimals
/// (`5,000.00`), with any currency or unit before or after it (`$`, `USD`, `Hrs`) and an
/// optional minus sign before it. `None` when there is no number, more than one, or its
/// separators are not those of `1,234,567.89`.
fn number(text: &str) -> Option<Number> {
    let text = text.trim();
    let first = text.find(|c: char| c.is_ascii_digit())?;
    let last = text.rfind(|c: char| c.is_ascii_digit())?;
    let (prefix, core, suffix) = (&text[..first], &text[first..=last], &text[last + 1..]);
    if prefix.ends_with(['.', ',']) || suffix.starts_with(['.', ',']) {
        return None;
    }
    let (int, frac) = match core.split_once('.') {
        Some((int, frac)) => (int, Some(frac)),
        None => (core, None),
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let mut groups = int.split(',');
    let lead = groups.next()?;
    let grouped = int.contains(',');
    if !digits(lead) || (grouped && lead.len() > 3) {
        return None;
    }
    if !groups.all(|g| g.len() == 3 && digits(g)) {
        return None;
    }
    if frac.is_some_and(|f| !digits(f)) {
        return None;
    }
    let plain = format!("{}.{}", int.replace(',', ""), frac.unwrap_or("0"));
    let magnitude: f64 = plain.parse().ok().filter(|v: &f64| v.is_finite())?;
    let negative = prefix.contains('-');
    Some(Number {
        value: if negative { -magnitude } else { magnitude },
        decimals: frac.map_or(0, |f| f.len() as u32),
    })
}

/// An amount line's value (`$5,000.00`, `5,000.00 USD`, `1,200.00 Hrs`).
fn amount(line: &Line<'_>) -> Result<Number, BudgetTextError> {
    if line.value.contains('%') {
        return Err(line.error("expected an amount, not a percentage"));
    }
    number(line.value)
        .ok_or_else(|| line.error("expected an amount like $5,000.00 or 1,200.00 Hrs"))
}

/// The threshold as a percent of the budgeted amount.
fn threshold(line: &Line<'_>, budgeted: Option<f64>) -> Result<f64, BudgetTextError> {
    let value = line.value;
    let rest = if let Some(rest) = value.strip_prefix(">=") {
        rest
    } else if let Some(rest) = value.strip_prefix('>') {
        rest
    } else if value.starts_with(['<', '=', '!']) {
        return Err(
            line.error("Capstan acts on greater-than thresholds only (`> $4,000.00` or `> 80%`)")
        );
    } else {
        value
    };
    let rest = rest.trim();
    let percent =
        if let Some(percent) = rest.strip_suffix('%') {
            match number(percent) {
                Some(n) if percent.trim().starts_with(|c: char| c.is_ascii_digit()) => n.value,
                _ => return Err(line.error("expected a percentage like `> 80%`")),
            }
        } else {
            let amount = number(rest)
                .ok_or_else(|| line.error("expected a threshold like `> $4,000.00` or `> 80%`"))?;
            match budgeted {
                Some(budgeted) if budgeted > 0.0 => percent_of(amount, budgeted),
                Some(_) => {
                    return Err(line.error(
                        "an absolute threshold needs a budgeted amount above zero (\"Budgeted \
                     Amount:\" is 0)",
                    ))
                }
                None => return Err(line.error(
                    "an absolute threshold needs a \"Budgeted Amount:\" line to become a percent",
                )),
            }
        };
    if !(percent > 0.0 && percent.is_finite()) {
        return Err(line.error("the threshold must be above zero"));
    }
    Ok(percent)
}

/// The percent of `budgeted` an absolute threshold stands for. AWS displays the threshold
/// rounded to the unit of its last decimal, so the exact ratio can be a hair off the percent
/// the budget was configured with; the answer is the percent with the fewest decimals (0, 1 or
/// 2) whose amount is within one displayed unit of the threshold, else the ratio to 4 decimals.
fn percent_of(threshold: Number, budgeted: f64) -> f64 {
    let exact = threshold.value * 100.0 / budgeted;
    let unit = 10f64.powi(-(threshold.decimals.min(9) as i32));
    for places in 0..=2 {
        let scale = 10f64.powi(places);
        let candidate = (exact * scale).round() / scale;
        if (budgeted * candidate / 100.0 - threshold.value).abs() < unit {
            return candidate;
        }
    }
    (exact * 1e4).round() / 1e4
}

const NOT_SNS: &str = "not an SNS delivery: AWS Budgets alerts arrive as SNS Records";

/// Finds the AWS Budgets alerts in an SNS payload delivered to Lambda.
///
/// Every record must be an SNS notification (`EventSource` = `aws:sns`) whose `Sns.Message` is
/// an AWS Budgets notification (read by [`parse_budget_text`]), with a `MessageId` and a
/// `Timestamp`. Several records give several deliveries, in payload order; one bad record makes
/// the whole payload an error, so nothing is acted on. Errors name the record and the line, e.g.
/// `Records[0].Sns.Message: line "Alert Type: SOMETIMES": expected ACTUAL or FORECASTED` or
/// `Records[0].Sns.Message: no "Budget Name:" line: not an AWS Budgets notification`.
///
/// Records are accepted only from `topics` ([`AcceptedTopics::any`]: every topic): another
/// topic is an error naming `Records[i].Sns.TopicArn`, checked before the message is read.
///
/// ```
/// use capstan_events::{parse_budget_event, AcceptedTopics};
///
/// let payload = serde_json::json!({"Records": [{
///     "EventSource": "aws:sns",
///     "Sns": {
///         "MessageId": "0f6b1c7a-2d2e-5a4b-8c9d-0e1f2a3b4c5d",
///         "Timestamp": "2026-11-23T06:14:09.321Z",
///         "Message": "Budget Name: AI-Service-Monthly\nBudget Type: Cost\n\
///                     Budgeted Amount: $5,000.00\nAlert Type: FORECASTED\n\
///                     Alert Threshold: > 100.00%\nFORECASTED Amount: $5,611.90\n"
///     }
/// }]});
/// let deliveries = parse_budget_event(&payload, &AcceptedTopics::any())?;
/// assert_eq!(deliveries[0].key, "budget:AI-Service-Monthly:FORECASTED:100:2026-11");
/// assert_eq!(deliveries[0].signal.amount, Some(5611.9));
///
/// let alarm = serde_json::json!({"Records": [{
///     "EventSource": "aws:sns",
///     "Sns": {"MessageId": "m", "Timestamp": "2026-11-23T06:14:09Z",
///             "Message": "{\"AlarmName\":\"api-cpu-high\",\"NewStateValue\":\"ALARM\"}"}
/// }]});
/// let error = parse_budget_event(&alarm, &AcceptedTopics::any()).unwrap_err();
/// assert_eq!(error.path, "Records[0].Sns.Message");
/// # Ok::<(), capstan_events::EventError>(())
/// ```
pub fn parse_budget_event(
    payload: &Value,
    topics: &AcceptedTopics,
) -> Result<Vec<BudgetDelivery>, EventError> {
    let Value::Object(map) = payload else {
        return Err(EventError::new(
            "",
            format!("{NOT_SNS}, got {}", kind(payload)),
        ));
    };
    let root = Obj {
        map,
        path: String::new(),
    };
    let records = json::sns_records(&root, NOT_SNS)?;
    records
        .iter()
        .enumerate()
        .map(|(i, record)| budget_record(&as_obj(record, element("Records", i))?, topics))
        .collect()
}

fn budget_record(record: &Obj<'_>, topics: &AcceptedTopics) -> Result<BudgetDelivery, EventError> {
    let source = record.str("EventSource")?;
    if source != "aws:sns" {
        return Err(EventError::new(
            record.path_of("EventSource"),
            format!("expected \"aws:sns\", got {source:?}"),
        ));
    }
    let sns = record.obj("Sns")?;
    topics.check(&sns)?;
    let text = sns.str("Message")?;
    let mut signal =
        parse_budget_text(text).map_err(|e| EventError::new(sns.path_of("Message"), e.message))?;
    let message_id = sns.non_empty_str("MessageId")?;
    let (sent_at, _) = json::time(&sns, "Timestamp")?;
    signal.sent_at = Some(sent_at);
    let key = format!(
        "budget:{}:{}:{}:{}",
        signal.budget,
        signal.alert_type,
        signal.threshold_percent,
        sent_at.format("%Y-%m")
    );
    Ok(BudgetDelivery {
        signal,
        key,
        message_id: message_id.to_string(),
        sent_at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(budgeted: &str, alert: &str, threshold: &str) -> String {
        format!(
            "AWS Budget Notification November 23, 2026\nAWS Account 123456789012\n\n\
             Dear AWS Customer,\n\nBudget Name: AI-Service-Monthly\nBudget Type: Cost\n\
             Budgeted Amount: {budgeted}\nAlert Type: {alert}\nAlert Threshold: {threshold}\n\
             {alert} Amount: $4,102.37\n\n[1] https://console.aws.amazon.com/billing/home#/budgets\n"
        )
    }

    fn signal(budgeted: &str, alert: &str, threshold: &str) -> BudgetSignal {
        let text = message(budgeted, alert, threshold);
        parse_budget_text(&text).unwrap_or_else(|e| panic!("{e}\n{text}"))
    }

    fn error(text: &str) -> BudgetTextError {
        match parse_budget_text(text) {
            Err(e) => e,
            Ok(signal) => panic!("expected an error, got {signal:?}"),
        }
    }

    #[test]
    fn absolute_and_percentage_thresholds() {
        for (threshold, percent) in [
            ("> $4,000.00", 80.0),
            ("> $4,025.00", 80.5),
            ("> $5,000.00", 100.0),
            ("> $6,000", 120.0),
            ("> 80%", 80.0),
            ("> 80.00%", 80.0),
            ("> 80.5%", 80.5),
            (">= 90%", 90.0),
            ("75%", 75.0),
        ] {
            assert_eq!(
                signal("$5,000.00", "ACTUAL", threshold).threshold_percent,
                percent,
                "{threshold}"
            );
        }
    }

    #[test]
    fn rounded_absolute_thresholds_read_as_the_configured_percent() {
        // 80% of 333.33 is 266.664, which AWS displays as 266.66.
        assert_eq!(
            signal("$333.33", "ACTUAL", "> $266.66").threshold_percent,
            80.0
        );
        // 80% of 12.34 is 9.872, displayed 9.87.
        assert_eq!(
            signal("$12.34", "ACTUAL", "> $9.87").threshold_percent,
            80.0
        );
        // 33.3% of 1,000 is exactly 333.00: one decimal is needed.
        assert_eq!(
            signal("$1,000.00", "ACTUAL", "> $333.00").threshold_percent,
            33.3
        );
        // 12.34% of 1,000.
        assert_eq!(
            signal("$1,000.00", "ACTUAL", "> $123.40").threshold_percent,
            12.34
        );
        // No short percent gives 1,234.57 of 10,000 within a cent: the ratio to 4 decimals.
        assert_eq!(
            signal("$10,000.00", "ACTUAL", "> $1,234.57").threshold_percent,
            12.3457
        );
    }

    #[test]
    fn amounts_take_the_number() {
        for (text, value) in [
            ("$5,000.00", 5000.0),
            ("5,000.00 USD", 5000.0),
            ("USD 5000", 5000.0),
            ("1,200.00 Hrs", 1200.0),
            ("750 GB", 750.0),
            ("€1,234,567.89", 1_234_567.89),
            ("-$12.50", -12.5),
            ("$0.00", 0.0),
        ] {
            assert_eq!(number(text).map(|n| n.value), Some(value), "{text}");
        }
        for text in [
            "",
            "$",
            "5,0",
            "5,0000",
            "1234,567",
            "1.2.3",
            "5 000",
            ".5",
            "5.",
            "1e5",
            "$5,000.00 (4,000)",
        ] {
            assert_eq!(number(text), None, "{text}");
        }
        assert_eq!(number("$5,000.00").map(|n| n.decimals), Some(2));
    }

    #[test]
    fn the_fixture_text_reads_fully() {
        let s = signal("$5,000.00", "FORECASTED", "> $5,000.00");
        assert_eq!(s.budget, "AI-Service-Monthly");
        assert_eq!(s.alert_type, AlertType::Forecasted);
        assert_eq!(s.threshold_percent, 100.0);
        assert_eq!(s.budgeted, Some(5000.0));
        assert_eq!(s.amount, Some(4102.37));
    }

    #[test]
    fn usage_budgets_and_crlf() {
        let text = "Budget Name: gpu-hours\r\nBudget Type: Usage\r\nBudgeted Amount: 1,200.00 Hrs\r\n\
                    Alert Type: ACTUAL\r\nAlert Threshold: > 960.00 Hrs\r\nACTUAL Amount: 1,001.50 Hrs\r\n";
        let s = parse_budget_text(text).unwrap();
        assert_eq!(s.budget, "gpu-hours");
        assert_eq!(s.threshold_percent, 80.0);
        assert_eq!((s.budgeted, s.amount), (Some(1200.0), Some(1001.5)));
    }

    #[test]
    fn the_amount_of_the_other_alert_type_is_not_taken() {
        let text = "Budget Name: b\nBudgeted Amount: $100\nAlert Type: ACTUAL\n\
                    Alert Threshold: > 50%\nFORECASTED Amount: $70\n";
        assert_eq!(parse_budget_text(text).unwrap().amount, None);
    }

    #[test]
    fn missing_lines_are_not_a_budget() {
        let full = message("$5,000.00", "ACTUAL", "> 80%");
        for label in ["Budget Name", "Alert Type", "Alert Threshold"] {
            let text: String = full
                .lines()
                .filter(|l| !l.starts_with(label))
                .map(|l| format!("{l}\n"))
                .collect();
            let e = error(&text);
            assert_eq!(
                e.message,
                format!("no \"{label}:\" line: not an AWS Budgets notification")
            );
            assert_eq!(e.line, None);
        }
        assert_eq!(
            error("hello\nworld").message,
            "no \"Budget Name:\" line: not an AWS Budgets notification"
        );
        assert!(error("{\"AlarmName\": \"x\"}").message.contains("JSON"));
    }

    #[test]
    fn bad_lines_are_quoted_with_their_number() {
        let full = message("$5,000.00", "ACTUAL", "> 80%");
        let cases = [
            (
                "Alert Type: ACTUAL",
                "Alert Type: SOMETIMES",
                "expected ACTUAL or FORECASTED",
            ),
            (
                "Alert Threshold: > 80%",
                "Alert Threshold: < 80%",
                "greater-than",
            ),
            (
                "Alert Threshold: > 80%",
                "Alert Threshold: > lots",
                "expected a threshold",
            ),
            (
                "Alert Threshold: > 80%",
                "Alert Threshold: > 0%",
                "above zero",
            ),
            (
                "Alert Threshold: > 80%",
                "Alert Threshold: > $%",
                "percentage",
            ),
            (
                "Budgeted Amount: $5,000.00",
                "Budgeted Amount: 5,0 EUR",
                "expected an amount",
            ),
            (
                "Budgeted Amount: $5,000.00",
                "Budgeted Amount: -$5",
                "below zero",
            ),
            (
                "Budget Type: Cost",
                "Budget Type: RI Utilization",
                "Cost and Usage",
            ),
            ("Budget Name: AI-Service-Monthly", "Budget Name:", "empty"),
            (
                "ACTUAL Amount: $4,102.37",
                "ACTUAL Amount: n/a",
                "expected an amount",
            ),
        ];
        for (from, to, says) in cases {
            let text = full.replace(from, to);
            let e = error(&text);
            let number = text.lines().position(|l| l == to).unwrap() + 1;
            assert_eq!(e.line, Some(number), "{to}");
            assert!(e.message.starts_with(&format!("line {to:?}: ")), "{e}");
            assert!(e.message.contains(says), "{e}");
        }
    }

    #[test]
    fn absolute_thresholds_need_a_budgeted_amount() {
        let full = message("$0.00", "ACTUAL", "> $4,000.00");
        assert!(error(&full).message.contains("is 0"), "{}", error(&full));
        let without: String = full
            .lines()
            .filter(|l| !l.starts_with("Budgeted"))
            .map(|l| format!("{l}\n"))
            .collect();
        assert!(error(&without)
            .message
            .contains("\"Budgeted Amount:\" line"));
        // A percentage needs none.
        assert_eq!(signal("$0.00", "ACTUAL", "> 80%").threshold_percent, 80.0);
    }

    #[test]
    fn a_repeated_line_is_refused() {
        let text = message("$5,000.00", "ACTUAL", "> 80%") + "Alert Type: FORECASTED\n";
        let e = error(&text);
        assert!(e.message.contains("a second \"Alert Type:\" line"), "{e}");
    }

    #[test]
    fn long_lines_are_cut_in_errors() {
        let long = format!("Alert Type: {}", "X".repeat(500));
        let e = error(&message("$1", "ACTUAL", "> 80%").replace("Alert Type: ACTUAL", &long));
        assert!(e.message.len() < 150, "{e}");
        assert!(e.message.contains("...\""), "{e}");
        let accents = format!("Alert Type: {}", "é".repeat(100));
        let e = error(&message("$1", "ACTUAL", "> 80%").replace("Alert Type: ACTUAL", &accents));
        assert!(e.message.contains("...\""), "{e}");
    }

    #[test]
    fn errors_do_not_quote_the_account() {
        for text in [
            message("$5,000.00", "SOMETIMES", "> 80%"),
            message("$5,000.00", "ACTUAL", "> 80%").replace("Budget Name", "Budget"),
        ] {
            assert!(!error(&text).message.contains("123456789012"));
        }
    }
}
