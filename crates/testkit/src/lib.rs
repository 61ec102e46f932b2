//! Test support for the policy, `vns` and benchmarks.
