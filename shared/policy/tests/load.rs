//! Loading and validating policy files: every problem reported at once, each at its line.

use capstan_policy::load::{load, load_at, load_file, Diagnostic};

const CLEAN: &str = include_str!("fixtures/clean.toml");
const BROKEN: &str = include_str!("fixtures/broken.toml");

fn diagnostics(text: &str) -> Vec<Diagnostic> {
    match load(text) {
        Ok(_) => Vec::new(),
        Err(e) => e.diagnostics,
    }
}

fn render(diags: &[Diagnostic]) -> String {
    diags
        .iter()
        .map(|d| format!("  {d}\n"))
        .collect::<Vec<_>>()
        .concat()
}

/// The `# expect: A | B` annotations of a fixture: (1-based line, fragment).
fn expectations(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        // Annotations follow TOML on the same line (the header comment only mentions them).
        if line.trim_start().starts_with('#') {
            continue;
        }
        let Some((_, note)) = line.split_once("# expect: ") else {
            continue;
        };
        for fragment in note.split(" | ") {
            out.push((i + 1, fragment.trim().to_string()));
        }
    }
    out
}

#[test]
fn clean_policy_loads() {
    let file = match load_file(CLEAN) {
        Ok(f) => f,
        Err(e) => panic!("clean policy has problems:\n{}", render(&e.diagnostics)),
    };
    let policy = &file.policy;
    assert_eq!(policy.targets.len(), 3);
    assert_eq!(policy.rules.len(), 5);
    assert_eq!(policy.schedules.len(), 3);
    assert_eq!(policy.events.len(), 1);
    assert_eq!(policy.budgets.len(), 2);
    assert_eq!(file.tests.len(), 3);
    assert_eq!(policy.settings.zone, chrono_tz::Europe::Berlin);
    assert_eq!(policy.targets["api"].max_step, Some(4));
}

#[test]
fn load_agrees_with_plain_deserialization_on_a_clean_policy() {
    let loaded = load_file(CLEAN).expect("clean");
    let plain: capstan_policy::PolicyFile = toml::from_str(CLEAN).expect("serde");
    assert_eq!(loaded, plain);
}

#[test]
fn broken_policy_reports_every_problem_at_its_line() {
    let diags = diagnostics(BROKEN);
    let expected = expectations(BROKEN);
    assert!(expected.len() > 50, "the fixture lost its annotations");
    let mut missing = Vec::new();
    for (line, fragment) in &expected {
        let found = diags.iter().any(|d| {
            d.line == *line
                && (d.message.contains(fragment.as_str())
                    || d.hint
                        .as_deref()
                        .is_some_and(|h| h.contains(fragment.as_str())))
        });
        if !found {
            missing.push(format!("  line {line}: {fragment}"));
        }
    }
    let unexpected: Vec<&Diagnostic> = diags
        .iter()
        .filter(|d| !expected.iter().any(|(line, _)| *line == d.line))
        .collect();
    assert!(
        missing.is_empty() && unexpected.is_empty(),
        "missing:\n{}\nunexpected:\n{}\nall:\n{}",
        missing.join("\n"),
        unexpected
            .iter()
            .map(|d| format!("  {d}"))
            .collect::<Vec<_>>()
            .join("\n"),
        render(&diags)
    );
}

#[test]
fn diagnostics_are_sorted_and_carry_spans_that_match_their_lines() {
    let diags = diagnostics(BROKEN);
    assert!(!diags.is_empty());
    let starts: Vec<usize> = diags
        .iter()
        .map(|d| d.span.as_ref().expect("span").start)
        .collect();
    let mut sorted = starts.clone();
    sorted.sort();
    assert_eq!(starts, sorted);
    for d in &diags {
        let span = d.span.clone().expect("span");
        let line = BROKEN[..span.start].matches('\n').count() + 1;
        assert_eq!(line, d.line, "{d}");
        assert!(d.hint.is_some(), "no hint: {d}");
        assert!(d.column >= 1);
    }
}

#[test]
fn a_typo_gets_did_you_mean_and_a_far_off_key_the_allowed_list() {
    let text = "[targets.api]\nkind = \"ecs\"\ncluster = \"c\"\nservice = \"s\"\nfloor = 1\nceilin = 4\nwibble = 2\n";
    let diags = diagnostics(text);
    let typo = diags
        .iter()
        .find(|d| d.message.contains("`ceilin`"))
        .expect("typo reported");
    assert_eq!((typo.line, typo.column), (6, 1));
    assert_eq!(typo.hint.as_deref(), Some("did you mean `ceiling`?"));
    let far = diags
        .iter()
        .find(|d| d.message.contains("`wibble`"))
        .expect("unknown key reported");
    assert_eq!(far.line, 7);
    let hint = far.hint.as_deref().unwrap_or("");
    assert!(
        hint.contains("`floor`") && hint.contains("`max_step`"),
        "{hint}"
    );
    // The missing `ceiling` is the typo's fault: it is not reported a second time.
    assert_eq!(diags.len(), 2, "{}", render(&diags));
}

