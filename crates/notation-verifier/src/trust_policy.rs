//! The OCI trust policy document (version 1.0): schema, load-time
//! validation, scope selection, levels and overrides (spec digest §g).
//!
//! CONTRACT: other modules code against these signatures; keep them stable.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::identity::TrustedIdentities;
use crate::trust_store::StoreType;
use crate::verdict::{Action, ValidationKind};

/// The document as written (trustpolicy.json / settings `trustPolicy`).
///
/// Unknown members are refused, here and in the statements: notation-go
/// matches member names by case folding, so `"Override"` or
/// `"VerifyTimestamp"` would take effect there and be ignored by an
/// exact-name reader. Refusing them (and repeated `override` keys) leaves
/// one reading of the document.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TrustPolicyDocument {
    #[serde(default)]
    pub version: String,
    #[serde(default)]
    pub trust_policies: Vec<TrustPolicyStatementDoc>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TrustPolicyStatementDoc {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub registry_scopes: Vec<String>,
    #[serde(default)]
    pub signature_verification: SignatureVerificationDoc,
    #[serde(default)]
    pub trust_stores: Vec<String>,
    #[serde(default)]
    pub trusted_identities: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SignatureVerificationDoc {
    #[serde(default)]
    pub level: String,
    #[serde(
        default,
        rename = "override",
        skip_serializing_if = "BTreeMap::is_empty",
        deserialize_with = "unique_keys"
    )]
    pub override_: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verify_timestamp: Option<String>,
}

/// A string map that refuses a repeated key (Go keeps the last, other
/// readers of the same settings may keep the first).
fn unique_keys<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<BTreeMap<String, String>, D::Error> {
    struct V;
    impl<'de> serde::de::Visitor<'de> for V {
        type Value = BTreeMap<String, String>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a map of validation names to actions")
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(
            self,
            mut map: A,
        ) -> Result<Self::Value, A::Error> {
            let mut out = BTreeMap::new();
            while let Some((k, v)) = map.next_entry::<String, String>()? {
                if out.contains_key(&k) {
                    return Err(serde::de::Error::custom(format!(
                        "override names \"{k}\" twice: keep one entry"
                    )));
                }
                out.insert(k, v);
            }
            Ok(out)
        }
    }
    d.deserialize_map(V)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Strict,
    Permissive,
    Audit,
    Skip,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VerifyTimestamp {
    Always,
    AfterCertExpiry,
}

/// The action of each validation kind after level + overrides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Actions {
    pub integrity: Action,
    pub authenticity: Action,
    pub authentic_timestamp: Action,
    pub expiry: Action,
    pub revocation: Action,
}

impl Actions {
    pub fn get(&self, kind: ValidationKind) -> Action {
        match kind {
            ValidationKind::Integrity => self.integrity,
            ValidationKind::Authenticity => self.authenticity,
            ValidationKind::AuthenticTimestamp => self.authentic_timestamp,
            ValidationKind::Expiry => self.expiry,
            ValidationKind::Revocation => self.revocation,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TrustStoreRef {
    pub store_type: StoreType,
    pub name: String,
}

/// A validated statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    pub name: String,
    pub registry_scopes: Vec<String>,
    pub level: Level,
    pub actions: Actions,
    pub verify_timestamp: VerifyTimestamp,
    pub trust_stores: Vec<TrustStoreRef>,
    pub trusted_identities: TrustedIdentities,
}

#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum PolicyError {
    /// The document breaks a load-time rule; the message names statement and field.
    #[error("{0}")]
    Invalid(String),
    /// The artifact reference cannot be used for scope selection.
    #[error("{0}")]
    BadReference(String),
    /// No statement covers the artifact.
    #[error("{0}")]
    NoApplicableStatement(String),
}

/// A validated trust policy document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustPolicy {
    pub statements: Vec<Statement>,
}

