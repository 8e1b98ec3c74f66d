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

/// Every line a report or the console showed, with what a leak would look like.
fn scan_all_formats(dir: &std::path::Path, env: &[(&str, &str)]) -> (String, Value, i32) {
    let mut shown = String::new();
    let mut report = Value::Null;
    let mut code = 0;
    for format in ["human", "json", "sarif", "github", "gitlab", "junit"] {
        let mut cmd = tollgate();
        cmd.args(["scan", "--format", format, "--fail-on", "never"])
            .arg(dir)
            .timeout(Duration::from_secs(120));
        for (k, v) in env {
            cmd.env(k, v);
        }
        let out = cmd.output().unwrap();
        let err = stderr(&out);
        assert!(!err.contains("panicked"), "{err}");
        code = out.status.code().expect("exited normally");
        shown.push_str(&stdout(&out));
        shown.push_str(&err);
        if format == "json" {
            report = json(&out);
        }
    }
    (shown, report, code)
}

fn notices_of(report: &Value) -> Vec<String> {
    report["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            format!(
                "{} {} {}",
                e["level"].as_str().unwrap_or(""),
                e["path"].as_str().unwrap_or(""),
                e["message"]
            )
        })
        .collect()
}

#[cfg(unix)]
#[test]
fn symlinks_leaving_the_scanned_tree_are_not_followed() {
    let outside = tree(&[
        (
            "private.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: outside}\ndata:\n  key: [OUTSIDE-MARKER-41\n",
        ),
        ("dir/also.yaml", "kind: [OUTSIDE-MARKER-42\n"),
    ]);
    let dir = tree(&[("apps/ok.yaml", SURVIVOR), ("apps/inner.yaml", SURVIVOR)]);
    let link = |target: &std::path::Path, name: &str| {
        std::os::unix::fs::symlink(target, dir.path().join(name)).unwrap();
    };
    link(std::path::Path::new("/proc/self/environ"), "apps/env.yaml");
    // Reports a size of 0 and never ends.
    link(
        std::path::Path::new("/proc/self/pagemap"),
        "apps/pagemap.yaml",
    );
    link(&outside.path().join("private.yaml"), "apps/private.yaml");
    link(&outside.path().join("dir"), "apps/elsewhere");
    // A link that stays inside the tree is followed.
    link(&dir.path().join("apps/inner.yaml"), "apps/inside.yaml");
    let token = "CI-TOKEN-c0ffee-should-never-show";
    let (shown, report, code) = scan_all_formats(dir.path(), &[("TOLLGATE_PROBE_TOKEN", token)]);
    assert!(
        !shown.contains(token),
        "process environment leaked:\n{shown}"
    );
    assert!(
        !shown.contains("OUTSIDE-MARKER"),
        "file outside the tree shown:\n{shown}"
    );
    let notices = notices_of(&report);
    for name in ["env.yaml", "pagemap.yaml", "private.yaml", "elsewhere"] {
        assert!(
            notices
                .iter()
                .any(|n| n.starts_with("warning") && n.contains(name) && n.contains("link")),
            "{name}: {notices:?}"
        );
    }
    assert_eq!(code, 0, "a link not followed is a warning");
    assert!(survivor_found(&report));
    let files: Vec<&str> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| f["file"].as_str())
        .collect();
    assert!(
        files.iter().any(|f| f.ends_with("inside.yaml")),
        "{files:?}"
    );
}

