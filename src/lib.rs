//! Kubewarden policy: verify Notation signatures of every workload at admission.