impl TrustPolicy {
    /// Applies every load-time rule of §g.4 and returns the validated policy.
    pub fn from_document(doc: &TrustPolicyDocument) -> Result<Self, PolicyError> {
        let invalid = |m: String| PolicyError::Invalid(m);
        if doc.version.is_empty() {
            return Err(invalid(
                "oci trust policy document has empty version, version must be specified".into(),
            ));
        }
        if doc.version != "1.0" {
            return Err(invalid(format!(
                "oci trust policy document uses unsupported version \"{}\"",
                doc.version
            )));
        }
        if doc.trust_policies.is_empty() {
            return Err(invalid(
                "oci trust policy document can not have zero trust policy statements".into(),
            ));
        }
        let mut names = BTreeSet::new();
        let mut statements = Vec::with_capacity(doc.trust_policies.len());
        for doc_statement in &doc.trust_policies {
            if doc_statement.name.is_empty() {
                return Err(invalid(
                    "a trust policy statement is missing a name, every statement requires a name"
                        .into(),
                ));
            }
            if !names.insert(doc_statement.name.as_str()) {
                return Err(invalid(format!(
                    "multiple oci trust policy statements use the same name \"{}\", statement names must be unique",
                    doc_statement.name
                )));
            }
            statements.push(
                Statement::from_doc(doc_statement)
                    .map_err(|e| invalid(format!("oci trust policy: {e}")))?,
            );
        }
        validate_registry_scopes(&statements)?;
        Ok(TrustPolicy { statements })
    }

    /// Parses JSON (trustpolicy.json) and validates it.
    pub fn from_json(json: &str) -> Result<Self, PolicyError> {
        let doc: TrustPolicyDocument = serde_json::from_str(json)
            .map_err(|e| PolicyError::Invalid(format!("malformed trust policy: {e}")))?;
        Self::from_document(&doc)
    }

    /// The statement for `repository` (`registry/repository`, no tag or
    /// digest): exact scope match, else the `*` statement.
    pub fn statement_for(&self, repository: &str) -> Result<&Statement, PolicyError> {
        // Scopes are canonical; so must the lookup be, whoever the caller.
        let canonical = crate::reference::canonical_scope(repository);
        let repository = canonical.as_str();
        if !is_valid_scope(repository) {
            return Err(PolicyError::BadReference(format!(
                "artifact URI \"{repository}\" could not be parsed, make sure it is the fully qualified oci artifact URI without the scheme/protocol. e.g domain.com:80/my/repository@sha256:digest"
            )));
        }
        self.statements
            .iter()
            .find(|s| s.registry_scopes.iter().any(|scope| scope == repository))
            .or_else(|| {
                self.statements
                    .iter()
                    .find(|s| s.registry_scopes.iter().any(|scope| scope == WILDCARD))
            })
            .ok_or_else(|| {
                PolicyError::NoApplicableStatement(format!(
                    "artifact \"{repository}\" has no applicable oci trust policy statement. Trust policy applicability for a given artifact is determined by registryScopes. To create a trust policy, see: https://notaryproject.dev/docs/quickstart/#create-a-trust-policy"
                ))
            })
    }
}

const WILDCARD: &str = "*";

fn level_actions(level: Level) -> Actions {
    use Action::{Enforce, Log, Skip};
    let (authenticity, rest) = match level {
        Level::Strict => (Enforce, Enforce),
        Level::Permissive => (Enforce, Log),
        Level::Audit => (Log, Log),
        Level::Skip => (Skip, Skip),
    };
    Actions {
        integrity: if level == Level::Skip { Skip } else { Enforce },
        authenticity,
        authentic_timestamp: rest,
        expiry: rest,
        revocation: rest,
    }
}

