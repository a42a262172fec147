//! The capacity chart of `capstan simulate --chart`: hand-written SVG, one panel per target,
//! time (UTC) on x, capacity on y; desired, floor and ceiling as step lines, a marker for each
//! action and each suppression, and a legend. No plotting crate: the picture is a few hundred
//! lines of text and this module is the whole of it.

use std::fmt::Write as _;

use chrono::{DateTime, DurationRound, TimeDelta, Timelike, Utc};

/// Width of the whole picture, in pixels.
const WIDTH: f64 = 1200.0;
/// Left margin (room for the capacity labels).
const LEFT: f64 = 56.0;
/// Right margin.
const RIGHT: f64 = 24.0;
/// Height of the title and legend band at the top.
const HEADER: f64 = 64.0;
/// Height of one panel's plot area.
const PLOT_HEIGHT: f64 = 170.0;
/// Space above a plot (its title) and below it (the time labels).
const PANEL_GAP: f64 = 62.0;

const DESIRED_COLOUR: &str = "#1f5fbf";
const FLOOR_COLOUR: &str = "#2e8b3a";
const CEILING_COLOUR: &str = "#c0392b";
const SUPPRESSED_COLOUR: &str = "#e08a00";
/// How the desired line is drawn.
const DESIRED_STYLE: &str = r#"stroke-width="2""#;
/// How floor and ceiling lines are drawn: wide and pale, under the desired line.
const BOUND_STYLE: &str = r#"stroke-width="5" stroke-opacity="0.45" stroke-dasharray="10,4""#;

/// A value that holds from each point's instant until the next point's.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Steps(Vec<(DateTime<Utc>, u32)>);

impl Steps {
    /// Records that the value is `value` from `at` on; a repeat of the current value is dropped.
    /// Points must come in time order; one at the same instant as the last replaces it.
    pub fn push(&mut self, at: DateTime<Utc>, value: u32) {
        if let Some(&(last_at, last)) = self.0.last() {
            if last == value {
                return;
            }
            if last_at == at {
                self.0.pop();
                // The value before the replaced point may equal the new one.
                if self.0.last().is_some_and(|&(_, v)| v == value) {
                    return;
                }
            }
        }
        self.0.push((at, value));
    }

    /// The points, oldest first.
    pub fn points(&self) -> &[(DateTime<Utc>, u32)] {
        &self.0
    }

    fn max(&self) -> u32 {
        self.0.iter().map(|&(_, v)| v).max().unwrap_or(0)
    }
}

/// What a marker shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MarkKind {
    /// Capacity changed.
    Action,
    /// Something asked for a change and a guardrail (or a denial) stopped it.
    Suppressed,
}

/// A marker at one decision.
#[derive(Debug, Clone, PartialEq)]
pub struct Mark {
    /// When.
    pub at: DateTime<Utc>,
    /// Where on the capacity axis (the desired capacity after the decision).
    pub value: u32,
    /// Action or suppression.
    pub kind: MarkKind,
    /// The tooltip: what asked and what happened.
    pub note: String,
}

/// One target's panel.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Panel {
    /// The target instance.
    pub target: String,
    /// A subtitle, such as the AWS resource.
    pub subtitle: String,
    /// Desired capacity over time.
    pub desired: Steps,
    /// Effective floor over time.
    pub floor: Steps,
    /// Effective ceiling over time.
    pub ceiling: Steps,
    /// Actions and suppressions.
    pub marks: Vec<Mark>,
}

/// The whole chart.
#[derive(Debug, Clone, PartialEq)]
pub struct Chart {
    /// The title line.
    pub title: String,
    /// Left edge of the time axis.
    pub start: DateTime<Utc>,
    /// Right edge of the time axis.
    pub end: DateTime<Utc>,
    /// One panel per target.
    pub panels: Vec<Panel>,
}

/// Maps time and capacity to pixels inside one plot area.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scale {
    start: DateTime<Utc>,
    span_secs: f64,
    left: f64,
    right: f64,
    top: f64,
    bottom: f64,
    /// The capacity at the top edge.
    pub y_max: u32,
    /// The distance between two capacity grid lines.
    pub y_step: u32,
}

