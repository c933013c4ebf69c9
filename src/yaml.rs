//! The one YAML stack: `serde-saphyr`, the library kube-client reads kubeconfigs with, and the
//! options Palisade reads every YAML text with. Pure.
//!
//! The options keep what a reader of our files relied on before: YAML 1.2 booleans (`yes`, `on`,
//! `y` stay strings, as in JSON and in the Kubernetes schema's string fields), NaN and
//! infinities as null in untyped values (JSON has no such number), numbers spelled with leading
//! zeros or underscores kept as the strings they were written as, and error messages without
//! a snippet of the input: an input may hold a token, and messages reach logs and terminals.

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_saphyr::{DuplicateKeyPolicy, NonFiniteFloatPolicy, Options};

pub use serde_saphyr::{Error, SerializeError};

/// Options for a file read into typed values (configuration, scenario, tour): a key given
/// twice in one mapping is an error, as the YAML spec requires.
pub fn options() -> Options {
    serde_saphyr::options! {
        strict_booleans: true,
        non_finite_float_policy: NonFiniteFloatPolicy::PassThrough,
        leading_zero_numbers_as_strings: true,
        underscored_numbers_as_strings: true,
        with_snippet: false,
    }
}

/// Options for manifests: every entry reaches the visitor, so `manifest::strict` can name the
/// keys given twice (the API server's strict validation rejects them) instead of failing the
/// whole document.
pub fn manifest_options() -> Options {
    let mut options = options();
    options.duplicate_keys = DuplicateKeyPolicy::PassThrough;
    options
}

/// One document into a typed value.
pub fn from_str<T: DeserializeOwned>(text: &str) -> Result<T, Error> {
    serde_saphyr::from_str_with_options(text, options())
}

/// One UTF-8 document into a typed value.
pub fn from_slice<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Error> {
    serde_saphyr::from_slice_with_options(bytes, options())
}

/// Every non-empty document of a stream into typed values; the first error fails the stream.
/// The library's budget counts the whole stream here (1,024 documents): for our own output;
/// manifests are read document by document (`manifest::parse`).
pub fn documents<T: DeserializeOwned>(text: &str) -> Result<Vec<T>, Error> {
    serde_saphyr::from_multiple_with_options(text, options())
}

/// A value as one YAML document. The printer quotes every string a YAML 1.1 reader (kubectl's)
/// would take for something else (`"yes"`, `"on"`, `"0755"`).
pub fn to_string<T: Serialize>(value: &T) -> Result<String, SerializeError> {
    serde_saphyr::to_string(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};
    use std::collections::BTreeMap;

    #[test]
    fn strings_a_yaml_1_1_reader_would_retype_are_quoted_and_read_back_as_strings() {
        let labels = json!({"a": "yes", "b": "on", "c": "y", "d": "0755", "e": "1_000",
                            "f": "null", "g": "80", "h": "true", "i": "~", "n": "no"});
        let text = to_string(&labels).unwrap();
        assert_eq!(from_str::<Value>(&text).unwrap(), labels);
        // The library's default reader resolves YAML 1.1 booleans (kubectl's YAML reader
        // does too): the quotes keep them strings there as well.
        let lenient: Value = serde_saphyr::from_str(&text).unwrap();
        assert_eq!(lenient, labels, "{text}");
    }

    #[test]
    fn plain_scalars_read_as_before() {
        let value: Value =
            from_str("a: yes\nb: 0755\nc: 1_000\nd: .nan\ne: 0x1F\nf: 1.5\n").unwrap();
        assert_eq!(
            value,
            json!({"a": "yes", "b": "0755", "c": "1_000", "d": null, "e": 31, "f": 1.5})
        );
    }

    /// YAML 1.2 §3.2.1.1: the keys of a mapping are unique. A typed read refuses a repeated one.
    #[test]
    fn a_key_given_twice_is_an_error_in_typed_reads() {
        let err = from_str::<BTreeMap<String, u16>>("port: 80\nport: 81\n").unwrap_err();
        assert!(err.to_string().contains("line 2"), "{err}");
    }

    #[test]
    fn errors_do_not_quote_the_input() {
        let err = from_str::<Value>("token: s3cr3t-t0ken\n  broken: [\n").unwrap_err();
        assert!(!err.to_string().contains("s3cr3t"), "{err}");
    }
}
