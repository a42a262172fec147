//! The policy's shape, for the unknown-key walk. Field names come from the model's own serde
//! derives (see `introspect`), so the walk follows the model when fields are added.

use toml::de::DeValue;

use super::hints::{closest, suggest};
use super::path::Path;
use super::Loader;
use crate::file::{PolicyFile, PolicyTest};
use crate::model::{
    Action, AlarmRule, BudgetAction, BudgetRule, Event, Grant, Schedule, Settings, SlackAccess,
    Target,
};
use crate::signal::Signal;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Root,
    Settings,
    Holidays,
    Targets,
    Target,
    Cooldowns,
    Rules,
    Rule,
    Steps,
    Step,
    Action,
    FromMetric,
    Schedules,
    Schedule,
    Events,
    Event,
    Uplifts,
    Uplift,
    Budgets,
    Budget,
    BudgetAction,
    Slack,
    Grants,
    Grant,
    Tests,
    Test,
    Signal,
    AlarmSignal,
    TickSignal,
    BudgetSignal,
    CommandSignal,
    EventSignal,
    AddEvent,
    TestStates,
    TestState,
    History,
    TestAction,
    Caps,
    TestCap,
    Expects,
    Expect,
    Leaf,
}

pub(super) enum Shape {
    /// A struct: its keys, and the kind of each key's value.
    Struct(&'static [&'static str], fn(&str) -> Kind),
    /// A map of names to values of one kind.
    Map(Kind),
    /// An array of values of one kind.
    Array(Kind),
    /// An enum: a string (unit variant) or a table with one key naming the variant.
    Enum(&'static [&'static str], fn(&str) -> Kind),
    /// Anything; serde checks it.
    Leaf,
}

pub(super) fn shape(kind: Kind) -> Shape {
    use crate::file as f;
    use crate::model as m;
    use crate::signal as s;
    use introspect::{fields, variant_fields, variants};
    match kind {
        Kind::Root => Shape::Struct(fields::<PolicyFile>(), |k| match k {
            "settings" => Kind::Settings,
            "holidays" => Kind::Holidays,
            "targets" => Kind::Targets,
            "rules" => Kind::Rules,
            "schedules" => Kind::Schedules,
            "events" => Kind::Events,
            "budgets" => Kind::Budgets,
            "slack" => Kind::Slack,
            "tests" => Kind::Tests,
            _ => Kind::Leaf,
        }),
        Kind::Settings => Shape::Struct(fields::<Settings>(), |_| Kind::Leaf),
        Kind::Holidays => Shape::Map(Kind::Leaf),
        Kind::Targets => Shape::Map(Kind::Target),
        Kind::Target => Shape::Struct(fields::<Target>(), |k| match k {
            "cooldown" => Kind::Cooldowns,
            _ => Kind::Leaf,
        }),
        Kind::Cooldowns => Shape::Struct(fields::<m::Cooldowns>(), |_| Kind::Leaf),
        Kind::Rules => Shape::Map(Kind::Rule),
        Kind::Rule => Shape::Struct(fields::<AlarmRule>(), |k| match k {
            "action" => Kind::Action,
            "steps" => Kind::Steps,
            _ => Kind::Leaf,
        }),
        Kind::Steps => Shape::Array(Kind::Step),
        Kind::Step => Shape::Struct(fields::<m::Step>(), |k| match k {
            "action" => Kind::Action,
            _ => Kind::Leaf,
        }),
        Kind::Action => Shape::Enum(variants::<Action>(), |k| match k {
            "from_metric" => Kind::FromMetric,
            _ => Kind::Leaf,
        }),
        Kind::FromMetric => Shape::Struct(variant_fields::<Action>("from_metric"), |_| Kind::Leaf),
        Kind::Schedules => Shape::Map(Kind::Schedule),
        Kind::Schedule => Shape::Struct(fields::<Schedule>(), |_| Kind::Leaf),
        Kind::Events => Shape::Map(Kind::Event),
        Kind::Event => Shape::Struct(fields::<Event>(), |k| match k {
            "targets" => Kind::Uplifts,
            _ => Kind::Leaf,
        }),
        Kind::Uplifts => Shape::Map(Kind::Uplift),
        Kind::Uplift => Shape::Struct(fields::<m::Uplift>(), |_| Kind::Leaf),
        Kind::Budgets => Shape::Map(Kind::Budget),
        Kind::Budget => Shape::Struct(fields::<BudgetRule>(), |k| match k {
            "action" => Kind::BudgetAction,
            _ => Kind::Leaf,
        }),
        Kind::BudgetAction => Shape::Enum(variants::<BudgetAction>(), |_| Kind::Leaf),
        Kind::Slack => Shape::Struct(fields::<SlackAccess>(), |k| match k {
            "grants" => Kind::Grants,
            _ => Kind::Leaf,
        }),
        Kind::Grants => Shape::Array(Kind::Grant),
        Kind::Grant => Shape::Struct(fields::<Grant>(), |_| Kind::Leaf),
        Kind::Tests => Shape::Array(Kind::Test),
        Kind::Test => Shape::Struct(fields::<PolicyTest>(), |k| match k {
            "signal" => Kind::Signal,
            "state" => Kind::TestStates,
            "caps" => Kind::Caps,
            "events" => Kind::Events,
            "expect" => Kind::Expects,
            _ => Kind::Leaf,
        }),
        Kind::Signal => Shape::Enum(variants::<Signal>(), |k| match k {
            "alarm" => Kind::AlarmSignal,
            "tick" => Kind::TickSignal,
            "budget" => Kind::BudgetSignal,
            "command" => Kind::CommandSignal,
            "event" => Kind::EventSignal,
            _ => Kind::Leaf,
        }),
        Kind::AlarmSignal => Shape::Struct(fields::<s::AlarmSignal>(), |_| Kind::Leaf),
        Kind::TickSignal => Shape::Struct(fields::<s::TickSignal>(), |_| Kind::Leaf),
        Kind::BudgetSignal => Shape::Struct(fields::<s::BudgetSignal>(), |_| Kind::Leaf),
        Kind::CommandSignal => Shape::Struct(fields::<s::CommandSignal>(), |_| Kind::Leaf),
        Kind::EventSignal => Shape::Struct(fields::<s::EventSignal>(), |k| match k {
            "add" => Kind::AddEvent,
            _ => Kind::Leaf,
        }),
        Kind::AddEvent => Shape::Struct(fields::<s::AddEvent>(), |k| match k {
            "event" => Kind::Event,
            _ => Kind::Leaf,
        }),
        Kind::TestStates => Shape::Map(Kind::TestState),
        Kind::TestState => Shape::Struct(fields::<f::TestTargetState>(), |k| match k {
            "history" => Kind::History,
            _ => Kind::Leaf,
        }),
        Kind::History => Shape::Array(Kind::TestAction),
        Kind::TestAction => Shape::Struct(fields::<f::TestAction>(), |_| Kind::Leaf),
        Kind::Caps => Shape::Array(Kind::TestCap),
        Kind::TestCap => Shape::Struct(fields::<f::TestCap>(), |_| Kind::Leaf),
        Kind::Expects => Shape::Map(Kind::Expect),
        Kind::Expect => Shape::Struct(fields::<f::TargetExpect>(), |_| Kind::Leaf),
        Kind::Leaf => Shape::Leaf,
    }
}