#[cfg(unix)]
#[test]
fn kernel_pseudo_files_and_fifos_are_never_read() {
    let dir = tree(&[("ok.yaml", SURVIVOR)]);
    let fifo = dir.path().join("pipe.yaml");
    let c_path = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: mkfifo reads a NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o644) }, 0);
    // Endless, and reported as 0 bytes long.
    let (report, code) = scan_json(dir.path());
    assert_eq!(code, 0);
    assert!(
        notices_of(&report)
            .iter()
            .any(|n| n.contains("pipe.yaml") && n.contains("regular")),
        "{report}"
    );
    assert!(survivor_found(&report));
    for named in ["/proc/self/environ", "/proc/self/pagemap", "/dev/zero"] {
        let out = tollgate()
            .args(["scan", "--format", "json"])
            .arg(named)
            .arg(dir.path().join("ok.yaml"))
            .env("TOLLGATE_PROBE_TOKEN", "CI-TOKEN-c0ffee")
            .timeout(Duration::from_secs(60))
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{named}");
        assert!(!stdout(&out).contains("CI-TOKEN"), "{named}");
        assert!(!stderr(&out).contains("CI-TOKEN"), "{named}");
        assert!(survivor_found(&json(&out)), "{named}");
    }
}

const PROBE_SECRET: &str = "apiVersion: v1\nkind: Secret\nmetadata: {name: db, namespace: shop-prod}\nstringData:\n  password: hunter2-probe-value\n";

#[test]
fn policies_cannot_carry_secret_values_out() {
    let dir = tree(&[
        ("manifests/secret.yaml", PROBE_SECRET),
        (
            "policy/leak.rego",
            r#"package main
import rego.v1

deny contains msg if {
	input.kind == "Secret"
	some key, value in input.stringData
	print("value", value, strings.reverse(value))
	msg := sprintf("%s: %s %s", [key, strings.reverse(value), base64.encode(value)])
}
"#,
        ),
    ]);
    let out = tollgate()
        .args(["scan", "--format", "json", "--fail-on", "never", "--policy"])
        .arg(dir.path().join("policy"))
        .arg(dir.path().join("manifests"))
        .timeout(Duration::from_secs(120))
        .output()
        .unwrap();
    let shown = format!("{}{}", stdout(&out), stderr(&out));
    let value = "hunter2-probe-value";
    let reversed: String = value.chars().rev().collect();
    for leak in [value, reversed.as_str(), "aHVudGVyMi1wcm9iZS12YWx1ZQ"] {
        assert!(!shown.contains(leak), "`{leak}` leaked:\n{shown}");
    }
    // The policy ran, on a Secret whose values it does not see.
    assert!(stdout(&out).contains("password: "), "{}", stdout(&out));
}

#[test]
fn a_policy_asking_for_a_huge_range_is_stopped_and_the_run_incomplete() {
    let dir = tree(&[
        ("manifests/ok.yaml", SURVIVOR),
        (
            "policy/range.rego",
            r#"package main
import rego.v1

deny contains msg if {
	n := count(numbers.range(1, 100000000))
	msg := sprintf("%d", [n])
}
"#,
        ),
    ]);
    let out = tollgate()
        .args(["scan", "--format", "json", "--policy"])
        .arg(dir.path().join("policy"))
        .arg(dir.path().join("manifests"))
        .timeout(Duration::from_secs(120))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let report = json(&out);
    assert!(
        notices_of(&report)
            .iter()
            .any(|n| n.starts_with("error") && n.contains("resource limit")),
        "{report}"
    );
    assert!(
        peak_child_rss() < 1024 * 1024 * 1024,
        "peak RSS {} MiB",
        peak_child_rss() >> 20
    );
}

/// Runs a scan in `format` and returns stdout, stderr and how long it took.
fn timed_scan(dir: &std::path::Path, format: &str) -> (String, String, Duration) {
    let started = std::time::Instant::now();
    let out = tollgate()
        .args([
            "scan",
            "--format",
            format,
            "--fail-on",
            "never",
            "--color",
            "never",
        ])
        .arg(dir)
        .timeout(Duration::from_secs(240))
        .output()
        .unwrap();
    let took = started.elapsed();
    let err = stderr(&out);
    assert!(!err.contains("panicked"), "{err}");
    assert!(out.status.code().is_some(), "killed after {took:?}");
    (stdout(&out), err, took)
}

