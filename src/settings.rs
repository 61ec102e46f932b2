//! The settings contract lives in the core (`notation_verifier::settings`) so
//! that `vns verify` reads the same file the same way; this newtype only
//! plugs it into the Kubewarden SDK.

use kubewarden_policy_sdk::settings::Validatable;
use notation_verifier::settings::Settings;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PolicySettings(pub Settings);

impl Validatable for PolicySettings {
    fn validate(&self) -> Result<(), String> {
        self.0.validate().map(|_| ()).map_err(|e| e.to_string())
    }
}

/// `validate_settings` that answers `{"valid": false, "message": ...}` for
/// settings that do not even parse (unknown field, wrong type), as for any
/// other invalid settings, instead of failing the guest call: the policy
/// server then shows the message that names the field.
pub fn validate_settings_payload(
    payload: &[u8],
) -> kubewarden_policy_sdk::settings::SettingsValidationResponse {
    // The parse error names the field's path (`enforcement: unknown variant
    // `block`, expected `deny` or `warn``), not only serde's complaint.
    let result = Settings::from_json_slice(payload)
        .map_err(|e| format!("invalid settings: {e}"))
        .and_then(|s| PolicySettings(s).validate());
    kubewarden_policy_sdk::settings::SettingsValidationResponse {
        valid: result.is_ok(),
        message: result.err(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unparsable_settings_are_invalid_not_errors() {
        let r = validate_settings_payload(br#"{"enforcment": "warn"}"#);
        assert!(!r.valid);
        assert!(r.message.unwrap().contains("enforcment"));
        let r = validate_settings_payload(b"not json");
        assert!(!r.valid);
        let r = validate_settings_payload(br#"{"enforcement": "block"}"#);
        let message = r.message.unwrap();
        assert!(
            message.starts_with("invalid settings: enforcement: unknown variant `block`")
                && message.contains("`deny` or `warn`"),
            "{message}"
        );
        let r = validate_settings_payload(b"{}");
        assert!(!r.valid && r.message.unwrap().contains("trustPolicy"));
    }
}
