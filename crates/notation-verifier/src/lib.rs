//! Notation (Notary Project) signature verification, as notation-go decides it.
//!
//! The crate is pure: no I/O, no clock, no global state. Everything a decision
//! depends on (the artifact, the envelopes, the trust policy, the trust stores,
//! the verification time, revocation material, limits) is an argument, so every
//! verdict is reproducible in a unit test and the same code runs natively
//! (`vns`) and inside the Kubewarden policy (wasm32-wasip1).
//!
//! ```
//! use chrono::{DateTime, Utc};
//! use notation_verifier::revocation::RevocationMaterial;
//! use notation_verifier::trust_policy::TrustPolicy;
//! use notation_verifier::trust_store::{TrustStores, TrustStoresPem};
//! use notation_verifier::{Descriptor, Limits, Signature, VerificationInput, Verifier};
//!
//! let policy = TrustPolicy::from_json(r#"{"version": "1.0", "trustPolicies": [{
//!     "name": "prod", "registryScopes": ["registry.example.com/app"],
//!     "signatureVerification": {"level": "strict"},
//!     "trustStores": ["ca:acme"], "trustedIdentities": ["*"]}]}"#)?;
//! // In real use the `ca` store "acme" holds the signer's root (PEM).
//! let stores = TrustStores::from_pem(&TrustStoresPem::default())?;
//! let verifier = Verifier::new(policy, stores);
//! let artifact = Descriptor {
//!     media_type: "application/vnd.oci.image.manifest.v1+json".into(),
//!     digest: "sha256:f20c43161d73848408ef247f0ec7111b19fe58ffebc0cbcaa0d2c8bda4967268".into(),
//!     size: 246,
//! };
//! let envelope = br#"{"not": "a signature"}"#;
//! let verdict = verifier.verify(&VerificationInput {
//!     repository: "registry.example.com/app",
//!     descriptor: &artifact,
//!     signatures: &[Signature { media_type: "application/jose+json", envelope }],
//!     time: DateTime::<Utc>::from_timestamp(1_800_000_000, 0).unwrap(),
//!     revocation: &RevocationMaterial::default(),
//!     limits: Limits::default(),
//! });
//! // No signature verified: the verdict says why, with a stable reason code.
//! assert!(!verdict.is_success());
//! let failure = verdict.failure.unwrap();
//! println!("{}: {}", failure.reason, failure.message);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Module map, in the order data flows (each module names only modules
//! above it: no import cycles):
//! - [`json_names`], [`ber`]: encodings (member names of signed JSON as Go
//!   folds them; the BER that RFC 3161 tokens may use).
//! - [`crypto`]: public keys and the signature primitives Notation allows.
//! - [`dn`]: distinguished names as Go renders them, and the [`dn::DnMap`].
//! - [`cert`]: a parsed X.509 certificate with the accessors the rules need.
//! - [`chain`]: code-signing and timestamping chain shape rules.
//! - [`verdict`]: the verdict, its validations and stable reason codes.
//! - [`descriptor`]: the OCI descriptor of what was signed.
//! - [`envelope`]: JWS and COSE envelopes: parse and integrity-check.
//! - [`timestamp`]: RFC 3161 countersignatures.
//! - [`revocation`]: revocation status from caller-supplied material.
//! - [`bundle`]: the signature bundle format (writer and reader rules).
//! - [`identity`]: `x509.subject` trusted identities (parsing, matching).
//! - [`trust_store`]: named trust stores of type `ca`, `signingAuthority`, `tsa`.
//! - [`reference`]: image references normalised as the container runtime does.
//! - [`trust_policy`]: the OCI trust policy document, validation, selection.
//! - [`verify`]: the whole pipeline, producing a [`verdict::Verdict`].
//! - [`settings`]: the policy's settings, compiled into a [`Verifier`].
//! - [`inspect`]: reports for people (the browser inspector, `vns inspect`).
//! - `wasm` (feature `wasm-bindgen`): the browser inspector's bindings.

pub mod ber;
pub mod bundle;
pub mod cert;
pub mod chain;
pub mod crypto;
pub mod descriptor;
pub mod dn;
pub mod envelope;
pub mod identity;
pub mod inspect;
pub mod json_names;
pub mod reference;
pub mod revocation;
pub mod settings;
pub mod timestamp;
pub mod trust_policy;
pub mod trust_store;
pub mod verdict;
pub mod verify;
#[cfg(feature = "wasm-bindgen")]
pub mod wasm;

pub use verdict::{
    Action, CheckOutcome, ReasonCode, SignatureReport, Validation, ValidationKind, Verdict,
};
pub use verify::{Descriptor, Limits, Signature, VerificationInput, Verifier};
