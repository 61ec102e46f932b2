//! The settings file shared with the policy (YAML or JSON, the contract of
//! docs/policy-settings.md), loaded and validated once.

use std::path::Path;

use notation_verifier::settings::{Settings, ValidatedSettings};

#[derive(Debug, thiserror::Error)]
pub enum SettingsFileError {
    #[error("cannot read settings file {0}: {1}")]
    Read(String, std::io::Error),
    #[error("settings file {0} is not valid YAML/JSON for the policy settings: {1}")]
    Parse(String, notation_verifier::settings::SettingsParseError),
    #[error("settings file {0}: {1}")]
    Invalid(String, notation_verifier::settings::SettingsError),
}

pub fn load(path: &Path) -> Result<ValidatedSettings, SettingsFileError> {
    let name = path.display().to_string();
    let text =
        std::fs::read_to_string(path).map_err(|e| SettingsFileError::Read(name.clone(), e))?;
    // YAML is a superset of JSON, so one parser reads both; the error names
    // the field's path.
    let settings = Settings::deserialize_named(serde_yaml::Deserializer::from_str(&text))
        .map_err(|e| SettingsFileError::Parse(name.clone(), e))?;
    settings
        .validate()
        .map_err(|e| SettingsFileError::Invalid(name, e))
}