#[test]
fn several_bad_values_in_one_entry_are_all_reported() {
    let text = "[targets.api]\nkind = \"ecs\"\ncluster = \"c\"\nservice = \"s\"\nfloor = -1\nceiling = \"many\"\nmax_step = 1.5\n";
    let diags = diagnostics(text);
    let lines: Vec<usize> = diags.iter().map(|d| d.line).collect();
    assert_eq!(lines, vec![5, 6, 7], "{}", render(&diags));
    assert!(diags[0].message.starts_with("`targets.api.floor`"));
    assert!(diags[1].message.starts_with("`targets.api.ceiling`"));
    assert!(diags[2].message.starts_with("`targets.api.max_step`"));
}

#[test]
fn one_bad_entry_does_not_hide_the_next() {
    let text = "[rules.a]\nalarm = 3\n\n[rules.b]\nalarm = \"b\"\naction = { add = \"x\" }\n\n[[tests]]\nname = 1\n";
    let diags = diagnostics(text);
    let lines: Vec<usize> = diags.iter().map(|d| d.line).collect();
    // tests[0] is also missing `at`, `signal` and `expect`, but only after its bad `name`.
    assert!(lines.contains(&2), "{}", render(&diags));
    assert!(lines.contains(&6), "{}", render(&diags));
    assert!(lines.contains(&9), "{}", render(&diags));
}

#[test]
fn each_slack_grant_is_checked_on_its_own() {
    let text = r#"
[slack]
confirm_above = 3

[[slack.grants]]
users = ["U012ABCDEF"]
verbs = ["scale", "forse"]

[[slack.grants]]
users = ["bob"]
verbs = ["status"]
"#;
    let diags = diagnostics(text);
    assert_eq!(diags.len(), 2, "{}", render(&diags));
    assert_eq!(diags[0].line, 7);
    assert!(diags[0]
        .message
        .starts_with("`slack.grants[0].verbs[1]`: unknown variant `forse`"));
    assert_eq!(diags[0].hint.as_deref(), Some("did you mean `force`?"));
    assert_eq!(diags[1].line, 10);
    assert!(
        diags[1].message.starts_with("`slack.grants[1].users[0]`"),
        "{}",
        diags[1]
    );
}

#[test]
fn a_syntax_error_is_one_diagnostic_with_its_line_and_column() {
    let text = "[settings]\nzone = \"UTC\"\n\n[targets.api]\nfloor = = 2\n";
    let diags = diagnostics(text);
    assert_eq!(diags.len(), 1, "{}", render(&diags));
    let d = &diags[0];
    assert!(d.message.starts_with("TOML syntax error"), "{d}");
    assert_eq!((d.line, d.column), (5, 9), "{d}");
    assert_eq!(
        d.span.clone().map(|s| s.start),
        Some(text.find("= 2").unwrap_or(0))
    );
}

#[test]
fn columns_count_characters_not_bytes() {
    let text = "[targets.api]\nkind = \"ecs\"\ncluster = \"c\"\nservice = \"s\"\nfloor = 1\nceiling = 2\ntags = { owner = \"Zoë\" }, extra = 1 }\n";
    // A syntax error after a multi-byte character.
    let diags = diagnostics(text);
    assert_eq!(diags.len(), 1);
    let d = &diags[0];
    assert_eq!(d.line, 7);
    let line = text.lines().nth(6).unwrap_or("");
    let byte = d.span.clone().expect("span").start - text.find(line).unwrap_or(0);
    assert_eq!(d.column, line[..byte].chars().count() + 1);
    assert!(
        d.column < byte + 1,
        "column {} should be in characters",
        d.column
    );
}

#[test]
fn an_unknown_time_zone_gets_the_iana_hint() {
    let text = "[settings]\nzone = \"CET-ish\"\n";
    let diags = diagnostics(text);
    assert_eq!(diags.len(), 1);
    assert_eq!(diags[0].line, 2);
    assert!(diags[0].message.starts_with("`settings.zone`"));
    assert_eq!(
        diags[0].hint.as_deref(),
        Some("use an IANA name such as Europe/Berlin or America/New_York")
    );
}

