//! Prices per million tokens, by model-name prefix, for the estimated cost in `tokenUsage`.
//!
//! The defaults are Anthropic's published list prices (USD per million tokens) at the time of
//! writing; they change, so the config file may override or extend them:
//!
//! ```toml
//! [pricing."claude-sonnet-4"]      # a model-name prefix; the longest matching prefix wins
//! input = 3.0
//! output = 15.0
//! cache_write = 3.75
//! cache_read = 0.30
//! ```
//!
//! A model that matches no prefix has no cost: it is reported as unknown, never guessed.

use std::collections::BTreeMap;

use serde::Deserialize;

/// USD per million tokens.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Price {
    pub input: f64,
    pub output: f64,
    pub cache_write: f64,
    pub cache_read: f64,
}

/// Model-name prefix → price.
#[derive(Debug, Clone, PartialEq)]
pub struct PriceTable(pub BTreeMap<String, Price>);

const fn p(input: f64, output: f64, cache_write: f64, cache_read: f64) -> Price {
    Price {
        input,
        output,
        cache_write,
        cache_read,
    }
}

/// Built-in prices (see the module doc). Cache writes are the 5-minute-TTL rate.
const DEFAULTS: &[(&str, Price)] = &[
    ("claude-opus-4-5", p(5.0, 25.0, 6.25, 0.50)),
    ("claude-opus-4", p(15.0, 75.0, 18.75, 1.50)),
    ("claude-3-opus", p(15.0, 75.0, 18.75, 1.50)),
    ("claude-sonnet-4", p(3.0, 15.0, 3.75, 0.30)),
    ("claude-3-7-sonnet", p(3.0, 15.0, 3.75, 0.30)),
    ("claude-3-5-sonnet", p(3.0, 15.0, 3.75, 0.30)),
    ("claude-haiku-4-5", p(1.0, 5.0, 1.25, 0.10)),
    ("claude-3-5-haiku", p(0.80, 4.0, 1.0, 0.08)),
    ("claude-3-haiku", p(0.25, 1.25, 0.30, 0.03)),
];

impl Default for PriceTable {
    fn default() -> Self {
        PriceTable(
            DEFAULTS
                .iter()
                .map(|(k, v)| ((*k).to_owned(), *v))
                .collect(),
        )
    }
}

impl PriceTable {
    /// The defaults with `overrides` laid over them.
    pub fn with_overrides(overrides: &BTreeMap<String, Price>) -> Self {
        let mut t = PriceTable::default();
        t.0.extend(overrides.iter().map(|(k, v)| (k.clone(), *v)));
        t
    }

    /// The price of the longest prefix of `model`.
    pub fn lookup(&self, model: &str) -> Option<Price> {
        self.0
            .iter()
            .filter(|(prefix, _)| model.starts_with(prefix.as_str()))
            .max_by_key(|(prefix, _)| prefix.len())
            .map(|(_, p)| *p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn longest_prefix_wins_and_overrides_apply() {
        let t = PriceTable::default();
        assert_eq!(
            t.lookup("claude-opus-4-5-20251101").map(|p| p.input),
            Some(5.0)
        );
        assert_eq!(
            t.lookup("claude-opus-4-1-20250805").map(|p| p.input),
            Some(15.0)
        );
        assert_eq!(t.lookup("gpt-5"), None);
        let o = PriceTable::with_overrides(&BTreeMap::from([(
            "gpt-5".to_owned(),
            p(1.25, 10.0, 0.0, 0.125),
        )]));
        assert_eq!(o.lookup("gpt-5-codex").map(|p| p.output), Some(10.0));
    }
}