#[test]
fn an_unparsed_secret_is_masked_in_snippets() {
    let dir = tree(&[
        (
            "broken-secret.yaml",
            "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\n  namespace: shop-prod\nstringData:\n  password: hunter2-in-a-broken-file\n  token: [unclosed-but-secret-7\n",
        ),
        (
            // The kind itself is what fails to parse: the data lines must not show either.
            "no-kind.yaml",
            "apiVersion: v1\nkind: [Secret\ndata:\n  password: aHVudGVyMi1iYXNlNjQ=\n",
        ),
        (
            "one-line.json",
            r#"{"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "j"}, "data": {"p": "c2VjcmV0LWpzb24="}, oops}"#,
        ),
    ]);
    for format in ["human", "github"] {
        let (out, err, _) = timed_scan(dir.path(), format);
        for value in [
            "hunter2-in-a-broken-file",
            "unclosed-but-secret-7",
            "aHVudGVyMi1iYXNlNjQ=",
            "c2VjcmV0LWpzb24=",
        ] {
            assert!(
                !out.contains(value) && !err.contains(value),
                "{format} shows {value}:\n{out}"
            );
        }
    }
    let (out, _, _) = timed_scan(dir.path(), "human");
    assert!(out.contains("password: ***"), "{out}");
}

#[test]
fn terminal_escapes_in_names_and_strings_are_made_visible() {
    let dir = tree(&[(
        "evil\u{1b}]0;pwned\u{7}.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: \"web\\e[2J\\e[31m\", namespace: x-dev}\nspec:\n  template:\n    spec:\n      containers:\n        - name: \"c\\u009b1m\"\n          image: nginx:latest\n",
    )]);
    for format in ["human", "github"] {
        let (out, err, _) = timed_scan(dir.path(), format);
        for raw in ['\u{1b}', '\u{7}', '\u{9b}'] {
            assert!(
                !out.contains(raw) && !err.contains(raw),
                "{format} prints {raw:?} raw:\n{out}"
            );
        }
        assert!(out.contains("\\x1b"), "{format}:\n{out}");
    }
}

#[test]
fn human_report_is_linear_in_findings_per_file() {
    // 3,000 Deployments in one 1 MB file, several findings each.
    let mut text = String::new();
    for i in 0..3000 {
        text.push_str(&format!(
            "---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web-{i}\n  namespace: x-dev\nspec:\n  template:\n    spec:\n      containers:\n        - name: c\n          image: nginx:latest\n          # padding padding padding padding padding padding padding padding padding\n          # padding padding padding padding padding padding padding padding padding\n"
        ));
    }
    let dir = tree(&[("many.yaml", &text)]);
    let (out, _, took) = timed_scan(dir.path(), "human");
    assert!(
        out.contains("web-2999"),
        "{}",
        &out[out.len().saturating_sub(500)..]
    );
    assert!(took < Duration::from_secs(90), "human report took {took:?}");
}

#[test]
fn tens_of_thousands_of_duplicate_keys_finish() {
    // 100k in the probe (release build); 30k keep this test short in debug builds, where
    // rendering each diagnostic costs a millisecond, while a quadratic report would take
    // many minutes.
    let mut text = String::from("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: dup}\ndata:\n");
    for _ in 0..30_000 {
        text.push_str("  k: v\n");
    }
    let dir = tree(&[("dup.yaml", &text)]);
    let (out, _, took) = timed_scan(dir.path(), "human");
    assert!(
        out.contains("duplicate key"),
        "{}",
        &out[..out.len().min(500)]
    );
    assert!(took < Duration::from_secs(120), "took {took:?}");
}

