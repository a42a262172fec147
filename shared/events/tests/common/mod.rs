//! Helpers the payload tests share: walking and editing a JSON tree for the mutation
//! proptests.
#![allow(dead_code)]

use proptest::prelude::*;
use serde_json::{json, Value};

/// Every path to a node of `value`, as a list of object keys / array indexes.
pub fn node_paths(value: &Value, prefix: &mut Vec<Value>, out: &mut Vec<Vec<Value>>) {
    out.push(prefix.clone());
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                prefix.push(json!(k));
                node_paths(v, prefix, out);
                prefix.pop();
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                prefix.push(json!(i));
                node_paths(v, prefix, out);
                prefix.pop();
            }
        }
        _ => {}
    }
}

pub fn node_mut<'a>(value: &'a mut Value, path: &[Value]) -> &'a mut Value {
    path.iter().fold(value, |node, step| match step {
        Value::String(k) => &mut node[k.as_str()],
        Value::Number(i) => &mut node[i.as_u64().unwrap() as usize],
        _ => unreachable!(),
    })
}

/// The text of a fixture in `tests/fixtures/aws-events/`, read at compile time.
macro_rules! fixture {
    ($name:literal) => {
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/fixtures/aws-events/",
            $name
        ))
    };
}
pub(crate) use fixture;

/// How [`arb_json`] nests values: `depth`, `size` and `branch` as `prop_recursive` takes them,
/// and how many items arrays and objects hold.
pub struct Nesting {
    pub depth: u32,
    pub size: u32,
    pub branch: u32,
    pub items: std::ops::Range<usize>,
    pub keys: std::ops::Range<usize>,
}

/// Five levels deep, arrays and objects of up to five.
pub const DEEP: Nesting = Nesting {
    depth: 5,
    size: 64,
    branch: 6,
    items: 0..6,
    keys: 0..6,
};

/// A JSON scalar: null, a boolean, an integer, a finite float, or one of `strings`.
pub fn arb_scalar(
    strings: impl Strategy<Value = String> + 'static,
) -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_filter_map("finite", |f| serde_json::Number::from_f64(f)
            .map(Value::Number)),
        strings.prop_map(Value::String),
    ]
}

/// JSON trees of `leaf` values, in arrays and in objects keyed by `key`, nested as `nesting`
/// says: what the mutation proptests put in place of a node.
pub fn arb_json(
    leaf: impl Strategy<Value = Value> + 'static,
    key: impl Strategy<Value = String> + 'static,
    nesting: Nesting,
) -> impl Strategy<Value = Value> {
    let key = key.boxed();
    let Nesting {
        depth,
        size,
        branch,
        items,
        keys,
    } = nesting;
    leaf.prop_recursive(depth, size, branch, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), items.clone()).prop_map(Value::Array),
            prop::collection::btree_map(key.clone(), inner, keys.clone())
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}
