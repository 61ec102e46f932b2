//! The signature bundle format (`shared/spec/signature-bundle.md`): types,
//! writer and reader rules, shared by `vns` (writer) and the policy (reader).