#[test]
fn the_overlap_check_is_deterministic_and_uses_the_reference_instant() {
    // Two periods that only overlap while the US is on summer time and Europe is not (three
    // weeks in March, one week around November 1st): Berlin 08:00-09:00 and New York
    // 03:00-03:30 merely touch the rest of the year.
    let text = r#"
[targets.api]
kind = "ecs"
cluster = "c"
service = "s"
floor = 1
ceiling = 10

[schedules.berlin]
targets = ["api"]
zone = "Europe/Berlin"
begin = "08:00"
end = "09:00"
floor = 2

[schedules.new-york]
targets = ["api"]
zone = "America/New_York"
begin = "03:00"
end = "03:30"
floor = 3
"#;
    let diags = diagnostics(text);
    assert_eq!(diags.len(), 1, "{}", render(&diags));
    assert!(
        diags[0]
            .message
            .contains("overlaps period `schedules.berlin`"),
        "{}",
        diags[0]
    );
    assert!(diags[0].message.contains("2026-03-"), "{}", diags[0]);
    assert_eq!(diags[0].line, 16);
    assert_eq!(diagnostics(text), diags);
    // From a reference after that March, the next such week is at the end of October.
    let later = chrono::DateTime::parse_from_rfc3339("2026-06-01T00:00:00Z")
        .expect("date")
        .with_timezone(&chrono::Utc);
    let diags = load_at(text, later)
        .expect_err("still overlapping")
        .diagnostics;
    assert!(diags[0].message.contains("2026-10-"), "{}", diags[0]);
}

#[test]
fn periods_that_agree_or_touch_are_not_conflicts() {
    let text = r#"
[targets.api]
kind = "ecs"
cluster = "c"
service = "s"
floor = 1
ceiling = 10

[schedules.day]
targets = ["api"]
begin = "08:00"
end = "20:00"
floor = 4

[schedules.night]
targets = ["api"]
begin = "20:00"
end = "08:00"
floor = 2

[schedules.day-cap]
targets = ["api"]
begin = "09:00"
end = "17:00"
floor = 4
ceiling = 8
"#;
    let diags = diagnostics(text);
    assert!(diags.is_empty(), "{}", render(&diags));
}

#[test]
fn selector_targets_may_be_named_by_instance_in_tests() {
    let text = format!(
        "{CLEAN}\n[[tests]]\nname = \"instance\"\nat = 2026-01-06T10:00:00Z\nsignal = {{ tick = {{}} }}\nstate = {{ \"ai:main-cluster/ai-1\" = {{ desired = 3 }} }}\nexpect = {{ \"ai:main-cluster/ai-1\" = {{ outcome = \"unchanged\" }} }}\n"
    );
    let diags = diagnostics(&text);
    assert!(diags.is_empty(), "{}", render(&diags));
}

#[test]
fn the_example_policy_validates_clean() {
    let text = include_str!("../../../capstan.example.toml");
    if let Err(e) = load(text) {
        panic!(
            "capstan.example.toml has problems:\n{}",
            render(&e.diagnostics)
        );
    }
}

/// Removing a line of a real policy never panics the loader, and every diagnostic it gives
/// points inside the text, at the line it says. Every line of the clean fixture, and every
/// seventh line of the example (all of them take seconds in a debug build).
#[test]
fn line_deletions_give_coherent_diagnostics() {
    let example = include_str!("../../../capstan.example.toml");
    let mut cases: Vec<(&str, usize)> = Vec::new();
    cases.extend((0..CLEAN.lines().count()).map(|i| (CLEAN, i)));
    cases.extend(
        (0..example.lines().count())
            .step_by(7)
            .map(|i| (example, i)),
    );
    let mut broken = 0;
    for (source, skip) in cases {
        let lines: Vec<&str> = source.lines().collect();
        let text: String = lines
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != skip)
            .map(|(_, l)| format!("{l}\n"))
            .collect();
        let Err(e) = load(&text) else { continue };
        broken += 1;
        assert!(!e.diagnostics.is_empty());
        for d in &e.diagnostics {
            let span = d.span.clone().expect("span");
            assert!(span.start <= span.end && span.end <= text.len(), "{d}");
            let line = text[..span.start].matches('\n').count() + 1;
            assert_eq!(line, d.line, "deleting line {}: {d}", skip + 1);
            // Syntax errors name what the parser expected; the rest name a field.
            let syntax =
                d.message.starts_with("TOML syntax error") && !d.message.contains("duplicate key");
            if !syntax {
                assert!(d.message.contains('`'), "names no field: {d}");
            }
        }
    }
    assert!(broken > 40, "only {broken} deletions broke the policy");
}

