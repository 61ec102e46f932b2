//! `vns` against a registry with token authentication, as ACR runs: Debian's
//! docker-registry with `auth: token`, trusting the testkit's token service,
//! which issues JWTs for the basic grant (user and password) and the OAuth2
//! refresh-token grant (the `identitytoken` of `az acr login`, or the token
//! of `az acr login --expose-token` given as --password).
//!
//! Test content is pushed through a second, open docker-registry serving
//! the same storage directory (the testkit's push helpers speak no token
//! auth); everything `vns` does goes through the guarded one.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use base64::Engine;
use common::text;
use serde_json::json;
use testkit::layout::{e2e_layout, push_layout};
use testkit::registry::{RegistryConfig, TestRegistry, TokenAuth};
use testkit::token_service::{Grant, TokenService};

const ACR_USER: &str = "00000000-0000-0000-0000-000000000000";

struct Fixture {
    open: TestRegistry,
    guarded: TestRegistry,
    tokens: TokenService,
    dir: tempfile::TempDir,
}

impl Fixture {
    fn new() -> Self {
        let open = TestRegistry::spawn().expect("start the open registry");
        let tokens = TokenService::start("vns-token-test").expect("start the token service");
        let guarded = TestRegistry::spawn_with(&RegistryConfig {
            token_auth: Some(TokenAuth::of(&tokens)),
            storage: open.storage_dir().map(Path::to_path_buf),
            ..RegistryConfig::default()
        })
        .expect("start the token-auth registry");
        Fixture {
            open,
            guarded,
            tokens,
            dir: tempfile::tempdir().unwrap(),
        }
    }

    /// A signed image (the Notation e2e layout), pushed through the open
    /// registry; returns its path (`test-…/name`) and tag `v1`.
    fn signed_image(&self) -> String {
        let repo = self.open.unique_repository("signed");
        push_layout(&e2e_layout("e2e-valid-signature"), &repo).expect("push the image");
        let (_, path) = repo.split_once('/').unwrap();
        format!("{path}:v1")
    }

    fn guarded(&self, path: &str) -> String {
        format!("{}/{path}", self.guarded.address())
    }

    fn open(&self, path: &str) -> String {
        format!("{}/{path}", self.open.address())
    }

    fn settings(&self) -> PathBuf {
        let pem =
            std::fs::read_to_string(testdata::path("notation-e2e/certs/upstream/e2e.crt")).unwrap();
        let settings = json!({
            "trustPolicy": {"version": "1.0", "trustPolicies": [{
                "name": "e2e", "registryScopes": ["*"],
                "signatureVerification": {"level": "strict"},
                "trustStores": ["ca:e2e"], "trustedIdentities": ["*"]}]},
            "trustStores": {"ca": {"e2e": pem}},
        });
        let path = self.dir.path().join("settings.json");
        std::fs::write(&path, settings.to_string()).unwrap();
        path
    }

    /// A Docker config directory holding `config` as config.json.
    fn docker_config(&self, name: &str, config: serde_json::Value) -> PathBuf {
        let dir = self.dir.path().join(name);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("config.json"), config.to_string()).unwrap();
        dir
    }

    /// The digest of the image `path` (`repo:tag`), read through the open twin.
    fn digest_of(&self, path: &str) -> String {
        let (repo, tag) = path.split_once(':').unwrap();
        self.manifest_digest(&self.open(repo), tag)
    }

    /// The digest a reference names in `repo` (`host/path`), via the open twin.
    fn manifest_digest(&self, repo: &str, reference: &str) -> String {
        let (host, path) = repo.split_once('/').unwrap();
        ureq::get(&format!("http://{host}/v2/{path}/manifests/{reference}"))
            .set(
                "Accept",
                "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json",
            )
            .call()
            .unwrap()
            .header("Docker-Content-Digest")
            .unwrap()
            .to_string()
    }

    fn grants(&self) -> Vec<(Grant, bool)> {
        self.tokens
            .requests()
            .into_iter()
            .map(|r| (r.grant, r.issued))
            .collect()
    }
}