fn parse_level(doc: &SignatureVerificationDoc) -> Result<(Level, Actions), String> {
    let level =
        match doc.level.as_str() {
            "" => return Err(
                "signature verification level is empty or missing in the trust policy statement"
                    .into(),
            ),
            "strict" => Level::Strict,
            "permissive" => Level::Permissive,
            "audit" => Level::Audit,
            "skip" => Level::Skip,
            other => return Err(format!("invalid signature verification level \"{other}\"")),
        };
    let mut actions = level_actions(level);
    if level == Level::Skip && !doc.override_.is_empty() {
        return Err(
            "signature verification level \"skip\" can't be used to customize signature verification"
                .into(),
        );
    }
    for (kind, value) in &doc.override_ {
        let slot = match kind.as_str() {
            "integrity" => {
                return Err("\"integrity\" verification can not be overridden in custom signature verification".into())
            }
            "authenticity" => &mut actions.authenticity,
            "authenticTimestamp" => &mut actions.authentic_timestamp,
            "expiry" => &mut actions.expiry,
            "revocation" => &mut actions.revocation,
            other => {
                return Err(format!(
                    "verification type \"{other}\" in custom signature verification is not supported, supported values are [\"integrity\" \"authenticity\" \"authenticTimestamp\" \"expiry\" \"revocation\"]"
                ))
            }
        };
        let action = match value.as_str() {
            "enforce" => Action::Enforce,
            "log" => Action::Log,
            "skip" => Action::Skip,
            other => {
                return Err(format!(
                    "verification action \"{other}\" in custom signature verification is not supported, supported values are [\"enforce\" \"log\" \"skip\"]"
                ))
            }
        };
        if action == Action::Skip && kind != "revocation" {
            return Err(format!(
                "\"{kind}\" verification can not be skipped in custom signature verification"
            ));
        }
        *slot = action;
    }
    Ok((level, actions))
}