/// Reads the field names of a struct (or the variants of an enum) from its serde derive: a
/// deserializer that answers `deserialize_struct` / `deserialize_enum` with an error carrying
/// the names it was given.
mod introspect {
    use serde::de::{self, DeserializeOwned, Visitor};
    use std::fmt;

    #[derive(Debug)]
    pub(super) struct Names(Option<&'static [&'static str]>);

    impl fmt::Display for Names {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("introspection")
        }
    }
    impl std::error::Error for Names {}
    impl de::Error for Names {
        fn custom<T: fmt::Display>(_: T) -> Self {
            Names(None)
        }
    }

    /// Captures struct fields or enum variants; with `variant`, selects that variant of an
    /// enum and captures its struct fields.
    struct Probe(Option<&'static str>);

    impl<'de> de::Deserializer<'de> for Probe {
        type Error = Names;
        fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Names> {
            Err(Names(None))
        }
        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _: &'static str,
            fields: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Names> {
            Err(Names(Some(fields)))
        }
        fn deserialize_enum<V: Visitor<'de>>(
            self,
            _: &'static str,
            variants: &'static [&'static str],
            visitor: V,
        ) -> Result<V::Value, Names> {
            match self.0 {
                None => Err(Names(Some(variants))),
                Some(variant) => visitor.visit_enum(Variant(variant)),
            }
        }
        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes
            byte_buf option unit unit_struct newtype_struct seq tuple tuple_struct map
            identifier ignored_any
        }
    }

    struct Variant(&'static str);

    impl<'de> de::EnumAccess<'de> for Variant {
        type Error = Names;
        type Variant = Variant;
        fn variant_seed<S: de::DeserializeSeed<'de>>(
            self,
            seed: S,
        ) -> Result<(S::Value, Variant), Names> {
            let de: de::value::StrDeserializer<'_, Names> =
                de::IntoDeserializer::into_deserializer(self.0);
            Ok((seed.deserialize(de)?, self))
        }
    }

    impl<'de> de::VariantAccess<'de> for Variant {
        type Error = Names;
        fn unit_variant(self) -> Result<(), Names> {
            Err(Names(None))
        }
        fn newtype_variant_seed<S: de::DeserializeSeed<'de>>(
            self,
            _: S,
        ) -> Result<S::Value, Names> {
            Err(Names(None))
        }
        fn tuple_variant<V: Visitor<'de>>(self, _: usize, _: V) -> Result<V::Value, Names> {
            Err(Names(None))
        }
        fn struct_variant<V: Visitor<'de>>(
            self,
            fields: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Names> {
            Err(Names(Some(fields)))
        }
    }

    /// The keys a struct accepts.
    pub(super) fn fields<T: DeserializeOwned>() -> &'static [&'static str] {
        match T::deserialize(Probe(None)) {
            Err(Names(Some(names))) => names,
            _ => &[],
        }
    }

    /// The variants of an enum.
    pub(super) fn variants<T: DeserializeOwned>() -> &'static [&'static str] {
        fields::<T>()
    }

    /// The keys of a struct variant of an enum.
    pub(super) fn variant_fields<T: DeserializeOwned>(
        variant: &'static str,
    ) -> &'static [&'static str] {
        match T::deserialize(Probe(Some(variant))) {
            Err(Names(Some(names))) => names,
            _ => &[],
        }
    }
}