/// Runs vns with `DOCKER_CONFIG` = `docker_config` and no VNS_* credentials.
fn vns(docker_config: &Path, args: &[&str], path_prefix: Option<&Path>) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_vns"));
    command
        .args(args)
        .env("DOCKER_CONFIG", docker_config)
        .env_remove("VNS_USERNAME")
        .env_remove("VNS_PASSWORD");
    if let Some(prefix) = path_prefix {
        let path = std::env::var("PATH").unwrap_or_default();
        command.env("PATH", format!("{}:{path}", prefix.display()));
    }
    command.output().expect("run vns")
}

fn verify(f: &Fixture, config: &Path, image: &str, extra: &[&str]) -> Output {
    let settings = f.settings();
    let mut args = vec!["verify", image, "--settings", settings.to_str().unwrap()];
    args.extend_from_slice(extra);
    vns(config, &args, None)
}

#[test]
fn the_identity_token_of_az_acr_login_is_exchanged_for_attach_and_verify() {
    let f = Fixture::new();
    let path = f.signed_image();
    let image = f.guarded(&path);
    let refresh = f
        .tokens
        .issue_refresh_token("ci", &["pull", "push", "delete"]);
    // What `az acr login` writes: the ACR token user with an empty
    // password, and the refresh token as identitytoken.
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{ACR_USER}:"));
    let config = f.docker_config(
        "acr-login",
        json!({"auths": {f.guarded.address(): {"auth": auth, "identitytoken": refresh}}}),
    );

    let o = vns(&config, &["attach", &image, "--no-revocation"], None);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).starts_with("bundled"), "{}", text(&o));
    let o = verify(&f, &config, &image, &[]);
    assert!(o.status.success(), "{}", text(&o));

    let grants = f.grants();
    assert!(
        grants.contains(&(Grant::RefreshToken, true)),
        "no refresh-token grant: {grants:?}"
    );
    assert!(
        grants.iter().all(|(g, _)| *g == Grant::RefreshToken),
        "only the refresh-token grant is used: {grants:?}"
    );
    // Pushing needed a token scoped to push.
    assert!(
        f.tokens
            .requests()
            .iter()
            .any(|r| r.scopes.iter().any(|s| s.ends_with(":pull,push"))),
        "{:?}",
        f.tokens.requests()
    );

    // A stale bundle under the tag (written through the open twin) is
    // replaced, and its manifest deleted with a token for the delete action.
    let tag = format!("{}.notation", f.digest_of(&path).replace(':', "-"));
    let open_repo = f.open(path.split_once(':').unwrap().0);
    let mut stale = testkit::publish::get_json(&open_repo, &tag)
        .unwrap()
        .unwrap();
    stale["layers"] = json!([]);
    testkit::publish::put_json(&open_repo, &tag, &stale).unwrap();
    let stale_digest = f.manifest_digest(&open_repo, &tag);
    let o = vns(&config, &["attach", &image, "--no-revocation"], None);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains(&format!("deleted the superseded bundle {stale_digest}")),
        "{}",
        text(&o)
    );
    assert!(
        f.tokens
            .requests()
            .iter()
            .any(|r| r.grant == Grant::RefreshToken
                && r.scopes.iter().any(|s| s.ends_with(":delete"))),
        "{:?}",
        f.tokens.requests()
    );

    // The same refresh token from a credential helper (Docker's convention:
    // the user name `<token>` marks the secret as an identity token).
    let bin = f.dir.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let helper = bin.join("docker-credential-vnstest");
    std::fs::write(
        &helper,
        format!(
            "#!/bin/sh\nread server\necho '{{\"ServerURL\":\"'$server'\",\"Username\":\"<token>\",\"Secret\":\"{refresh}\"}}'\n"
        ),
    )
    .unwrap();
    std::fs::set_permissions(&helper, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let config = f.docker_config(
        "helper",
        json!({"credHelpers": {f.guarded.address(): "vnstest"}}),
    );
    let settings = f.settings();
    let before = f.tokens.requests().len();
    let o = vns(
        &config,
        &["verify", &image, "--settings", settings.to_str().unwrap()],
        Some(&bin),
    );
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        f.tokens.requests()[before..]
            .iter()
            .any(|r| r.grant == Grant::RefreshToken && r.issued),
        "the helper's token was not exchanged"
    );
}

