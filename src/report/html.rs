//! `--format html`: one self-contained page to look at a run.
//!
//! Everything is inline (CSS, a small script, SVG charts); a Content-Security-Policy forbids
//! the page any request, so it can be mailed, attached to a CI job or opened offline. The
//! page has summary cards, a severity chart, a namespace × rule heatmap, a tab per cluster,
//! a sortable and filterable findings table (rule, severity, object, file:line as a link
//! relative to the scan root, message, remediation), the suppressed findings apart, and with
//! `--previous` which findings are new and which were fixed.
//!
//! The text filter searches every cell of a row (rule, object, file:line, message,
//! remediation). Filters also live in the address fragment (`report.html#severity=high&q=api&cluster=prod`)
//! so a filtered view can be shared as a link. Rendering is deterministic: no timestamp, rows
//! in the report's order.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{self, Write};

use crate::finding::{Change, Finding, Location, Severity};
use crate::report::previous::{Changes, PreviousFinding};
use crate::report::{Report, VERSION, counts_by_severity, repo_location};

/// Escapes text for HTML content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

fn severity_color(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical => "#8e1b1b",
        Severity::High => "#d9480f",
        Severity::Medium => "#e8a317",
        Severity::Low => "#1c6dd0",
        Severity::Info => "#6b7785",
    }
}

/// Rank for sorting, most severe first.
fn severity_rank(severity: Severity) -> usize {
    Severity::ALL
        .iter()
        .position(|s| *s == severity)
        .unwrap_or(0)
}

fn cluster_of(finding: &Finding) -> &str {
    match &finding.location {
        Location::Cluster { context, .. } => context,
        Location::File { .. } => "",
    }
}

fn object_text(finding: &Finding) -> String {
    finding
        .object
        .as_ref()
        .map(|o| o.display())
        .unwrap_or_default()
}

fn namespace_of(finding: &Finding) -> &str {
    finding
        .object
        .as_ref()
        .and_then(|o| o.namespace.as_deref())
        .unwrap_or("(cluster-scoped)")
}

/// Path for a relative link: each segment percent-encoded where a URL needs it.
fn href(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for b in path.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'/' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    // Never a scheme or a protocol-relative URL: the page makes no request.
    out.trim_start_matches('/').to_string()
}