impl Scale {
    /// A scale for `start..end` across `left..right` and capacity `0..` a round number above
    /// `max_value` across `bottom..top` (SVG y grows downwards, so `top < bottom`). An empty or
    /// reversed time range is widened to one hour so that nothing divides by zero.
    pub fn new(
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        (left, right): (f64, f64),
        (top, bottom): (f64, f64),
        max_value: u32,
    ) -> Scale {
        let span = (end - start).num_seconds();
        let span_secs = if span > 0 { span as f64 } else { 3600.0 };
        let (y_max, y_step) = capacity_axis(max_value);
        Scale {
            start,
            span_secs,
            left,
            right,
            top,
            bottom,
            y_max,
            y_step,
        }
    }

    /// The x pixel of instant `t`, clamped to the plot area.
    pub fn x(&self, t: DateTime<Utc>) -> f64 {
        let f =
            ((t - self.start).num_milliseconds() as f64 / 1000.0 / self.span_secs).clamp(0.0, 1.0);
        self.left + f * (self.right - self.left)
    }

    /// The y pixel of capacity `v`, clamped to the plot area.
    pub fn y(&self, v: u32) -> f64 {
        let f = (f64::from(v) / f64::from(self.y_max)).clamp(0.0, 1.0);
        self.bottom - f * (self.bottom - self.top)
    }
}

/// The top of the capacity axis and its grid step: a round step giving at most seven intervals,
/// and a top strictly above `max_value` so that a line at the maximum stays visible.
pub fn capacity_axis(max_value: u32) -> (u32, u32) {
    let mut magnitude = 1u32;
    loop {
        for m in [1u32, 2, 5] {
            let step = m.saturating_mul(magnitude);
            if max_value / step <= 6 {
                return ((max_value / step + 1).saturating_mul(step), step);
            }
        }
        magnitude = magnitude.saturating_mul(10);
    }
}

/// The labelled time ticks in `start..=end`: whole UTC hours, every 1, 2, 3, 4, 6, 12 or 24
/// hours (or whole days beyond), the finest that gives at most 25 ticks.
pub fn time_ticks(start: DateTime<Utc>, end: DateTime<Utc>) -> Vec<DateTime<Utc>> {
    let hours = ((end - start).num_minutes() as f64 / 60.0).max(0.0);
    let every = [1i64, 2, 3, 4, 6, 12, 24]
        .into_iter()
        .find(|h| hours / (*h as f64) <= 24.0)
        .unwrap_or_else(|| 24 * ((hours / 24.0 / 24.0).ceil() as i64).max(1));
    let step = TimeDelta::hours(every);
    let Ok(first_hour) = start.duration_trunc(TimeDelta::hours(1)) else {
        return Vec::new();
    };
    let mut t = first_hour;
    if t < start {
        t += TimeDelta::hours(1);
    }
    // Align to a multiple of the step within the UTC day, so ticks fall on 00, 06, 12...
    while (t.hour() as i64) % every.min(24) != 0 {
        t += TimeDelta::hours(1);
    }
    let mut ticks = Vec::new();
    while t <= end {
        ticks.push(t);
        t += step;
    }
    ticks
}

/// The SVG path of a step line clipped to the scale's time range: horizontal runs joined by
/// vertical rises and falls, the last value held to the right edge at `end`.
pub fn step_path(scale: &Scale, steps: &Steps, end: DateTime<Utc>) -> String {
    let mut d = String::new();
    for (i, &(at, v)) in steps.points().iter().enumerate() {
        let (x, y) = (scale.x(at), scale.y(v));
        if i == 0 {
            let _ = write!(d, "M{x:.1},{y:.1}");
        } else {
            let _ = write!(d, " H{x:.1} V{y:.1}");
        }
    }
    if !d.is_empty() {
        let _ = write!(d, " H{:.1}", scale.x(end));
    }
    d
}

/// Escapes text for SVG content and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

