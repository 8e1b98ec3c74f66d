//! Bad and hostile input: none panics, none hangs, memory stays bounded, and each file gets a
//! finding or a one-line warning naming it while the other files are still scanned.

use crate::common;

use std::time::Duration;

use common::*;
use serde_json::Value;

/// Runs a JSON scan of `dir` with a time limit and checks the run itself held up.
fn scan_json(dir: &std::path::Path) -> (Value, i32) {
    let out = tollgate()
        .args(["scan", "--format", "json", "--fail-on", "never"])
        .arg(dir)
        .timeout(Duration::from_secs(120))
        .output()
        .unwrap();
    let err = stderr(&out);
    assert!(!err.contains("panicked"), "{err}");
    let code = out.status.code().expect("exited normally (not killed)");
    (json(&out), code)
}

/// Largest resident set of any child process waited for so far, in bytes.
fn peak_child_rss() -> u64 {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage writes a rusage struct into the pointer it is given.
    let usage = unsafe {
        libc::getrusage(libc::RUSAGE_CHILDREN, usage.as_mut_ptr());
        usage.assume_init()
    };
    usage.ru_maxrss as u64 * 1024
}

fn parse_errors_of(report: &Value, file: &str) -> Vec<(u64, String)> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| {
            f["rule"] == "manifest-parse-error" && f["file"].as_str().unwrap().ends_with(file)
        })
        .map(|f| {
            (
                f["line"].as_u64().unwrap(),
                f["message"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// A clean manifest next to every bad one: it must still be scanned.
const SURVIVOR: &str = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: survivor, namespace: x-dev}\nspec:\n  template:\n    spec:\n      containers:\n        - name: c\n          image: nginx:latest\n";

fn survivor_found(report: &Value) -> bool {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["rule"] == "image-pinned" && f["object"]["name"] == "survivor")
}

#[test]
fn broken_yaml_points_at_the_error_and_the_rest_is_scanned() {
    let dir = tree(&[
        (
            "broken.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata:\n  a: [unclosed\n",
        ),
        ("ok.yaml", SURVIVOR),
    ]);
    let (report, _) = scan_json(dir.path());
    let errors = parse_errors_of(&report, "broken.yaml");
    assert_eq!(errors.len(), 1, "{report}");
    assert!(errors[0].0 >= 6, "{errors:?}");
    assert!(report["findings"][0]["column"].as_u64().unwrap() >= 1);
    assert!(survivor_found(&report));
}

#[test]
fn binary_file_named_yaml() {
    let mut bytes = b"\x7fELF\x02\x01\x01\x00".to_vec();
    bytes.extend((0..4096u32).map(|i| (i * 7 % 251) as u8));
    let dir = tree(&[("ok.yaml", SURVIVOR)]);
    write(&dir.path().join("program.yaml"), &bytes);
    let (report, _) = scan_json(dir.path());
    let errors = parse_errors_of(&report, "program.yaml");
    assert_eq!(errors.len(), 1);
    assert!(errors[0].1.contains("binary"), "{errors:?}");
    assert!(survivor_found(&report));
}

#[test]
fn invalid_utf8_points_at_the_line() {
    let dir = tree(&[("ok.yaml", SURVIVOR)]);
    write(
        &dir.path().join("latin1.yaml"),
        b"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndata:\n  city: M\xfcnchen\n",
    );
    let (report, _) = scan_json(dir.path());
    let errors = parse_errors_of(&report, "latin1.yaml");
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].0, 5);
    assert!(errors[0].1.contains("UTF-8"));
    assert!(survivor_found(&report));
}

#[test]
fn empty_and_comment_only_files_are_fine() {
    let dir = tree(&[
        ("empty.yaml", ""),
        ("comments.yaml", "# nothing here\n---\n# still nothing\n"),
        ("empty.json", ""),
        ("ok.yaml", SURVIVOR),
    ]);
    let (report, _) = scan_json(dir.path());
    let findings = report["findings"].as_array().unwrap();
    assert!(
        findings.iter().all(|f| f["object"]["name"] == "survivor"),
        "{report}"
    );
    assert!(survivor_found(&report));
    assert_eq!(report["summary"]["files"], 4);
}

