//! `--format html` in a real headless browser (Debian's `chromium`, installed by `.ci/run`):
//! the page renders, its script runs, every finding has a row, the filters (driven through the
//! address fragment, as a shared link would) hide exactly what they should, and the page makes
//! no network request: Chromium runs behind a loopback proxy that records every connection,
//! with loopback itself routed through it.
//!
//! Without a browser the test is skipped locally, and fails when `CI=true`.
//! `TOLLGATE_UPDATE_SCREENSHOT=1` rewrites `docs/html-report.png` from the demo report.

use std::io::Read;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::common::{self, tollgate};
use crate::support;

fn chromium() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("TOLLGATE_CHROMIUM") {
        return Some(PathBuf::from(path));
    }
    let path = std::env::var_os("PATH")?;
    [
        "chromium",
        "chromium-browser",
        "google-chrome",
        "google-chrome-stable",
    ]
    .iter()
    .flat_map(|name| std::env::split_paths(&path).map(move |dir| dir.join(name)))
    .find(|candidate| candidate.is_file())
}

/// The browser, or None when the test may be skipped (never in CI).
fn browser_or_skip() -> Option<PathBuf> {
    match chromium() {
        Some(path) => Some(path),
        None if common::in_ci() => {
            panic!("CI=true but no chromium in PATH: .ci/run installs Debian's `chromium`")
        }
        None => {
            eprintln!("skipped: no chromium in PATH (install Debian's `chromium`)");
            None
        }
    }
}

/// What Chromium asks for on its own, whatever the page (seen with `about:blank`): the
/// default search engine's preconnect and Google account / time services. Everything else
/// through the proxy is the page's.
const BROWSER_OWN: [&str; 3] = [
    "CONNECT www.google.com:443 ",
    "CONNECT accounts.google.com:443 ",
    "GET http://clients2.google.com/",
];

/// Requests that did not come from the browser itself.
fn page_requests(seen: &Mutex<Vec<String>>) -> Vec<String> {
    seen.lock()
        .unwrap()
        .iter()
        .filter(|line| !line.trim().is_empty() && *line != "(nothing)")
        .filter(|line| !BROWSER_OWN.iter().any(|own| line.starts_with(own)))
        .cloned()
        .collect()
}

/// A proxy that answers nothing and records the first line of every connection.
fn recording_proxy() -> (u16, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut stream = stream;
            let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
            let mut buffer = [0u8; 512];
            let n = stream.read(&mut buffer).unwrap_or(0);
            let text = String::from_utf8_lossy(&buffer[..n]);
            record
                .lock()
                .unwrap()
                .push(text.lines().next().unwrap_or("(nothing)").to_string());
        }
    });
    (port, seen)
}

struct Browser {
    binary: PathBuf,
    profile: tempfile::TempDir,
    proxy_port: u16,
}

impl Browser {
    fn new(binary: PathBuf, proxy_port: u16) -> Browser {
        Browser {
            binary,
            profile: tempfile::tempdir().unwrap(),
            proxy_port,
        }
    }

