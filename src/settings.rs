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