/// A policy with one target `far` carrying `extra` (TOML lines).
fn remote(extra: &str) -> String {
    format!(
        "[targets.far]\nkind = \"ecs\"\ncluster = \"main\"\nservice = \"api\"\nfloor = 1\nceiling = 4\n{extra}\n"
    )
}

#[test]
fn a_target_in_another_account_loads_and_names_its_account() {
    let p = load(&remote(
        "role_arn = \"arn:aws:iam::222222222222:role/ops/capstan-target\"\nregion = \"eu-west-1\"\nexternal_id = \"capstan-hub:1\"",
    ))
    .unwrap_or_else(|e| panic!("{}", render(&e.diagnostics)));
    let t = &p.targets["far"];
    assert_eq!(t.account(), Some("222222222222"));
    assert_eq!(t.region.as_deref(), Some("eu-west-1"));
    assert_eq!(
        t.resource_label(),
        "ecs main/api in account 222222222222 (eu-west-1)"
    );
    let local = load(&remote("")).unwrap();
    assert_eq!(
        local.targets["far"].account(),
        None,
        "the hub's own account"
    );
    assert_eq!(local.targets["far"].resource_label(), "ecs main/api");
}

#[test]
fn each_bad_reach_field_is_reported_with_its_field_and_target() {
    let cases = [
        (
            "role_arn = \"capstan-target\"",
            "`targets.far.role_arn`",
            "not an IAM role ARN",
        ),
        (
            "role_arn = \"arn:aws:iam::2222:role/capstan\"",
            "`targets.far.role_arn`",
            "account `2222` is not 12 digits",
        ),
        (
            "role_arn = \"arn:aws:iam::222222222222:user/capstan\"",
            "`targets.far.role_arn`",
            "does not name a role",
        ),
        (
            "role_arn = \"arn:aws:sts::222222222222:role/capstan\"",
            "`targets.far.role_arn`",
            "not `iam`",
        ),
        (
            "role_arn = \"arn:aws:iam:us-east-1:222222222222:role/capstan\"",
            "`targets.far.role_arn`",
            "has a region",
        ),
        (
            "role_arn = \"arn:aws:iam::222222222222:role/capstan target\"",
            "`targets.far.role_arn`",
            "role name `capstan target`",
        ),
        (
            "role_arn = \"arn:aws:iam::222222222222:role/\"",
            "`targets.far.role_arn`",
            "role name ``",
        ),
        (
            "role_arn = \"arn:azure:iam::222222222222:role/capstan\"",
            "`targets.far.role_arn`",
            "partition `azure`",
        ),
        (
            "role_arn = \"arn:aws:iam::222222222222:role/a\"\nregion = \"Europe\"",
            "`targets.far.region`",
            "not a region name",
        ),
        (
            "role_arn = \"arn:aws:iam::222222222222:role/a\"\nexternal_id = \"x\"",
            "`targets.far.external_id`",
            "is 1 characters",
        ),
        (
            "role_arn = \"arn:aws:iam::222222222222:role/a\"\nexternal_id = \"no spaces\"",
            "`targets.far.external_id`",
            "has ` `",
        ),
        (
            "region = \"eu-west-1\"",
            "`targets.far.region` needs `role_arn`",
            "",
        ),
        (
            "external_id = \"capstan\"",
            "`targets.far.external_id` needs `role_arn`",
            "",
        ),
    ];
    for (extra, field, says) in cases {
        let text = remote(extra);
        let diags = diagnostics(&text);
        assert_eq!(diags.len(), 1, "{extra}:\n{}", render(&diags));
        let d = diags[0].to_string();
        assert!(d.contains(field) && d.contains(says), "{extra}: {d}");
        // At the line of the bad field.
        let line = text
            .lines()
            .position(|l| l.starts_with(extra.lines().last().unwrap().split(' ').next().unwrap()))
            .unwrap()
            + 1;
        assert_eq!(diags[0].line, line, "{extra}: {d}");
    }
    // IAM's other partitions and paths are fine; so is an external id of STS's characters.
    for arn in [
        "arn:aws-cn:iam::222222222222:role/capstan",
        "arn:aws-us-gov:iam::222222222222:role/a/b/c+=,.@_-",
    ] {
        let text = remote(&format!(
            "role_arn = \"{arn}\"\nexternal_id = \"ab+=,.@:/-_9\""
        ));
        assert!(diagnostics(&text).is_empty(), "{arn}");
    }
}