    /// Runs Chromium headless on `url` with extra `args`; returns its standard output.
    fn run(&self, url: &str, args: &[&str]) -> String {
        let mut child = Command::new(&self.binary)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--no-first-run",
                "--disable-sync",
                "--disable-default-apps",
                "--hide-scrollbars",
                "--virtual-time-budget=5000",
                // Fewer requests of the browser's own (time, sign-in, search preconnect).
                "--no-pings",
                "--dns-prefetch-disable",
                "--disable-domain-reliability",
                "--disable-client-side-phishing-detection",
                "--disable-features=NetworkTimeServiceQuerying,OptimizationHints,Translate,\
                 MediaRouter,DialMediaRouteProvider,AutofillServerCommunication,\
                 CertificateTransparencyComponentUpdater,PreconnectToSearch,NetworkPrediction",
                "--gaia-url=http://127.0.0.1:9",
            ])
            .arg(format!("--user-data-dir={}", self.profile.path().display()))
            .arg(format!(
                "--proxy-server=http://127.0.0.1:{}",
                self.proxy_port
            ))
            // Loopback too goes through the proxy, so nothing escapes the count.
            .arg("--proxy-bypass-list=<-loopback>")
            .args(args)
            .arg(url)
            .env("HOME", self.profile.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromium starts");
        let mut stdout = child.stdout.take().unwrap();
        let reader = std::thread::spawn(move || {
            let mut out = String::new();
            let _ = stdout.read_to_string(&mut out);
            out
        });
        let started = Instant::now();
        loop {
            if child.try_wait().unwrap().is_some() {
                break;
            }
            if started.elapsed() > Duration::from_secs(90) {
                let _ = child.kill();
                panic!("chromium did not finish within 90 s");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        reader.join().unwrap()
    }

    fn dom(&self, page: &Path, fragment: &str) -> String {
        let url = format!("file://{}{fragment}", page.display());
        let dom = self.run(&url, &["--dump-dom"]);
        assert!(
            dom.contains("data-ready=\"true\""),
            "the page's script did not run:\n{}",
            &dom[..dom.len().min(2000)]
        );
        dom
    }
}

/// Rows of the findings table: (visible, data-severity, the row's text in lower case, as the
/// page's text filter sees it).
fn rows(dom: &str) -> Vec<(bool, String, String)> {
    let body = dom
        .split("<table id=\"findings\">")
        .nth(1)
        .and_then(|t| t.split("</table>").next())
        .expect("findings table");
    body.split("<tr ")
        .skip(1)
        .filter(|row| row.contains("data-order="))
        .map(|row| {
            let tag = row.split('>').next().unwrap();
            let attr = |name: &str| {
                tag.split(&format!("{name}=\""))
                    .nth(1)
                    .and_then(|v| v.split('"').next())
                    .unwrap_or("")
                    .to_string()
            };
            let inner = &row[tag.len()..];
            let inner = inner.split("</tr>").next().unwrap_or(inner);
            (
                !tag.contains(" hidden"),
                attr("data-severity"),
                text_of(inner),
            )
        })
        .collect()
}

/// The text of an HTML fragment: tags dropped, the escapes the report uses undone.
fn text_of(html: &str) -> String {
    let mut text = String::new();
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            _ if !in_tag => text.push(c),
            _ => {}
        }
    }
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
        .to_lowercase()
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// The demo repository over two nights: scanned once (`last.json`), then changed the way a
/// day changes a repository (the debug pod removed, the production API image unpinned) and
/// scanned again with `--previous last.json` into `report.html` and `now.json`.
fn demo_night_two() -> (tempfile::TempDir, PathBuf, serde_json::Value) {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/demo"),
        &dir.path().join("demo"),
    );
    let first = tollgate()
        .current_dir(dir.path())
        .args(["scan", "demo", "--format", "json", "--output", "last.json"])
        .output()
        .unwrap();
    assert_eq!(first.status.code(), Some(1), "{}", common::stderr(&first));
    std::fs::remove_file(
        dir.path()
            .join("demo/clusters/dev-a/shop-dev/debug-pod.yaml"),
    )
    .unwrap();
    let api = dir
        .path()
        .join("demo/clusters/production/shop-prod/api.yaml");
    let text = std::fs::read_to_string(&api).unwrap();
    let pinned = text
        .lines()
        .find(|l| l.contains("image: harbor.acme.internal/shop/api:"))
        .expect("the API image")
        .trim()
        .to_string();
    std::fs::write(
        &api,
        text.replace(&pinned, "image: harbor.acme.internal/shop/api:latest"),
    )
    .unwrap();
    let second = tollgate()
        .current_dir(dir.path())
        .args(["scan", "demo", "--previous", "last.json"])
        .args(["--format", "html", "--output", "report.html"])
        .args(["--format", "json", "--output", "now.json"])
        .output()
        .unwrap();
    assert_eq!(second.status.code(), Some(1), "{}", common::stderr(&second));
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("now.json")).unwrap()).unwrap();
    let page = dir.path().join("report.html");
    (dir, page, report)
}

