//! The one place that knows where the test data lives: `testdata/` at the
//! root of this repository (the Notation vectors and the Notation CLI's e2e
//! layouts, see `testdata/README.md`). Tests, benches and examples of every
//! crate ask here, so nothing reads outside the clone.

use std::path::{Path, PathBuf};

/// `testdata/` of the workspace this crate was built in. The workspace root
/// is the nearest directory above this crate that holds `Cargo.lock`.
///
/// Panics (this is test support) when the directory is gone, which only
/// happens when the checkout was moved or pruned after the build.
pub fn dir() -> PathBuf {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    let root = here
        .ancestors()
        .find(|d| d.join("Cargo.lock").is_file())
        .unwrap_or_else(|| {
            panic!(
                "no Cargo.lock above {}: build and test from a checkout of the repository",
                here.display()
            )
        });
    let dir = root.join("testdata");
    assert!(
        dir.is_dir(),
        "{} is missing: it ships with the repository (restore it with `git checkout -- testdata`)",
        dir.display()
    );
    dir
}

/// A file or directory under `testdata/`, e.g. `path("notation/synthetic")`.
pub fn path(rel: &str) -> PathBuf {
    dir().join(rel)
}

#[cfg(test)]
mod tests {
    #[test]
    fn finds_the_vectors_of_this_repository() {
        assert!(super::path("notation/synthetic/expected.json").is_file());
        assert!(super::path("notation-e2e/layouts/e2e-valid-signature/index.json").is_file());
    }
}
