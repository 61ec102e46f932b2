//! The settings file shared with the policy (YAML or JSON, the contract of
//! docs/policy-settings.md), loaded and validated once.

use std::path::Path;

use notation_verifier::settings::{NamedSettings, ValidatedSettings};

#[derive(Debug, thiserror::Error)]
pub enum SettingsFileError {
    #[error("cannot read settings file {0}: {1}")]
    Read(String, std::io::Error),
    #[error("settings file {0} is not valid YAML/JSON for the policy settings: {1}")]
    Parse(String, Box<serde_saphyr::Error>),
    #[error("settings file {0}: {1}")]
    Invalid(String, notation_verifier::settings::SettingsError),
}

/// How `vns` reads YAML (settings files and the manifests `vns scan` reads),
/// the same as the browser inspector (notation-verifier's `wasm.rs`): YAML
/// 1.2 core scalars (`yes`, `on`, `0755` and `1_000` stay strings where the
/// type is open; only `true`/`false` are booleans), and one-line errors that
/// name the line and column. Duplicate keys are refused and alias expansion
/// is bounded (the parser's defaults).
pub fn yaml_options() -> serde_saphyr::Options {
    serde_saphyr::options! {
        strict_booleans: true,
        leading_zero_numbers_as_strings: true,
        underscored_numbers_as_strings: true,
        with_snippet: false,
    }
}

pub fn load(path: &Path) -> Result<ValidatedSettings, SettingsFileError> {
    let name = path.display().to_string();
    let text =
        std::fs::read_to_string(path).map_err(|e| SettingsFileError::Read(name.clone(), e))?;
    // YAML is a superset of JSON, so one parser reads both; the error names
    // the field's path (NamedSettings) and the line.
    let settings = serde_saphyr::from_str_with_options::<NamedSettings>(&text, yaml_options())
        .map(|named| named.0)
        .map_err(|e| SettingsFileError::Parse(name.clone(), Box::new(e)))?;
    settings
        .validate()
        .map_err(|e| SettingsFileError::Invalid(name, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load_text(name: &str, text: &str) -> Result<ValidatedSettings, SettingsFileError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        load(&path)
    }

    #[test]
    fn yaml_errors_name_the_file_and_the_line() {
        let err = load_text(
            "s.yaml",
            "trustPolicy:\n  version: '1.0'\nenforcment: warn\n",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("s.yaml"), "{err}");
        assert!(
            err.contains("enforcment") && err.contains("line 3"),
            "{err}"
        );
        assert!(!err.contains('\n'), "one line: {err}");
        let err = load_text("s.yaml", "trustPolicy: [\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("line 1"), "{err}");
    }

    #[test]
    fn json_is_read_by_the_same_parser() {
        let err = load_text(
            "s.json",
            r#"{"trustPolicy": {"version": "1.0", "trustPolicies": []}}"#,
        )
        .unwrap_err();
        // It parsed; what remains is the contract's own check.
        assert!(matches!(err, SettingsFileError::Invalid(..)), "{err}");
    }
}