#[test]
fn the_demo_report_renders_filters_and_stays_offline() {
    let Some(binary) = browser_or_skip() else {
        return;
    };
    let (dir, page, report) = demo_night_two();
    let active: Vec<&serde_json::Value> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["suppressed"].is_null())
        .collect();
    assert!(active.len() > 10);
    let new = active.iter().filter(|f| f["change"] == "new").count();
    let fixed = report["fixed"].as_array().unwrap().len();
    assert!(new >= 1 && fixed >= 3, "new {new}, fixed {fixed}");

    let (proxy_port, seen) = recording_proxy();
    let browser = Browser::new(binary, proxy_port);

    // Every finding has a visible row.
    let dom = browser.dom(&page, "");
    let all = rows(&dom);
    assert_eq!(all.len(), active.len());
    assert!(all.iter().all(|(visible, _, _)| *visible));
    for f in &active {
        let message = f["message"].as_str().unwrap();
        let escaped = message
            .replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;");
        assert!(dom.contains(&escaped) || dom.contains(message), "{message}");
    }
    assert!(dom.contains("id=\"suppressed-findings\""));

    // The severity filter shows the high findings only.
    let high = active.iter().filter(|f| f["severity"] == "high").count();
    let filtered = rows(&browser.dom(&page, "#severity=high"));
    let visible: Vec<_> = filtered.iter().filter(|(v, _, _)| *v).collect();
    assert_eq!(visible.len(), high);
    assert!(visible.iter().all(|(_, s, _)| s == "high"));

    // The change filter shows the new findings only; the fixed ones are listed apart.
    let dom = browser.dom(&page, "#change=new");
    let visible = rows(&dom).iter().filter(|(v, _, _)| *v).count();
    assert_eq!(visible, new);
    let fixed_table = dom
        .split("<table id=\"fixed-findings\">")
        .nth(1)
        .and_then(|t| t.split("</table>").next())
        .expect("fixed findings table");
    assert_eq!(
        fixed_table.matches("<tr>").count() - 1,
        fixed,
        "rows besides the header"
    );

    // The text filter matches rule, object, file and message.
    let filtered = rows(&browser.dom(&page, "#q=shop-dev"));
    let expected = filtered
        .iter()
        .filter(|(_, _, t)| t.contains("shop-dev"))
        .count();
    let visible = filtered.iter().filter(|(v, _, _)| *v).count();
    assert!(expected > 0 && expected < all.len());
    assert_eq!(visible, expected);

    // A screenshot renders too (and is what docs/ shows).
    let shot = dir.path().join("report.png");
    browser.run(
        &format!("file://{}", page.display()),
        &[
            &format!("--screenshot={}", shot.display()),
            "--window-size=1400,1800",
        ],
    );
    let png = std::fs::read(&shot).expect("screenshot written");
    assert!(png.starts_with(b"\x89PNG"));
    if std::env::var_os("TOLLGATE_UPDATE_SCREENSHOT").is_some() {
        std::fs::copy(
            &shot,
            Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/html-report.png"),
        )
        .unwrap();
    }

    let requests = page_requests(&seen);
    assert!(requests.is_empty(), "the page made requests: {requests:?}");

    // The harness does see a page's requests: a page that loads an image from elsewhere.
    let canary = dir.path().join("canary.html");
    std::fs::write(
        &canary,
        "<!DOCTYPE html><html data-ready=\"true\"><body>\
         <img src=\"http://canary.tollgate.invalid/pixel.png\"></body></html>",
    )
    .unwrap();
    browser.dom(&canary, "");
    let requests = page_requests(&seen);
    assert!(
        requests
            .iter()
            .any(|r| r.contains("canary.tollgate.invalid")),
        "{requests:?}"
    );
}

/// An audit of two clusters: a tab per cluster (and one for all), each showing only its
/// cluster's rows, chosen through the address as a shared link would.
#[test]
fn an_audit_report_has_a_tab_per_cluster() {
    let Some(binary) = browser_or_skip() else {
        return;
    };
    use fakeapi::{ADMIN_TOKEN, FakeCluster, HttpsServer, Kubeconfig};
    let production = HttpsServer::start(support::fixture_cluster().build()).unwrap();
    let mut dev = FakeCluster::new();
    dev.add(
        serde_json::json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "shop-dev"},
        "spec": {"template": {"spec": {"containers": [{"name": "web", "image": "nginx"}]}}}}),
    )
    .unwrap();
    let dev = HttpsServer::start(dev.build()).unwrap();
    let mut kubeconfig = Kubeconfig::new();
    production.add_context(&mut kubeconfig, "production", ADMIN_TOKEN);
    dev.add_context(&mut kubeconfig, "dev-a", ADMIN_TOKEN);
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig_path = dir.path().join("kubeconfig");
    kubeconfig.write(&kubeconfig_path).unwrap();
    let page = dir.path().join("audit.html");
    let json = dir.path().join("audit.json");
    let ran = tollgate()
        .env_remove("KUBECONFIG")
        .env_remove("KUBERNETES_SERVICE_HOST")
        .args([
            "audit",
            "--all-contexts",
            "--config",
            support::CONFIG_FIXTURE,
        ])
        .arg("--kubeconfig")
        .arg(&kubeconfig_path)
        .args(["--format", "html", "--output"])
        .arg(&page)
        .args(["--format", "json", "--output"])
        .arg(&json)
        .output()
        .unwrap();
    assert_eq!(ran.status.code(), Some(1), "{}", common::stderr(&ran));
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    let active = |cluster: &str| {
        report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["suppressed"].is_null() && f["cluster"] == cluster)
            .count()
    };
    assert!(active("production") > 0 && active("dev-a") > 0);

    let (proxy_port, seen) = recording_proxy();
    let browser = Browser::new(binary, proxy_port);
    for tab in ["production", "dev-a"] {
        let dom = browser.dom(&page, &format!("#cluster={tab}"));
        assert!(
            dom.contains(&format!(
                "role=\"tab\" data-cluster=\"{tab}\" aria-selected=\"true\""
            )),
            "{tab} selected"
        );
        let visible = rows(&dom).iter().filter(|(v, _, _)| *v).count();
        assert_eq!(visible, active(tab), "{tab}");
    }
    // Without a choice, the first tab shows every cluster.
    let dom = browser.dom(&page, "");
    let visible = rows(&dom).iter().filter(|(v, _, _)| *v).count();
    assert_eq!(visible, active("production") + active("dev-a"));
    let requests = page_requests(&seen);
    assert!(requests.is_empty(), "the page made requests: {requests:?}");
}