#[test]
fn fifty_megabyte_file() {
    // A ConfigMap holding a 50 MB block scalar, then a workload after it.
    let mut text =
        String::from("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: big}\ndata:\n  blob: |\n");
    let line = format!("    {}\n", "x".repeat(99));
    while text.len() < 50 * 1024 * 1024 {
        text.push_str(&line);
    }
    text.push_str("---\n");
    text.push_str(SURVIVOR);
    let dir = tree(&[]);
    write(&dir.path().join("big.yaml"), text.as_bytes());
    let (report, _) = scan_json(dir.path());
    assert!(survivor_found(&report), "{}", report["summary"]);
    assert!(
        peak_child_rss() < 1024 * 1024 * 1024,
        "peak RSS {} MiB",
        peak_child_rss() >> 20
    );
}

#[test]
fn alias_bomb_is_stopped() {
    let mut text = String::from(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: lol}\ndata:\n  a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n",
    );
    for i in 1..=12 {
        let p = i - 1;
        text.push_str(&format!(
            "  a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
        ));
    }
    let dir = tree(&[("bomb.yaml", &text), ("ok.yaml", SURVIVOR)]);
    let (report, _) = scan_json(dir.path());
    let errors = parse_errors_of(&report, "bomb.yaml");
    assert_eq!(errors.len(), 1);
    assert!(errors[0].1.contains("alias"), "{errors:?}");
    assert!(survivor_found(&report));
    assert!(peak_child_rss() < 1024 * 1024 * 1024);
}

#[test]
fn ten_thousand_levels_of_nesting() {
    let mut block = String::new();
    for i in 0..10_000 {
        block.push_str(&" ".repeat(i));
        block.push_str("a:\n");
    }
    let flow = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let flow_maps = format!("{}1{}", "{a: ".repeat(10_000), "}".repeat(10_000));
    let dir = tree(&[
        ("block.yaml", &block),
        ("flow.yaml", &flow),
        ("maps.json", &flow_maps),
        ("ok.yaml", SURVIVOR),
    ]);
    let (report, _) = scan_json(dir.path());
    for file in ["block.yaml", "flow.yaml", "maps.json"] {
        assert_eq!(parse_errors_of(&report, file).len(), 1, "{file}: {report}");
    }
    assert!(survivor_found(&report));
}

#[test]
fn duplicate_keys_are_reported_at_the_second_key() {
    let dir = tree(&[(
        "dup.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n  name: y\n",
    )]);
    let (report, _) = scan_json(dir.path());
    let errors = parse_errors_of(&report, "dup.yaml");
    assert_eq!(errors, vec![(5, "duplicate key `name`".to_string())]);
}

#[cfg(unix)]
#[test]
fn symlink_loop_is_a_warning() {
    let dir = tree(&[("apps/ok.yaml", SURVIVOR)]);
    std::os::unix::fs::symlink("..", dir.path().join("apps/loop")).unwrap();
    std::os::unix::fs::symlink("nowhere.yaml", dir.path().join("apps/dangling.yaml")).unwrap();
    let (report, code) = scan_json(dir.path());
    assert_eq!(code, 0, "walk warnings do not fail the run");
    let warnings: Vec<String> = report["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| format!("{} {}", e["path"].as_str().unwrap_or(""), e["message"]))
        .collect();
    assert!(warnings.iter().any(|w| w.contains("loop")), "{warnings:?}");
    assert!(
        warnings.iter().any(|w| w.contains("dangling.yaml")),
        "{warnings:?}"
    );
    assert!(survivor_found(&report));
}

#[cfg(unix)]
#[test]
fn unreadable_file_is_an_error_that_does_not_stop_the_scan() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tree(&[("secret.yaml", SURVIVOR), ("ok.yaml", SURVIVOR)]);
    let locked = dir.path().join("secret.yaml");
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o000)).unwrap();
    let _socket;
    if std::fs::read(&locked).is_ok() {
        // Root reads anything: use something that cannot be read as a file instead.
        std::fs::remove_file(&locked).unwrap();
        _socket = std::os::unix::net::UnixListener::bind(&locked).unwrap();
    }
    let out = tollgate()
        .args(["scan", "--format", "json"])
        .arg(dir.path().join("ok.yaml"))
        .arg(&locked)
        .timeout(Duration::from_secs(60))
        .output()
        .unwrap();
    let report = json(&out);
    let _ = std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o755));
    assert_eq!(
        out.status.code(),
        Some(2),
        "an unread manifest makes the run untrustworthy"
    );
    let error = &report["errors"][0];
    assert_eq!(error["level"], "error");
    assert!(
        error["path"].as_str().unwrap().ends_with("secret.yaml"),
        "{error}"
    );
    assert!(survivor_found(&report));
}