const STYLE: &str = r#"
:root{--fg:#1d2430;--muted:#5b6675;--line:#dde2e8;--bg:#f6f7f9;--card:#fff}
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);background:var(--bg)}
header{background:#18202b;color:#fff;padding:18px 28px}
header h1{margin:0;font-size:20px}
header p{margin:4px 0 0;color:#c2cad4}
main{padding:20px 28px;max-width:1500px}
h2{font-size:16px;margin:26px 0 10px}
.cards{display:flex;flex-wrap:wrap;gap:12px}
.card{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:12px 16px;min-width:120px}
.card .n{font-size:26px;font-weight:600}
.card .l{color:var(--muted);font-size:12px;text-transform:uppercase;letter-spacing:.04em}
.card.alert{border-color:#8e1b1b;background:#fdf0f0}
.problems{background:#fdf0f0;border:1px solid #e3b4b4;border-radius:8px;padding:10px 16px}
.problems li.error{font-weight:600}
.row{display:flex;flex-wrap:wrap;gap:20px;align-items:flex-start;margin-top:16px}
.panel{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:14px}
.tabs{display:flex;gap:4px;flex-wrap:wrap;margin-top:22px;border-bottom:2px solid var(--line)}
.tabs button{border:1px solid var(--line);border-bottom:none;background:#eceff3;padding:7px 14px;border-radius:6px 6px 0 0;cursor:pointer;font:inherit}
.tabs button[aria-selected=true]{background:var(--card);font-weight:600;border-color:#9aa5b1}
table{border-collapse:collapse;width:100%;background:var(--card)}
.scroll{overflow-x:auto}
th,td{border-bottom:1px solid var(--line);padding:6px 8px;text-align:left;vertical-align:top}
th{background:#eef1f4;position:sticky;top:0;cursor:pointer;user-select:none;white-space:nowrap}
th.sorted-asc::after{content:" \25B2"}th.sorted-desc::after{content:" \25BC"}
td.msg{max-width:520px}td.fix{max-width:360px;color:var(--muted)}
.sev{display:inline-block;color:#fff;border-radius:4px;padding:1px 7px;font-size:12px;font-weight:600}
.chg{font-size:11px;font-weight:700;border-radius:4px;padding:1px 6px}
.chg.new{background:#ffe3c2;color:#8a3b00}.chg.unchanged{background:#e8ecf0;color:#5b6675}
.filters{display:flex;gap:10px;flex-wrap:wrap;margin:10px 0}
.filters input,.filters select{font:inherit;padding:5px 8px;border:1px solid #b9c2cc;border-radius:5px}
.filters input{min-width:280px}
.heat{border-collapse:collapse;width:auto;font-size:12px}
.heat th,.heat td{border:1px solid #fff;padding:4px 6px;text-align:center;position:static;cursor:default}
.heat th.ns{text-align:right}
.heat th.rule{writing-mode:vertical-rl;transform:rotate(180deg);height:140px;vertical-align:bottom}
.empty{color:var(--muted);font-style:italic}
code{font-size:12px}
a{color:#1c5fb8}
"#;

const SCRIPT: &str = r#"
(function(){
  var table=document.getElementById('findings');
  if(!table)return;
  var body=table.tBodies[0];
  var rows=Array.prototype.slice.call(body.rows);
  // What the text filter searches: every cell of the row, once.
  rows.forEach(function(r){r.searchText=r.textContent.toLowerCase();});
  var q=document.getElementById('q'),sev=document.getElementById('severity'),chg=document.getElementById('change');
  var shown=document.getElementById('shown');
  var tabs=Array.prototype.slice.call(document.querySelectorAll('.tabs button'));
  var cluster=null;
  function params(){
    var out={};
    location.hash.replace(/^#/,'').split('&').forEach(function(kv){
      if(!kv)return;var i=kv.indexOf('=');
      out[decodeURIComponent(i<0?kv:kv.slice(0,i))]=i<0?'':decodeURIComponent(kv.slice(i+1).replace(/\+/g,' '));
    });
    return out;
  }
  function selectTab(name){
    cluster=name;
    tabs.forEach(function(t){t.setAttribute('aria-selected',String(t.dataset.cluster===name));});
    Array.prototype.forEach.call(document.querySelectorAll('[data-panel]'),function(p){p.hidden=p.dataset.panel!==name;});
  }
  function apply(write){
    var text=q.value.trim().toLowerCase(),s=sev.value,c=chg?chg.value:'';var n=0;
    rows.forEach(function(r){
      var ok=(!text||r.searchText.indexOf(text)>=0)&&(!s||r.dataset.severity===s)&&(!c||r.dataset.change===c)&&(cluster===null||cluster==='*'||r.dataset.cluster===cluster);
      r.hidden=!ok;if(ok)n++;
    });
    shown.textContent=String(n);
    if(write&&history.replaceState){
      var h=[];if(text)h.push('q='+encodeURIComponent(text));if(s)h.push('severity='+s);if(c)h.push('change='+c);
      if(cluster&&cluster!=='*')h.push('cluster='+encodeURIComponent(cluster));
      history.replaceState(null,'',h.length?'#'+h.join('&'):location.pathname);
    }
  }
  var p=params();
  if(p.q)q.value=p.q;if(p.severity)sev.value=p.severity;if(p.change&&chg)chg.value=p.change;
  if(tabs.length){selectTab(p.cluster&&tabs.some(function(t){return t.dataset.cluster===p.cluster;})?p.cluster:tabs[0].dataset.cluster);}
  tabs.forEach(function(t){t.addEventListener('click',function(){selectTab(t.dataset.cluster);apply(true);});});
  [q,sev,chg].forEach(function(el){if(el)el.addEventListener('input',function(){apply(true);});});
  Array.prototype.forEach.call(table.tHead.rows[0].cells,function(th,i){
    th.addEventListener('click',function(){
      var desc=th.classList.contains('sorted-asc');
      Array.prototype.forEach.call(table.tHead.rows[0].cells,function(o){o.classList.remove('sorted-asc','sorted-desc');});
      th.classList.add(desc?'sorted-desc':'sorted-asc');
      var key=function(r){var c=r.cells[i];return c.dataset.sort!==undefined?c.dataset.sort:c.textContent;};
      rows.sort(function(a,b){var x=key(a),y=key(b);var r=x<y?-1:x>y?1:(+a.dataset.order)-(+b.dataset.order);return desc?-r:r;});
      rows.forEach(function(r){body.appendChild(r);});
    });
  });
  apply(false);
  document.documentElement.dataset.ready='true';
})();
"#;

/// Renders the page; `changes` is the comparison with `--previous`, when given.
pub fn render(report: &Report<'_>, changes: Option<&Changes>) -> String {
    let outcome = report.outcome;
    let findings = report.findings();
    let active: Vec<&Finding> = findings.iter().filter(|f| f.is_active()).collect();
    let suppressed: Vec<&Finding> = findings.iter().filter(|f| !f.is_active()).collect();
    let stats = &outcome.stats;
    let mut html = String::with_capacity(64 * 1024 + findings.len() * 1024);

    let scope = if stats.clusters > 0 {
        format!(
            "{} object{} in {} cluster{} ({})",
            stats.objects,
            plural(stats.objects),
            stats.clusters,
            plural(stats.clusters),
            stats.contexts.join(", ")
        )
    } else {
        format!(
            "{} file{}, {} object{}",
            stats.files,
            plural(stats.files),
            stats.objects,
            plural(stats.objects)
        )
    };
    let _ = write!(
        html,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; \
         style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:; \
         form-action 'none'; base-uri 'none'\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"referrer\" content=\"no-referrer\">\n\
         <title>tollgate report</title>\n<style>{STYLE}</style>\n</head>\n<body>\n\
         <header><h1>tollgate report</h1><p>tollgate {VERSION} · {}</p></header>\n<main>\n",
        escape(&scope)
    );

    // What makes the run untrustworthy comes first.
    let errors: Vec<_> = outcome.notices.iter().filter(|n| n.is_error()).collect();
    let warnings = outcome.notices.len() - errors.len();
    if !outcome.notices.is_empty() {
        html.push_str(
            "<section class=\"problems\" id=\"problems\"><h2>Problems of the run</h2><ul>\n",
        );
        for notice in errors
            .iter()
            .copied()
            .chain(outcome.notices.iter().filter(|n| !n.is_error()))
        {
            let _ = writeln!(
                html,
                "<li class=\"{}\">{}</li>",
                if notice.is_error() {
                    "error"
                } else {
                    "warning"
                },
                escape(&notice.to_string())
            );
        }
        html.push_str("</ul></section>\n");
    }

    // Summary cards.
    html.push_str("<section class=\"cards\" id=\"summary\">\n");
    card(&mut html, "findings", active.len(), false);
    for (severity, n) in counts_by_severity(findings) {
        card(&mut html, severity.as_str(), n, false);
    }
    card(&mut html, "suppressed", suppressed.len(), false);
    if let Some(changes) = changes {
        let (new, _) = crate::report::previous::counts(findings.iter());
        card(&mut html, "new", new, false);
        card(&mut html, "fixed", changes.fixed.len(), false);
    }
    if !errors.is_empty() {
        card(&mut html, "run errors", errors.len(), true);
    } else if warnings > 0 {
        card(&mut html, "warnings", warnings, false);
    }
    html.push_str("</section>\n");
    if let Some(changes) = changes {
        let text = match &changes.since {
            Some(date) => format!("Compared with {} of {date}.", changes.previous),
            None => format!(
                "No previous report at {}: every finding is new.",
                changes.previous
            ),
        };
        let _ = writeln!(html, "<p id=\"since\">{}</p>", escape(&text));
    }

    // Tabs: one per cluster, plus "all" when there are several.
    let clusters: Vec<&str> = stats.contexts.iter().map(String::as_str).collect();
    let mut panels: Vec<(&str, String)> = Vec::new();
    if clusters.is_empty() {
        panels.push(("*", "repository".into()));
    } else {
        if clusters.len() > 1 {
            panels.push(("*", "all clusters".into()));
        }
        panels.extend(clusters.iter().map(|c| (*c, c.to_string())));
    }
    if panels.len() > 1 {
        html.push_str("<nav class=\"tabs\" role=\"tablist\">");
        for (key, label) in &panels {
            let _ = write!(
                html,
                "<button type=\"button\" role=\"tab\" data-cluster=\"{}\">{}</button>",
                escape(key),
                escape(label)
            );
        }
        html.push_str("</nav>\n");
    }
    for (key, _) in &panels {
        let in_panel: Vec<&Finding> = active
            .iter()
            .copied()
            .filter(|f| *key == "*" || cluster_of(f) == *key)
            .collect();
        let _ = writeln!(
            html,
            "<section data-panel=\"{}\" class=\"row\">",
            escape(key)
        );
        html.push_str("<div class=\"panel\"><h2>By severity</h2>");
        severity_chart(&mut html, &in_panel);
        html.push_str("</div><div class=\"panel\"><h2>Namespace × rule</h2>");
        heatmap(&mut html, &in_panel);
        html.push_str("</div></section>\n");
    }

    // The findings table.
    let _ = write!(
        html,
        "<h2>Findings (<span id=\"shown\">{}</span> shown of {})</h2>\n<div class=\"filters\">\
         <input id=\"q\" type=\"search\" placeholder=\"Filter: rule, object, file, message…\" \
         aria-label=\"filter\"><select id=\"severity\" aria-label=\"severity\">\
         <option value=\"\">every severity</option>",
        active.len(),
        active.len()
    );
    for s in Severity::ALL {
        let _ = write!(html, "<option value=\"{s}\">{s}</option>");
    }
    html.push_str("</select>");
    if changes.is_some() {
        html.push_str(
            "<select id=\"change\" aria-label=\"change\"><option value=\"\">new and unchanged\
             </option><option value=\"new\">new</option><option value=\"unchanged\">unchanged\
             </option></select>",
        );
    }
    html.push_str(
        "</div>\n<div class=\"scroll\"><table id=\"findings\"><thead><tr><th>Severity</th><th>Rule</th>",
    );
    if changes.is_some() {
        html.push_str("<th>Change</th>");
    }
    html.push_str(
        "<th>Object</th><th>Location</th><th>Message</th><th>Remediation</th></tr></thead><tbody>\n",
    );
    for (order, f) in active.iter().enumerate() {
        finding_row(&mut html, report, f, order, changes.is_some());
    }
    html.push_str("</tbody></table></div>\n");
    if active.is_empty() {
        html.push_str("<p class=\"empty\">No findings.</p>\n");
    }

    if let Some(changes) = changes {
        let _ = writeln!(
            html,
            "<h2 id=\"fixed\">Fixed since the previous report ({})</h2>",
            changes.fixed.len()
        );
        if changes.fixed.is_empty() {
            html.push_str("<p class=\"empty\">Nothing was fixed.</p>\n");
        } else {
            html.push_str(
                "<table id=\"fixed-findings\"><thead><tr><th>Severity</th><th>Rule</th>\
                 <th>Object</th><th>Location</th><th>Message</th></tr></thead><tbody>\n",
            );
            for f in &changes.fixed {
                fixed_row(&mut html, f);
            }
            html.push_str("</tbody></table>\n");
        }
    }

    let _ = writeln!(
        html,
        "<h2 id=\"suppressed\">Suppressed ({})</h2>",
        suppressed.len()
    );
    if suppressed.is_empty() {
        html.push_str("<p class=\"empty\">Nothing is suppressed.</p>\n");
    } else {
        html.push_str(
            "<table id=\"suppressed-findings\"><thead><tr><th>Severity</th><th>Rule</th>\
             <th>Object</th><th>Location</th><th>Message</th><th>Why</th></tr></thead><tbody>\n",
        );
        for f in &suppressed {
            let why = f
                .suppressed
                .as_ref()
                .map(|s| format!("{} ({})", s.reason, s.source.as_str()))
                .unwrap_or_default();
            let _ = writeln!(
                html,
                "<tr>{}<td><code>{}</code></td><td>{}</td><td>{}</td><td class=\"msg\">{}</td><td>{}</td></tr>",
                severity_cell(f.severity),
                escape(&f.rule),
                escape(&object_text(f)),
                location_cell(report, f),
                escape(&f.message),
                escape(&why)
            );
        }
        html.push_str("</tbody></table>\n");
    }
    let _ = write!(
        html,
        "</main>\n<script>{SCRIPT}</script>\n</body>\n</html>\n"
    );
    html
}

pub fn write(report: &Report<'_>, out: &mut dyn Write) -> io::Result<()> {
    out.write_all(render(report, report.outcome.changes.as_ref()).as_bytes())
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

fn card(html: &mut String, label: &str, n: usize, alert: bool) {
    let _ = writeln!(
        html,
        "<div class=\"card{}\" data-card=\"{}\"><div class=\"n\">{n}</div><div class=\"l\">{}</div></div>",
        if alert { " alert" } else { "" },
        escape(label),
        escape(label)
    );
}

fn severity_cell(severity: Severity) -> String {
    format!(
        "<td data-sort=\"{}\"><span class=\"sev\" style=\"background:{}\">{severity}</span></td>",
        severity_rank(severity),
        severity_color(severity)
    )
}

fn location_cell(report: &Report<'_>, f: &Finding) -> String {
    let place = repo_location(report.outcome, f);
    match &f.location {
        Location::Cluster { uri, .. } => format!("<td><code>{}</code></td>", escape(uri)),
        Location::File { .. } => {
            let shown = match place.line {
                Some(line) => format!("{}:{line}", place.path),
                None => place.path.to_string(),
            };
            format!(
                "<td><a href=\"{}\"><code>{}</code></a></td>",
                escape(&href(place.path)),
                escape(&shown)
            )
        }
    }
}

fn finding_row(html: &mut String, report: &Report<'_>, f: &Finding, order: usize, compare: bool) {
    let object = object_text(f);
    let change = f.change.map(Change::as_str).unwrap_or("");
    let _ = write!(
        html,
        "<tr data-order=\"{order}\" data-severity=\"{}\" data-cluster=\"{}\" data-change=\"{change}\" \
         data-rule=\"{}\">{}<td><code>{}</code></td>",
        f.severity,
        escape(cluster_of(f)),
        escape(&f.rule),
        severity_cell(f.severity),
        escape(&f.rule)
    );
    if compare {
        let _ = write!(
            html,
            "<td>{}</td>",
            if change.is_empty() {
                String::new()
            } else {
                format!("<span class=\"chg {change}\">{change}</span>")
            }
        );
    }
    let _ = writeln!(
        html,
        "<td>{}</td>{}<td class=\"msg\">{}</td><td class=\"fix\">{}</td></tr>",
        escape(&object),
        location_cell(report, f),
        escape(&f.message),
        escape(&f.remediation)
    );
}

fn fixed_row(html: &mut String, f: &PreviousFinding) {
    let location = match f.line {
        Some(line) => format!("{}:{line}", f.file),
        None => f.file.clone(),
    };
    let _ = writeln!(
        html,
        "<tr>{}<td><code>{}</code></td><td>{}</td><td><code>{}</code></td><td class=\"msg\">{}</td></tr>",
        severity_cell(f.severity),
        escape(&f.rule),
        escape(&f.object.as_ref().map(|o| o.display()).unwrap_or_default()),
        escape(&location),
        escape(&f.message)
    );
}

/// Horizontal bars, one per severity, in inline SVG.
fn severity_chart(html: &mut String, findings: &[&Finding]) {
    let counts: Vec<(Severity, usize)> = Severity::ALL
        .iter()
        .map(|&s| (s, findings.iter().filter(|f| f.severity == s).count()))
        .collect();
    let max = counts.iter().map(|(_, n)| *n).max().unwrap_or(0).max(1);
    let (label_w, bar_w, row_h) = (70.0, 260.0, 24.0);
    let height = row_h * counts.len() as f64 + 4.0;
    let _ = write!(
        html,
        "<svg class=\"bars\" width=\"{}\" height=\"{height}\" viewBox=\"0 0 {} {height}\" role=\"img\" aria-label=\"findings by severity\">",
        label_w + bar_w + 50.0,
        label_w + bar_w + 50.0
    );
    for (i, (severity, n)) in counts.iter().enumerate() {
        let y = i as f64 * row_h + 2.0;
        let w = if *n == 0 {
            0.0
        } else {
            (bar_w * *n as f64 / max as f64).max(2.0)
        };
        let _ = write!(
            html,
            "<text x=\"0\" y=\"{}\" font-size=\"12\" fill=\"#1d2430\">{severity}</text>\
             <rect x=\"{label_w}\" y=\"{y}\" width=\"{w:.1}\" height=\"{}\" rx=\"3\" fill=\"{}\" data-severity=\"{severity}\" data-count=\"{n}\"/>\
             <text x=\"{:.1}\" y=\"{}\" font-size=\"12\" fill=\"#1d2430\">{n}</text>",
            y + 15.0,
            row_h - 6.0,
            severity_color(*severity),
            label_w + w + 6.0,
            y + 15.0
        );
    }
    html.push_str("</svg>");
}

/// Namespaces down, rules across, cells shaded by the number of findings.
fn heatmap(html: &mut String, findings: &[&Finding]) {
    let mut cells: BTreeMap<(&str, &str), usize> = BTreeMap::new();
    let mut rules: Vec<&str> = Vec::new();
    let mut namespaces: Vec<&str> = Vec::new();
    for f in findings {
        let ns = namespace_of(f);
        *cells.entry((ns, f.rule.as_str())).or_insert(0) += 1;
        rules.push(&f.rule);
        namespaces.push(ns);
    }
    rules.sort_unstable();
    rules.dedup();
    namespaces.sort_unstable();
    namespaces.dedup();
    if cells.is_empty() {
        html.push_str("<p class=\"empty\">No findings.</p>");
        return;
    }
    let max = cells.values().copied().max().unwrap_or(1).max(1);
    html.push_str("<table class=\"heat\"><thead><tr><th></th>");
    for rule in &rules {
        let _ = write!(html, "<th class=\"rule\">{}</th>", escape(rule));
    }
    html.push_str("</tr></thead><tbody>");
    for ns in &namespaces {
        let _ = write!(html, "<tr><th class=\"ns\">{}</th>", escape(ns));
        for rule in &rules {
            match cells.get(&(*ns, *rule)) {
                Some(&n) => {
                    // From a pale to a deep red; the count stays readable on both.
                    let t = n as f64 / max as f64;
                    let light = 92.0 - 52.0 * t;
                    let fg = if light < 60.0 { "#fff" } else { "#1d2430" };
                    let _ = write!(
                        html,
                        "<td style=\"background:hsl(8,75%,{light:.0}%);color:{fg}\" title=\"{}: {} × {}\">{n}</td>",
                        escape(ns),
                        escape(rule),
                        n
                    );
                }
                None => html.push_str("<td></td>"),
            }
        }
        html.push_str("</tr>");
    }
    html.push_str("</tbody></table>");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::testdata;

    fn page(changes: Option<&Changes>) -> String {
        let outcome = testdata::outcome();
        let report = Report {
            outcome: &outcome,
            color: false,
            fail_on: None,
            sarif_limits: None,
        };
        render(&report, changes)
    }

    #[test]
    fn every_finding_has_a_row_and_text_is_escaped() {
        let outcome = testdata::outcome();
        let html = page(None);
        let active = outcome.findings.iter().filter(|f| f.is_active()).count();
        assert_eq!(html.matches("<tr data-order=").count(), active);
        for f in outcome.findings.iter().filter(|f| f.is_active()) {
            assert!(html.contains(&escape(&f.message)), "{}", f.message);
        }
        assert_eq!(
            escape("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }

    #[test]
    fn the_page_asks_for_nothing_outside_itself() {
        let html = page(None);
        assert!(html.contains("default-src 'none'"));
        for bad in [
            "src=\"http",
            "href=\"http",
            "href=\"//",
            "url(",
            "@import",
            "src=\"",
        ] {
            assert!(!html.contains(bad), "{bad}");
        }
    }

    #[test]
    fn rendering_is_deterministic() {
        assert_eq!(page(None), page(None));
    }

    #[test]
    fn changes_add_new_and_fixed() {
        let changes = Changes {
            previous: "last.json".into(),
            since: Some("2026-12-05T02:00:00Z".into()),
            fixed: vec![PreviousFinding {
                rule: "image-pinned".into(),
                severity: Severity::High,
                message: "gone <now>".into(),
                remediation: String::new(),
                file: "k8s://production/shop-prod/Deployment/old".into(),
                line: None,
                column: None,
                object: None,
                environment: None,
                cluster: Some("production".into()),
                fingerprint: "f".into(),
                suppressed: false,
            }],
        };
        let html = page(Some(&changes));
        assert!(html.contains("id=\"fixed-findings\""));
        assert!(html.contains("gone &lt;now&gt;"));
        assert!(html.contains("data-card=\"fixed\"><div class=\"n\">1</div>"));
        assert!(html.contains("2026-12-05T02:00:00Z"));
    }

    #[test]
    fn links_stay_relative() {
        assert_eq!(href("/etc/x y.yaml"), "etc/x%20y.yaml");
        assert_eq!(href("https://x"), "https%3A//x");
    }
}