impl Loader<'_> {
    // ----- unknown keys -----------------------------------------------------------------

    /// Reports unknown keys under `value` and strips them; true when the caller should remove
    /// `value` itself (an enum table naming an unknown variant).
    pub(super) fn walk(&mut self, value: &mut DeValue<'_>, kind: Kind, path: &Path) -> bool {
        match (shape(kind), value) {
            (Shape::Struct(fields, child), DeValue::Table(t)) => {
                let mut drop = Vec::new();
                for (k, v) in t.iter_mut() {
                    let key = k.get_ref().to_string();
                    let here = path.key(&key);
                    if !fields.contains(&key.as_str()) {
                        let place = if path.0.is_empty() {
                            "at the top level".to_string()
                        } else {
                            format!("in `{path}`")
                        };
                        let hint = suggest(&key, fields, "allowed keys");
                        if let Some(close) = closest(&key, fields.iter().copied()) {
                            self.suggested.insert(path.key(close).to_string());
                        }
                        self.push(k.span(), format!("unknown key `{key}` {place}"), Some(hint));
                        drop.push(key);
                    } else if self.walk(v.get_mut(), child(&key), &here) {
                        drop.push(key);
                    }
                }
                for key in drop {
                    self.removed.insert(path.key(&key).to_string());
                    t.remove(key.as_str());
                }
                false
            }
            (Shape::Map(kind), DeValue::Table(t)) => {
                let mut drop = Vec::new();
                for (k, v) in t.iter_mut() {
                    let key = k.get_ref().to_string();
                    if self.walk(v.get_mut(), kind, &path.key(&key)) {
                        drop.push(key);
                    }
                }
                for key in drop {
                    self.removed.insert(path.key(&key).to_string());
                    t.remove(key.as_str());
                }
                false
            }
            (Shape::Array(kind), DeValue::Array(a)) => {
                for (i, v) in a.iter_mut().enumerate() {
                    // Array elements are structs, which never ask to be removed.
                    self.walk(v.get_mut(), kind, &path.idx(i));
                }
                false
            }
            (Shape::Enum(variants, child), DeValue::Table(t)) => {
                let mut unknown = false;
                for (k, v) in t.iter_mut() {
                    let key = k.get_ref().to_string();
                    if variants.contains(&key.as_str()) {
                        if self.walk(v.get_mut(), child(&key), &path.key(&key)) {
                            unknown = true;
                        }
                    } else {
                        self.push(
                            k.span(),
                            format!("`{path}`: unknown kind `{key}`"),
                            Some(suggest(&key, variants, "allowed kinds")),
                        );
                        unknown = true;
                    }
                }
                unknown
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn introspection_reads_the_models_field_names() {
        assert!(introspect::fields::<Target>().contains(&"max_actions_per_hour"));
        assert!(introspect::fields::<BudgetRule>().contains(&"type"));
        assert!(introspect::variants::<Action>().contains(&"from_metric"));
        assert_eq!(
            introspect::variant_fields::<Action>("from_metric"),
            &["per_unit", "buffer_percent"]
        );
    }
}