#[test]
fn under_indented_quoted_scalars_do_not_reparse_without_bound() {
    // Every quoted scalar's continuation line is indented less than its key: each one would
    // be fixed by parsing the whole (large) document again.
    let mut text = String::from("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: q}\ndata:\n");
    let padding = format!("  pad: \"{}\"\n", "p".repeat(4000));
    let mut i = 0;
    while text.len() < 12 * 1024 * 1024 {
        if i % 4 == 0 {
            text.push_str(&format!("  k{i}: 'first line\n second line'\n"));
        }
        text.push_str(&padding.replace("pad", &format!("pad{i}")));
        i += 1;
    }
    let dir = tree(&[("quoted.yaml", &text), ("ok.yaml", SURVIVOR)]);
    let started = std::time::Instant::now();
    let (report, _) = scan_json(dir.path());
    let took = started.elapsed();
    assert!(survivor_found(&report));
    assert!(took < Duration::from_secs(60), "took {took:?}");
}

#[test]
fn output_paths_that_collide_or_overwrite_inputs_are_refused() {
    let dir = tree(&[
        ("apps/web.yaml", SURVIVOR),
        ("report.json", "{\"version\": 1}\n"),
    ]);
    let apps = dir.path().join("apps");
    let run = |args: &[&std::ffi::OsStr]| {
        tollgate()
            .args(["scan", "--fail-on", "never"])
            .args(args)
            .timeout(Duration::from_secs(60))
            .output()
            .unwrap()
    };
    let same = dir.path().join("out.json");
    let out = run(&[
        apps.as_os_str(),
        "--format".as_ref(),
        "json".as_ref(),
        "--output".as_ref(),
        same.as_os_str(),
        "--format".as_ref(),
        "sarif".as_ref(),
        "--output".as_ref(),
        same.as_os_str(),
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("two reports"), "{}", stderr(&out));

    let manifest = apps.join("web.yaml");
    let out = run(&[
        apps.as_os_str(),
        "--format".as_ref(),
        "json".as_ref(),
        "--output".as_ref(),
        manifest.as_os_str(),
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("manifest this scan reads"),
        "{}",
        stderr(&out)
    );
    assert_eq!(std::fs::read_to_string(&manifest).unwrap(), SURVIVOR);

    // A report of an earlier run in the tree is no manifest: it may be written again.
    let report = dir.path().join("report.json");
    let out = run(&[
        dir.path().as_os_str(),
        "--format".as_ref(),
        "json".as_ref(),
        "--output".as_ref(),
        report.as_os_str(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        std::fs::read_to_string(&report)
            .unwrap()
            .contains("survivor")
    );
}

#[test]
fn an_incomplete_run_says_so_in_sarif_and_exits_2() {
    let dir = tree(&[
        ("manifests/ok.yaml", SURVIVOR),
        (
            "policy/range.rego",
            "package main\nimport rego.v1\n\ndeny contains \"x\" if count(numbers.range(1, 50000000)) > 0\n",
        ),
    ]);
    let sarif = dir.path().join("run.sarif");
    let out = tollgate()
        .args(["scan", "--format", "sarif", "--output"])
        .arg(&sarif)
        .arg("--policy")
        .arg(dir.path().join("policy"))
        .arg(dir.path().join("manifests"))
        .timeout(Duration::from_secs(120))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let report: Value = serde_json::from_str(&std::fs::read_to_string(&sarif).unwrap()).unwrap();
    assert_eq!(
        report["runs"][0]["invocations"][0]["executionSuccessful"],
        false
    );
}

#[cfg(unix)]
#[test]
fn an_unreadable_directory_makes_the_run_incomplete() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tree(&[("ok.yaml", SURVIVOR), ("locked/hidden.yaml", SURVIVOR)]);
    let locked = dir.path().join("locked");
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o000)).unwrap();
    let readable_anyway = std::fs::read_dir(&locked).is_ok();
    let (report, code) = scan_json(dir.path());
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o755)).unwrap();
    if readable_anyway {
        // Root reads any directory; the classification is unit-tested in source::files.
        return;
    }
    assert_eq!(code, 2, "{report}");
    assert!(
        notices_of(&report)
            .iter()
            .any(|n| n.starts_with("error") && n.contains("locked")),
        "{report}"
    );
}
