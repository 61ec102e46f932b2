//! Notation (Notary Project) signature verification, as notation-go decides it.
//!
//! The crate is pure: no I/O, no clock, no global state. Everything a decision
//! depends on (the artifact, the envelopes, the trust policy, the trust stores,
//! the verification time, revocation material, limits) is an argument, so every
//! verdict is reproducible in a unit test and the same code runs natively
//! (`vns`) and inside the Kubewarden policy (wasm32-wasip1).
//!
//! Module map (one job each):
//! - [`crypto`]: public keys and the signature primitives Notation allows.
//! - [`cert`]: a parsed X.509 certificate with the accessors the rules need.
//! - [`chain`]: code-signing and timestamping chain shape rules.
//! - [`envelope`]: JWS and COSE envelopes: parse and integrity-check.
//! - [`identity`]: `x509.subject` trusted identities (DN parsing, matching).
//! - [`trust_policy`]: the OCI trust policy document, validation, selection.
//! - [`trust_store`]: named trust stores of type `ca`, `signingAuthority`, `tsa`.
//! - [`timestamp`]: RFC 3161 countersignatures.
//! - [`revocation`]: revocation status from caller-supplied material.
//! - [`bundle`]: the signature bundle format (writer and reader rules).
//! - [`reference`]: image references normalised as the container runtime does.
//! - [`verify`]: the whole pipeline, producing a [`verdict::Verdict`].

pub mod ber;
pub mod bundle;
pub mod cert;
pub mod chain;
pub mod crypto;
pub mod envelope;
pub mod identity;
pub mod reference;
pub mod revocation;
pub mod settings;
pub mod timestamp;
pub mod trust_policy;
pub mod trust_store;
pub mod verdict;
pub mod verify;

pub use verdict::{
    Action, CheckOutcome, ReasonCode, SignatureReport, Validation, ValidationKind, Verdict,
};
pub use verify::{Descriptor, Limits, Signature, VerificationInput, Verifier};
