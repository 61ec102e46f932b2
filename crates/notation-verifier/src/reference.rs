//! Image references normalised as the container runtime does.
