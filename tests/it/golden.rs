//! The demo's report in every format, byte for byte, against the files in `tests/golden/`:
//! a change that alters any output fails here, whatever the format. After an intended change,
//! `TOLLGATE_BLESS=1 cargo nextest run --test it golden` rewrites the files; say so in the
//! commit message. `bench/report-diff.sh` does the same comparison between two binaries on any
//! tree (the corpus).

use std::path::{Path, PathBuf};

/// `tollgate scan . --fail-on never --format FORMAT` in `fixtures/demo`, compared with
/// `tests/golden/FILE` (or written there with `TOLLGATE_BLESS=1`).
fn check(format: &str, file: &str) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let output = crate::common::tollgate()
        .current_dir(root.join("fixtures/demo"))
        .args(["scan", ".", "--fail-on", "never", "--format", format])
        .output()
        .unwrap();
    assert_eq!(
        output.status.code(),
        Some(0),
        "{format}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let golden: PathBuf = root.join("tests/golden").join(file);
    if std::env::var_os("TOLLGATE_BLESS").is_some_and(|value| value == "1") {
        std::fs::create_dir_all(golden.parent().unwrap()).unwrap();
        std::fs::write(&golden, &output.stdout).unwrap();
        return;
    }
    let expected = std::fs::read(&golden)
        .unwrap_or_else(|e| panic!("{}: {e}; TOLLGATE_BLESS=1 creates it", golden.display()));
    if expected == output.stdout {
        return;
    }
    let expected = String::from_utf8_lossy(&expected);
    let actual = String::from_utf8_lossy(&output.stdout);
    let (line, (want, got)) = expected
        .lines()
        .chain(std::iter::repeat("<end of output>"))
        .zip(actual.lines().chain(std::iter::repeat("<end of output>")))
        .enumerate()
        .find(|(_, (want, got))| want != got)
        .unwrap_or((0, ("(same lines)", "(different line ends)")));
    panic!(
        "the {format} report of the demo differs from {} at line {}:\n  expected: {want}\n  actual:   {got}\n\
         If the change is intended, rewrite the golden files with TOLLGATE_BLESS=1.",
        golden.display(),
        line + 1
    );
}

#[test]
fn json() {
    check("json", "demo.json");
}

#[test]
fn sarif() {
    check("sarif", "demo.sarif");
}

#[test]
fn human() {
    check("human", "demo.txt");
}

#[test]
fn gitlab() {
    check("gitlab", "demo.gitlab.json");
}

#[test]
fn junit() {
    check("junit", "demo.junit.xml");
}

#[test]
fn github() {
    check("github", "demo.github.txt");
}