fn store_name_is_valid(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

impl Statement {
    fn from_doc(doc: &TrustPolicyStatementDoc) -> Result<Self, String> {
        let name = &doc.name;
        let (level, actions) = parse_level(&doc.signature_verification).map_err(|e| {
            format!("trust policy statement \"{name}\" has invalid signatureVerification: {e}")
        })?;
        let verify_timestamp = match doc.signature_verification.verify_timestamp.as_deref() {
            None | Some("") | Some("always") => VerifyTimestamp::Always,
            Some("afterCertExpiry") => VerifyTimestamp::AfterCertExpiry,
            Some(other) => {
                return Err(format!(
                    "trust policy statement \"{name}\" has invalid signatureVerification: verifyTimestamp must be \"always\" or \"afterCertExpiry\", but got \"{other}\""
                ))
            }
        };
        if level == Level::Skip {
            if !doc.trust_stores.is_empty() || !doc.trusted_identities.is_empty() {
                return Err(format!(
                    "trust policy statement \"{name}\" is set to skip signature verification but configured with trust stores and/or trusted identities, remove them if signature verification needs to be skipped"
                ));
            }
        } else if doc.trust_stores.is_empty() || doc.trusted_identities.is_empty() {
            return Err(format!(
                "trust policy statement \"{name}\" is either missing trust stores or trusted identities, both must be specified"
            ));
        }
        let mut trust_stores = Vec::with_capacity(doc.trust_stores.len());
        for value in &doc.trust_stores {
            let (kind, store) = value.split_once(':').ok_or_else(|| {
                format!(
                    "trust policy statement \"{name}\" has malformed trust store value \"{value}\". The required format is <TrustStoreType>:<TrustStoreName>"
                )
            })?;
            let store_type = StoreType::parse(kind).ok_or_else(|| {
                format!(
                    "trust policy statement \"{name}\" uses an unsupported trust store type \"{kind}\" in trust store value \"{value}\""
                )
            })?;
            if !store_name_is_valid(store) {
                return Err(format!(
                    "trust policy statement \"{name}\" uses an unsupported trust store name \"{store}\" in trust store value \"{value}\". Named store name needs to follow [a-zA-Z0-9_.-]+ format"
                ));
            }
            trust_stores.push(TrustStoreRef {
                store_type,
                name: store.to_string(),
            });
        }
        let trusted_identities =
            TrustedIdentities::parse(&doc.trusted_identities, name).map_err(|e| e.to_string())?;
        Ok(Statement {
            name: name.clone(),
            // Matched against canonical references (see `canonical_scope`).
            registry_scopes: doc
                .registry_scopes
                .iter()
                .map(|s| crate::reference::canonical_scope(s))
                .collect(),
            level,
            actions,
            verify_timestamp,
            trust_stores,
            trusted_identities,
        })
    }
}

/// Registry scope rules across statements (§g.4, last rows).
fn validate_registry_scopes(statements: &[Statement]) -> Result<(), PolicyError> {
    let mut seen = BTreeSet::new();
    for statement in statements {
        let name = &statement.name;
        if statement.registry_scopes.is_empty() {
            return Err(PolicyError::Invalid(format!(
                "oci trust policy statement \"{name}\" has zero registry scopes, it must specify registry scopes with at least one value"
            )));
        }
        let has_wildcard = statement.registry_scopes.iter().any(|s| s == WILDCARD);
        if has_wildcard && statement.registry_scopes.len() > 1 {
            return Err(PolicyError::Invalid(format!(
                "oci trust policy statement \"{name}\" uses wildcard registry scope '*', a wildcard scope cannot be used in conjunction with other scope values"
            )));
        }
        for scope in &statement.registry_scopes {
            if scope != WILDCARD {
                if scope.contains('*') {
                    return Err(PolicyError::Invalid(format!(
                        "registry scope \"{scope}\" with wild card(s) is not valid, make sure it is a fully qualified repository without the scheme, protocol or tag. For example domain.com/my/repository or a local scope like local/myOCILayout"
                    )));
                }
                if !is_valid_scope(scope) {
                    return Err(PolicyError::Invalid(format!(
                        "registry scope \"{scope}\" is not valid, make sure it is a fully qualified repository without the scheme, protocol or tag. For example domain.com/my/repository or a local scope like local/myOCILayout"
                    )));
                }
            }
            if !seen.insert(scope.as_str()) {
                return Err(PolicyError::Invalid(format!(
                    "registry scope \"{scope}\" is present in multiple oci trust policy statements, one registry scope value can only be associated with one statement (scopes are compared by canonical registry name: lowercase, without :443, docker.io for Docker Hub)"
                )));
            }
        }
    }
    Ok(())
}

/// `domain/repository` as notation-go accepts it (distribution's grammar).
pub fn is_valid_scope(scope: &str) -> bool {
    crate::reference::is_domain_and_path(scope)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn member_names_are_exact_and_unique() {
        let statement = |sv: &str| {
            format!(
                r#"{{"version":"1.0","trustPolicies":[{{"name":"p","registryScopes":["*"],"signatureVerification":{sv},"trustStores":["ca:s"],"trustedIdentities":["*"]}}]}}"#
            )
        };
        TrustPolicy::from_json(&statement(
            r#"{"level":"permissive","override":{"revocation":"enforce"}}"#,
        ))
        .unwrap();
        for (sv, says) in [
            // notation-go would apply this override (names fold); refused.
            (
                r#"{"level":"permissive","Override":{"revocation":"enforce"}}"#,
                "unknown field `Override`",
            ),
            (
                r#"{"level":"strict","VerifyTimestamp":"afterCertExpiry"}"#,
                "unknown field `VerifyTimestamp`",
            ),
            (
                r#"{"level":"strict","level":"skip"}"#,
                "duplicate field `level`",
            ),
            (
                r#"{"level":"permissive","override":{"revocation":"enforce","revocation":"skip"}}"#,
                "override names \"revocation\" twice",
            ),
        ] {
            let e = TrustPolicy::from_json(&statement(sv))
                .unwrap_err()
                .to_string();
            assert!(e.contains(says), "{sv}: {e}");
        }
        let e = TrustPolicy::from_json(r#"{"version":"1.0","TrustPolicies":[]}"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("unknown field `TrustPolicies`"), "{e}");
    }

    #[test]
    fn scopes() {
        for ok in [
            "example.com/rep",
            "example.com:8080/rep/rep2",
            "10.10.10.10:8080/rep/rep2",
            "domain/rep",
            "domain:1234/rep",
        ] {
            assert!(is_valid_scope(ok), "{ok}");
        }
        for bad in [
            "example.com",
            "example.com/rep:tag",
            "repository",
            "10.10.10.10",
            "a,b",
            "example.com/*",
            "ex*test",
        ] {
            assert!(!is_valid_scope(bad), "{bad}");
        }
    }

    /// The scope grammar against the two regexes notation-go validates
    /// scopes with (distribution's domain and repository expressions), on
    /// every string over a small alphabet up to a length, and on
    /// registry-like cases.
    #[test]
    fn scopes_agree_with_notation_gos_regexes() {
        let domain = regex_lite::Regex::new(
            r"^(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])(?:(?:\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))+)?(?::[0-9]+)?$",
        )
        .unwrap();
        let repository = regex_lite::Regex::new(
            r"^[a-z0-9]+(?:(?:(?:[._]|__|[-]*)[a-z0-9]+)+)?(?:(?:/[a-z0-9]+(?:(?:(?:[._]|__|[-]*)[a-z0-9]+)+)?)+)?$",
        )
        .unwrap();
        let by_regex = |scope: &str| match scope.split_once('/') {
            Some((d, r)) => domain.is_match(d) && repository.is_match(r),
            None => false,
        };
        let alphabet = ['a', 'B', '0', '.', '_', '-', ':', '/'];
        let mut strings = vec![String::new()];
        let mut checked = 0;
        for _ in 0..6 {
            let mut longer = Vec::new();
            for s in &strings {
                for c in alphabet {
                    let t = format!("{s}{c}");
                    assert_eq!(is_valid_scope(&t), by_regex(&t), "{t:?}");
                    checked += 1;
                    longer.push(t);
                }
            }
            strings = longer;
        }
        assert!(checked > 250_000);
        for case in [
            "myregistry.azurecr.io/team/app",
            "localhost:5000/a__b/c--d/e.f_g",
            "127.0.0.1:46761/x",
            "registry-1.docker.io/library/nginx",
            "-bad.io/x",
            "bad-.io/x",
            "ok.io/a___b",
            "ok.io/a/",
            "ok.io//a",
            "ok.io:/a",
            "ok.io:12ab/a",
            "UPPER.io/lower",
            "upper.io/Lower",
        ] {
            assert_eq!(is_valid_scope(case), by_regex(case), "{case:?}");
        }
    }

    fn actions(level: &str, overrides: &[(&str, &str)]) -> Result<[Action; 5], String> {
        let doc = SignatureVerificationDoc {
            level: level.into(),
            override_: overrides
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            verify_timestamp: None,
        };
        let (_, a) = parse_level(&doc)?;
        Ok([
            a.integrity,
            a.authenticity,
            a.authentic_timestamp,
            a.expiry,
            a.revocation,
        ])
    }

    #[test]
    fn override_matrix() {
        use Action::{Enforce as E, Log as L, Skip as S};
        assert_eq!(actions("strict", &[]).unwrap(), [E, E, E, E, E]);
        assert_eq!(actions("permissive", &[]).unwrap(), [E, E, L, L, L]);
        assert_eq!(actions("audit", &[]).unwrap(), [E, L, L, L, L]);
        assert_eq!(actions("skip", &[]).unwrap(), [S, S, S, S, S]);
        assert_eq!(
            actions("strict", &[("authenticity", "log")]).unwrap(),
            [E, L, E, E, E]
        );
        assert_eq!(
            actions("audit", &[("revocation", "skip")]).unwrap(),
            [E, L, L, L, S]
        );
        assert_eq!(
            actions("audit", &[("authenticity", "enforce")]).unwrap(),
            [E, E, L, L, L]
        );
        assert!(actions("strict", &[("integrity", "log")]).is_err());
        assert!(actions("strict", &[("expiry", "skip")]).is_err());
        assert!(actions("strict", &[("bogus", "log")]).is_err());
        assert!(actions("strict", &[("expiry", "Log")]).is_err());
        assert!(actions("skip", &[("revocation", "log")]).is_err());
        assert!(actions("", &[]).is_err());
        assert!(actions("Strict", &[]).is_err());
    }
}