impl Chart {
    /// The chart as a standalone SVG document.
    pub fn render(&self) -> String {
        let height = HEADER + self.panels.len().max(1) as f64 * (PLOT_HEIGHT + PANEL_GAP) + 10.0;
        let mut s = String::new();
        let _ = writeln!(
            s,
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" font-family="Helvetica, Arial, sans-serif" font-size="12">"#
        );
        let _ = writeln!(
            s,
            r#"<rect width="100%" height="100%" fill="white"/>
<text x="{LEFT}" y="22" font-size="16" font-weight="bold">{}</text>"#,
            escape(&self.title)
        );
        self.legend(&mut s);
        for (i, panel) in self.panels.iter().enumerate() {
            let top = HEADER + i as f64 * (PLOT_HEIGHT + PANEL_GAP) + 24.0;
            self.panel(&mut s, panel, top);
        }
        s.push_str("</svg>\n");
        s
    }

    fn legend(&self, s: &mut String) {
        let y = 46.0;
        let mut x = LEFT;
        for (label, colour, style) in [
            ("desired", DESIRED_COLOUR, DESIRED_STYLE),
            ("floor", FLOOR_COLOUR, BOUND_STYLE),
            ("ceiling", CEILING_COLOUR, BOUND_STYLE),
        ] {
            let _ = writeln!(
                s,
                r#"<line x1="{x}" y1="{y}" x2="{}" y2="{y}" stroke="{colour}" {style}/><text x="{}" y="{}">{label}</text>"#,
                x + 26.0,
                x + 32.0,
                y + 4.0
            );
            x += 100.0;
        }
        action_marker(s, x + 6.0, y, "");
        let _ = writeln!(s, r#"<text x="{}" y="{}">action</text>"#, x + 16.0, y + 4.0);
        x += 90.0;
        suppressed_marker(s, x + 6.0, y, "");
        let _ = writeln!(
            s,
            r#"<text x="{}" y="{}">suppressed (cooldown, guard, bound, limit, denied...)</text>"#,
            x + 16.0,
            y + 4.0
        );
    }

    fn panel(&self, s: &mut String, panel: &Panel, top: f64) {
        let bottom = top + PLOT_HEIGHT;
        let (left, right) = (LEFT, WIDTH - RIGHT);
        let max_value = panel
            .desired
            .max()
            .max(panel.floor.max())
            .max(panel.ceiling.max())
            .max(panel.marks.iter().map(|m| m.value).max().unwrap_or(0));
        let scale = Scale::new(
            self.start,
            self.end,
            (left, right),
            (top, bottom),
            max_value,
        );

        let _ = writeln!(
            s,
            r#"<g class="panel" id="panel-{}">"#,
            escape(&panel.target)
        );
        let _ = writeln!(
            s,
            r##"<text x="{left}" y="{}" font-size="14" font-weight="bold">{}</text><text x="{}" y="{}" fill="#555">{}</text>"##,
            top - 8.0,
            escape(&panel.target),
            left + 12.0 + 8.5 * panel.target.chars().count() as f64,
            top - 8.0,
            escape(&panel.subtitle)
        );
        let _ = writeln!(
            s,
            r##"<rect x="{left}" y="{top}" width="{}" height="{PLOT_HEIGHT}" fill="#fafafa" stroke="#999"/>"##,
            right - left
        );
        // Capacity grid and labels.
        let mut v = 0;
        while v <= scale.y_max {
            let y = scale.y(v);
            let _ = writeln!(
                s,
                r##"<line x1="{left}" y1="{y:.1}" x2="{right}" y2="{y:.1}" stroke="#e3e3e3"/><text x="{}" y="{:.1}" text-anchor="end" fill="#444">{v}</text>"##,
                left - 6.0,
                y + 4.0
            );
            v += scale.y_step;
        }
        // Time grid and labels (UTC).
        let ticks = time_ticks(self.start, self.end);
        let multi_day = self.end - self.start > TimeDelta::hours(24);
        for t in ticks {
            let x = scale.x(t);
            let label = if multi_day && t.hour() == 0 {
                t.format("%b %d").to_string()
            } else {
                t.format("%H:%M").to_string()
            };
            let _ = writeln!(
                s,
                r##"<line x1="{x:.1}" y1="{top}" x2="{x:.1}" y2="{bottom}" stroke="#ececec"/><text x="{x:.1}" y="{}" text-anchor="middle" fill="#444">{label}</text>"##,
                bottom + 16.0
            );
        }
        let _ = writeln!(
            s,
            r##"<text x="{right}" y="{}" text-anchor="end" fill="#777">time (UTC)</text>"##,
            bottom + 32.0
        );
        // Ceiling and floor are drawn wide and pale under a narrow desired line, so that where
        // desired sits on a bound both stay visible.
        for (steps, colour, style) in [
            (&panel.ceiling, CEILING_COLOUR, BOUND_STYLE),
            (&panel.floor, FLOOR_COLOUR, BOUND_STYLE),
            (&panel.desired, DESIRED_COLOUR, DESIRED_STYLE),
        ] {
            let d = step_path(&scale, steps, self.end);
            if !d.is_empty() {
                let _ = writeln!(
                    s,
                    r#"<path d="{d}" fill="none" stroke="{colour}" {style}/>"#
                );
            }
        }
        for m in &panel.marks {
            let (x, y) = (scale.x(m.at), scale.y(m.value));
            let note = format!("{} {}", m.at.format("%H:%M"), m.note);
            match m.kind {
                MarkKind::Action => action_marker(s, x, y, &note),
                MarkKind::Suppressed => suppressed_marker(s, x, y, &note),
            }
        }
        s.push_str("</g>\n");
    }
}

fn action_marker(s: &mut String, x: f64, y: f64, note: &str) {
    let _ = writeln!(
        s,
        r#"<circle cx="{x:.1}" cy="{y:.1}" r="4.5" fill="{DESIRED_COLOUR}" stroke="white" stroke-width="1.5"><title>{}</title></circle>"#,
        escape(note)
    );
}

fn suppressed_marker(s: &mut String, x: f64, y: f64, note: &str) {
    let r = 4.5;
    let _ = writeln!(
        s,
        r#"<path d="M{:.1},{:.1} L{:.1},{:.1} M{:.1},{:.1} L{:.1},{:.1}" stroke="{SUPPRESSED_COLOUR}" stroke-width="2.5"><title>{}</title></path>"#,
        x - r,
        y - r,
        x + r,
        y + r,
        x - r,
        y + r,
        x + r,
        y - r,
        escape(note)
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(h: u32, m: u32) -> DateTime<Utc> {
        format!("2026-11-23T{h:02}:{m:02}:00Z").parse().unwrap()
    }

    #[test]
    fn x_maps_the_time_range_onto_the_plot_width() {
        let s = Scale::new(t(0, 0), t(12, 0), (100.0, 700.0), (10.0, 110.0), 10);
        assert_eq!(s.x(t(0, 0)), 100.0);
        assert_eq!(s.x(t(12, 0)), 700.0);
        assert_eq!(s.x(t(6, 0)), 400.0);
        assert_eq!(s.x(t(3, 0)), 250.0);
        // Outside the range: clamped to the edges.
        assert_eq!(s.x(t(13, 0)), 700.0);
    }

    #[test]
    fn y_grows_downwards_from_zero_at_the_bottom() {
        let s = Scale::new(t(0, 0), t(1, 0), (0.0, 1.0), (10.0, 110.0), 18);
        assert_eq!((s.y_max, s.y_step), (20, 5));
        assert_eq!(s.y(0), 110.0);
        assert_eq!(s.y(20), 10.0);
        assert_eq!(s.y(10), 60.0);
        assert!(s.y(4) > s.y(5));
        assert_eq!(s.y(99), 10.0);
    }

    #[test]
    fn an_empty_time_range_does_not_divide_by_zero() {
        let s = Scale::new(t(5, 0), t(5, 0), (0.0, 360.0), (0.0, 100.0), 0);
        assert_eq!(s.x(t(5, 0)), 0.0);
        assert_eq!(s.x(t(5, 30)), 180.0);
        assert_eq!(s.y_max, 1);
        assert!(s.y(0).is_finite());
    }

    #[test]
    fn capacity_axis_is_round_and_above_the_maximum() {
        assert_eq!(capacity_axis(0), (1, 1));
        assert_eq!(capacity_axis(4), (5, 1));
        assert_eq!(capacity_axis(10), (12, 2));
        assert_eq!(capacity_axis(20), (25, 5));
        assert_eq!(capacity_axis(30), (35, 5));
        assert_eq!(capacity_axis(40), (50, 10));
        assert_eq!(capacity_axis(12), (14, 2));
        assert_eq!(capacity_axis(999), (1000, 200));
        for max in 0..500 {
            let (top, step) = capacity_axis(max);
            assert!(top > max, "top {top} must exceed {max}");
            assert_eq!(top % step, 0);
            assert!(
                top / step <= 7,
                "{max}: {top}/{step} gives too many grid lines"
            );
        }
    }

    #[test]
    fn a_day_gets_hourly_ticks_and_a_week_fewer() {
        let day = time_ticks(t(0, 0), t(23, 55));
        assert_eq!(day.len(), 24);
        assert_eq!(day[0], t(0, 0));
        assert_eq!(day[23], t(23, 0));
        let part = time_ticks(t(7, 40), t(10, 5));
        assert_eq!(part, vec![t(8, 0), t(9, 0), t(10, 0)]);
        let week = time_ticks(t(0, 0), t(0, 0) + TimeDelta::days(7));
        assert!(week.len() <= 25 && week.len() >= 7, "{}", week.len());
        assert!(week.iter().all(|w| w.hour() % 12 == 0));
    }

    #[test]
    fn steps_drop_repeats_and_replace_same_instant() {
        let mut st = Steps::default();
        st.push(t(0, 0), 2);
        st.push(t(0, 5), 2);
        st.push(t(1, 0), 4);
        st.push(t(1, 0), 6);
        st.push(t(2, 0), 6);
        assert_eq!(st.points(), &[(t(0, 0), 2), (t(1, 0), 6)]);
        st.push(t(3, 0), 5);
        st.push(t(3, 0), 6);
        assert_eq!(st.points(), &[(t(0, 0), 2), (t(1, 0), 6)]);
    }

    #[test]
    fn step_path_runs_flat_then_jumps() {
        let s = Scale::new(t(0, 0), t(10, 0), (0.0, 1000.0), (0.0, 100.0), 8);
        assert_eq!(s.y_max, 10);
        let mut st = Steps::default();
        st.push(t(0, 0), 2);
        st.push(t(5, 0), 4);
        assert_eq!(
            step_path(&s, &st, t(10, 0)),
            "M0.0,80.0 H500.0 V60.0 H1000.0"
        );
        assert_eq!(step_path(&s, &Steps::default(), t(10, 0)), "");
    }

    #[test]
    fn render_has_a_panel_per_target_and_escapes_text() {
        let mut a = Panel {
            target: "api".into(),
            subtitle: "ecs main-cluster/api-service".into(),
            ..Panel::default()
        };
        a.desired.push(t(0, 0), 2);
        a.marks.push(Mark {
            at: t(1, 0),
            value: 2,
            kind: MarkKind::Suppressed,
            note: "rule:x <cooldown>".into(),
        });
        let b = Panel {
            target: "web".into(),
            ..Panel::default()
        };
        let chart = Chart {
            title: "a & b".into(),
            start: t(0, 0),
            end: t(2, 0),
            panels: vec![a, b],
        };
        let svg = chart.render();
        assert_eq!(svg.matches(r#"<g class="panel""#).count(), 2);
        assert!(svg.contains(r#"id="panel-api""#) && svg.contains(r#"id="panel-web""#));
        assert!(svg.contains("a &amp; b"));
        assert!(svg.contains("rule:x &lt;cooldown&gt;"));
        assert!(!svg.contains("<cooldown>"));
        assert!(svg.trim_end().ends_with("</svg>"));
    }
}