#[test]
fn an_acr_token_given_as_password_is_a_refresh_token() {
    let f = Fixture::new();
    let path = f.signed_image();
    let none = f.docker_config("none", json!({}));
    // The bundle, attached through the open twin.
    let o = vns(&none, &["attach", &f.open(&path), "--no-revocation"], None);
    assert!(o.status.success(), "{}", text(&o));

    // A scope-mapped read token (what the policy server's pull secret holds).
    let read_only = f.tokens.issue_refresh_token("reader", &["pull"]);
    let image = f.guarded(&path);
    let creds = ["--username", ACR_USER, "--password", read_only.as_str()];
    let o = verify(&f, &none, &image, &creds);
    assert!(o.status.success(), "{}", text(&o));
    let grants = f.grants();
    assert!(
        !grants.is_empty() && grants.iter().all(|g| *g == (Grant::RefreshToken, true)),
        "{grants:?}"
    );

    // It may read but not write: attaching a new image's bundle is
    // refused, saying by whom and why.
    let other = f.guarded(&f.signed_image());
    let mut args = vec!["attach", other.as_str(), "--no-revocation"];
    args.extend_from_slice(&creds);
    let o = vns(&none, &args, None);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    let out = text(&o);
    assert!(out.contains(f.guarded.address()), "{out}");
    assert!(out.contains("refused the refresh token"), "{out}");
    assert!(out.contains("pushing needs push permission"), "{out}");

    // A token the service does not know fails the exchange, clearly.
    let o = verify(
        &f,
        &none,
        &image,
        &["--username", ACR_USER, "--password", "rt-not-issued"],
    );
    assert!(!o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("invalid_grant"), "{}", text(&o));
}

#[test]
fn user_and_password_get_tokens_by_the_basic_grant() {
    let f = Fixture::new();
    f.tokens
        .add_user("alice", "s3cret", &["pull", "push", "delete"]);
    let image = f.guarded(&f.signed_image());
    let none = f.docker_config("none", json!({}));
    let creds = ["--username", "alice", "--password", "s3cret"];
    let mut args = vec!["attach", image.as_str(), "--no-revocation"];
    args.extend_from_slice(&creds);
    let o = vns(&none, &args, None);
    assert!(o.status.success(), "{}", text(&o));
    let o = verify(&f, &none, &image, &creds);
    assert!(o.status.success(), "{}", text(&o));
    let grants = f.grants();
    assert!(
        grants.contains(&(
            Grant::Basic {
                user: "alice".into()
            },
            true
        )),
        "{grants:?}"
    );

    // From the Docker config too (`docker login` writes `auth`).
    let auth = base64::engine::general_purpose::STANDARD.encode("alice:s3cret");
    let config = f.docker_config(
        "docker-login",
        json!({"auths": {f.guarded.address(): {"auth": auth}}}),
    );
    let o = verify(&f, &config, &image, &[]);
    assert!(o.status.success(), "{}", text(&o));
}

#[test]
fn anonymous_access_fails_naming_the_registry_and_how_to_log_in() {
    let f = Fixture::new();
    let path = f.signed_image();
    let none = f.docker_config("none", json!({}));
    let o = vns(&none, &["attach", &f.open(&path), "--no-revocation"], None);
    assert!(o.status.success(), "{}", text(&o));
    let image = f.guarded(&path);

    for o in [
        verify(&f, &none, &image, &[]),
        vns(&none, &["attach", &image, "--no-revocation"], None),
    ] {
        assert!(!o.status.success(), "{}", text(&o));
        let out = text(&o);
        assert!(out.contains(f.guarded.address()), "{out}");
        assert!(
            out.contains("no credentials for") && out.contains("docker login"),
            "{out}"
        );
        assert!(out.contains("az acr login"), "{out}");
        assert!(!out.contains("panicked"), "{out}");
    }
}
