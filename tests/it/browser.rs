//! The dispatcher dashboard and the field app in a real browser: headless Chromium (Debian's
//! `chromium`) driven by npm's `playwright-core`, against a real server started here with the
//! district map of 涪口 and the pages of `web/`. The scenarios themselves are in `web/e2e/`
//! (JavaScript, as the pages are); this test starts the server, hands the scripts its address and
//! tokens, moves the server's clock when a script asks (a `CREST-CLOCK advance <ms>` line on
//! stderr, answered `ok` on stdin: patrol gaps come from time passing), and fails when a script
//! fails. Screenshots go to `target/tmp/e2e-artifacts/`.
//!
//! Needs Node.js, `npm ci` in `web/` (run here when `playwright-core` is missing) and Chromium
//! (`apt-get install chromium`; `.ci/run` installs it). Without them the test says so and passes on
//! a developer's machine, and fails when `CI` is set, so CI can never skip it silently.

use crate::harness::*;
use crest::domain::Role;
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

/// The team whose tablet the field app plays in the scripts.
const FIELD_TEAM: &str = "T-05";
/// A hang guard for the whole browser run, never a speed requirement.
const WHOLE_RUN: Duration = Duration::from_secs(20 * 60);

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn chromium() -> PathBuf {
    std::env::var_os("CREST_CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"))
}

/// What is missing to run a browser here, if anything; installs the npm packages when only they
/// are missing.
fn missing_tools(web: &Path) -> Option<String> {
    if std::process::Command::new("node")
        .arg("--version")
        .output()
        .is_err()
    {
        return Some("node is not installed".into());
    }
    if !chromium().is_file() {
        return Some(format!(
            "{} is missing (apt-get install chromium)",
            chromium().display()
        ));
    }
    if !web
        .join("node_modules/playwright-core/package.json")
        .is_file()
    {
        let status = std::process::Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund"])
            .current_dir(web)
            .status();
        if !matches!(status, Ok(s) if s.success()) {
            return Some(format!("npm ci in {} failed: {status:?}", web.display()));
        }
    }
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboard_and_field_app_work_together_in_a_real_browser() {
    let web = root().join("web");
    if let Some(why) = missing_tools(&web) {
        assert!(
            std::env::var_os("CI").is_none(),
            "the browser tests cannot run: {why}"
        );
        eprintln!("SKIPPED the browser tests: {why}");
        return;
    }
    let artifacts = Path::new(env!("CARGO_TARGET_TMPDIR")).join("e2e-artifacts");
    let _ = std::fs::remove_dir_all(&artifacts);
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start_on(&dir.path().join("e2e.db"), |c| {
        c.map = Some(root().join("maps/fukou"));
        c.web = Some(web.clone());
        c.scenarios = root().join("tests/fixtures/e2e");
    })
    .await;
    let tokens = json!({
        "dispatcher": server.token(Role::Dispatcher, None).await,
        "field": server.token(Role::Field, Some(FIELD_TEAM)).await,
        "observer": server.token(Role::Observer, None).await,
    });

    let mut child = tokio::process::Command::new("node")
        .args(["--test-reporter=tap", "e2e/run.mjs"])
        .current_dir(&web)
        .env("CREST_URL", format!("http://{}", server.addr))
        .env("CREST_TOKENS", tokens.to_string())
        .env("CREST_FIELD_TEAM", FIELD_TEAM)
        .env("CREST_ARTIFACTS", &artifacts)
        .env("CREST_CHROMIUM", chromium())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("node starts");
    let mut stdin = child.stdin.take().unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap()).lines();
    let echo = tokio::spawn(async move {
        let mut lines = BufReader::new(stdout).lines();
        let mut all = String::new();
        while let Ok(Some(l)) = lines.next_line().await {
            println!("{l}");
            all.push_str(&l);
            all.push('\n');
        }
        all
    });

    let run = async {
        while let Ok(Some(line)) = stderr.next_line().await {
            if let Some(ms) = line.strip_prefix("CREST-CLOCK advance ") {
                let ms: i64 = ms.trim().parse().expect("a number of milliseconds");
                server.clock.advance(ms);
                server.engine.tick().await.expect("the engine ticks");
                stdin.write_all(b"ok\n").await.unwrap();
                stdin.flush().await.unwrap();
            } else {
                eprintln!("{line}");
            }
        }
        child.wait().await.expect("node ran")
    };
    let status = tokio::time::timeout(WHOLE_RUN, run)
        .await
        .expect("the browser tests finish (hang guard)");
    let output = echo.await.unwrap();
    assert!(
        status.success(),
        "the browser tests failed ({status}); screenshots in {}:\n{output}",
        artifacts.display()
    );
    assert!(
        output.contains("# fail 0") && !output.contains("# pass 0"),
        "every browser test ran and passed:\n{output}"
    );
    server.stop().await;
}
