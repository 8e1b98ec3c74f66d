//! Velero schedules: cron expressions as Velero reads them (robfig/cron's standard parser: five
//! fields, `@daily`-style descriptors, `@every <duration>`, an optional `CRON_TZ=`/`TZ=`
//! prefix) and Go durations (`720h0m0s`).

use std::time::Duration;

use jiff::civil::Date;

const MINUTE: u64 = 60;
const DAY_MINUTES: i64 = 24 * 60;
/// Years looked at when looking for the longest gap between runs (covers leap days).
const WINDOW_YEARS: i16 = 8;

/// The longest time between two consecutive runs of a schedule (UTC; daylight saving shifts
/// under `CRON_TZ` are ignored).
pub fn max_gap(expression: &str) -> Result<Duration, String> {
    let mut text = expression.trim();
    if let Some(rest) = text
        .strip_prefix("CRON_TZ=")
        .or_else(|| text.strip_prefix("TZ="))
    {
        text = rest
            .split_once(char::is_whitespace)
            .map(|(_, spec)| spec.trim())
            .ok_or_else(|| "has a time zone but no schedule".to_string())?;
    }
    if let Some(descriptor) = text.strip_prefix('@') {
        let standard = match descriptor.to_ascii_lowercase().as_str() {
            "yearly" | "annually" => "0 0 1 1 *",
            "monthly" => "0 0 1 * *",
            "weekly" => "0 0 * * 0",
            "daily" | "midnight" => "0 0 * * *",
            "hourly" => "0 * * * *",
            other => {
                let Some(every) = other.strip_prefix("every") else {
                    return Err(format!("`@{descriptor}` is not a cron descriptor"));
                };
                let interval = go_duration(every.trim())?;
                if interval < Duration::from_secs(1) {
                    return Err("`@every` needs an interval of at least 1s".into());
                }
                return Ok(interval);
            }
        };
        return gap_of_fields(standard);
    }
    gap_of_fields(text)
}

/// A cron field as the set of values it matches, and whether it was a plain `*`/`?`.
struct Field {
    bits: u64,
    star: bool,
}

impl Field {
    fn has(&self, value: u32) -> bool {
        self.bits & (1 << value) != 0
    }
}

fn gap_of_fields(text: &str) -> Result<Duration, String> {
    let fields: Vec<&str> = text.split_whitespace().collect();
    if fields.len() != 5 {
        return Err(format!(
            "has {} fields; Velero expects five (minute hour day-of-month month day-of-week)",
            fields.len()
        ));
    }
    const MONTHS: &[&str] = &[
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ];
    const DAYS: &[&str] = &["sun", "mon", "tue", "wed", "thu", "fri", "sat"];
    let minute = field(fields[0], 0, 59, &[], 0)?;
    let hour = field(fields[1], 0, 23, &[], 0)?;
    let dom = field(fields[2], 1, 31, &[], 0)?;
    let month = field(fields[3], 1, 12, MONTHS, 1)?;
    let mut dow = field(fields[4], 0, 7, DAYS, 0)?;
    if dow.has(7) {
        dow.bits |= 1;
    }

    let mut times: Vec<i64> = Vec::new();
    for h in (0..24).filter(|h| hour.has(*h)) {
        for m in (0..60).filter(|m| minute.has(*m)) {
            times.push(i64::from(h) * 60 + i64::from(m));
        }
    }
    let (Some(&first), Some(&last)) = (times.first(), times.last()) else {
        return Err("never runs".into());
    };
    let mut longest = times.windows(2).map(|w| w[1] - w[0]).max().unwrap_or(0);

    let start = Date::new(2024, 1, 1).map_err(|e| e.to_string())?;
    let end = Date::new(2024 + WINDOW_YEARS, 1, 1).map_err(|e| e.to_string())?;
    let mut previous: Option<Date> = None;
    let mut day = start;
    let mut runs = 0usize;
    while day < end {
        let dom_match = dom.has(day.day() as u32);
        let dow_match = dow.has(day.weekday().to_sunday_zero_offset() as u32);
        let day_match = if dom.star || dow.star {
            dom_match && dow_match
        } else {
            dom_match || dow_match
        };
        if month.has(day.month() as u32) && day_match {
            runs += 1;
            if let Some(prev) = previous {
                let days = i64::from((day - prev).get_days());
                longest = longest.max(days * DAY_MINUTES - last + first);
            }
            previous = Some(day);
        }
        day = day.tomorrow().map_err(|e| e.to_string())?;
    }
    match runs {
        0 => Err("never runs".into()),
        // Runs at most once in the window: the gap is at least the window.
        1 if times.len() == 1 => Ok(Duration::from_secs(
            u64::from(WINDOW_YEARS as u16) * 366 * 24 * 3600,
        )),
        _ => Ok(Duration::from_secs(longest as u64 * MINUTE)),
    }
}

/// Parses one cron field: lists of `*`, `?`, `n`, `a-b`, with an optional `/step`.
fn field(text: &str, min: u32, max: u32, names: &[&str], name_base: u32) -> Result<Field, String> {
    let value = |s: &str| -> Result<u32, String> {
        let lower = s.to_ascii_lowercase();
        if let Some(i) = names.iter().position(|n| *n == lower) {
            return Ok(i as u32 + name_base);
        }
        let n: u32 = s
            .parse()
            .map_err(|_| format!("`{s}` is not a value of a cron field"))?;
        if n < min || n > max {
            return Err(format!("`{n}` is outside {min}-{max}"));
        }
        Ok(n)
    };
    let mut out = Field {
        bits: 0,
        star: false,
    };
    for part in text.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((range, step)) => {
                let step: u32 = step
                    .parse()
                    .map_err(|_| format!("`{step}` is not a step"))?;
                if step == 0 {
                    return Err("a step of 0".into());
                }
                (range, Some(step))
            }
            None => (part, None),
        };
        let (low, high) = if range == "*" || range == "?" {
            if step.is_none_or(|s| s == 1) {
                out.star = true;
            }
            (min, max)
        } else if let Some((a, b)) = range.split_once('-') {
            (value(a)?, value(b)?)
        } else {
            let n = value(range)?;
            // `n/step` means from n to the end of the range.
            (n, if step.is_some() { max } else { n })
        };
        if low > high {
            return Err(format!("`{range}` is an empty range"));
        }
        let step = step.unwrap_or(1) as usize;
        for v in (low..=high).step_by(step) {
            out.bits |= 1 << v;
        }
    }
    Ok(out)
}

/// Parses a Go duration (`720h0m0s`, `1.5h`, `90m`), as Velero writes `ttl`.
pub fn go_duration(text: &str) -> Result<Duration, String> {
    let bad = || format!("`{text}` is not a duration like 720h0m0s");
    let s = text.trim();
    let s = s.strip_prefix('+').unwrap_or(s);
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    if s.is_empty() || s.starts_with('-') {
        return Err(bad());
    }
    let mut total = 0f64;
    let mut rest = s;
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(bad)?;
        if number_len == 0 {
            return Err(bad());
        }
        let number: f64 = rest[..number_len].parse().map_err(|_| bad())?;
        rest = &rest[number_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let seconds = match &rest[..unit_len] {
            "ns" => 1e-9,
            "us" | "µs" | "μs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return Err(bad()),
        };
        total += number * seconds;
        rest = &rest[unit_len..];
    }
    Duration::try_from_secs_f64(total).map_err(|_| bad())
}

/// `24h`, `7d`, `1h30m`: a duration the way people read it.
pub fn show(duration: Duration) -> String {
    let secs = duration.as_secs();
    if secs == 0 {
        return "0s".into();
    }
    let (days, hours, minutes, seconds) = (
        secs / 86400,
        secs % 86400 / 3600,
        secs % 3600 / 60,
        secs % 60,
    );
    // Up to a week reads best in hours (`48h`, `168h`), longer in days.
    let mut out = String::new();
    let hours = if days > 7 {
        out.push_str(&format!("{days}d"));
        hours
    } else {
        hours + days * 24
    };
    for (n, unit) in [(hours, "h"), (minutes, "m"), (seconds, "s")] {
        if n > 0 {
            out.push_str(&format!("{n}{unit}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hours(expression: &str) -> f64 {
        max_gap(expression).unwrap().as_secs_f64() / 3600.0
    }

    #[test]
    fn cron_gaps() {
        assert_eq!(hours("0 2 * * *"), 24.0);
        assert_eq!(hours("*/15 * * * *"), 0.25);
        assert_eq!(hours("0 */6 * * *"), 6.0);
        assert_eq!(hours("0 1,13 * * *"), 12.0);
        assert_eq!(hours("30 3 * * 0"), 168.0);
        assert_eq!(hours("0 3 * * SUN"), 168.0);
        assert_eq!(hours("0 3 * * 7"), 168.0);
        assert_eq!(hours("0 3 * * 1-5"), 72.0);
        assert_eq!(hours("0 0 1 * *"), 31.0 * 24.0);
        assert_eq!(hours("0 0 1,15 * *"), 17.0 * 24.0);
        // Day of month and day of week both restricted: either matches.
        assert_eq!(hours("0 0 1 * 1"), 7.0 * 24.0);
        assert_eq!(hours("0 22 * * *"), 24.0);
        assert_eq!(hours("0 9-17 * * *"), 16.0);
        assert_eq!(hours("0 0 * jan-dec *"), 24.0);
    }

    #[test]
    fn descriptors_and_time_zones() {
        assert_eq!(hours("@daily"), 24.0);
        assert_eq!(hours("@midnight"), 24.0);
        assert_eq!(hours("@hourly"), 1.0);
        assert_eq!(hours("@weekly"), 168.0);
        assert_eq!(hours("@every 6h"), 6.0);
        assert_eq!(hours("@every 1h30m"), 1.5);
        assert_eq!(hours("CRON_TZ=Europe/Berlin 0 3 * * *"), 24.0);
        assert_eq!(hours("TZ=UTC @weekly"), 168.0);
        assert!(hours("@yearly") >= 365.0 * 24.0);
    }

    #[test]
    fn bad_expressions_are_explained() {
        assert!(max_gap("0 3 * *").unwrap_err().contains("five"));
        assert!(max_gap("0 0 3 * * *").is_err());
        assert!(max_gap("61 * * * *").unwrap_err().contains("outside"));
        assert!(max_gap("0 0 31 2 *").unwrap_err().contains("never"));
        assert!(max_gap("@often").is_err());
        assert!(max_gap("@every soon").is_err());
        assert!(max_gap("*/0 * * * *").is_err());
    }

    #[test]
    fn go_durations() {
        assert_eq!(
            go_duration("720h0m0s").unwrap(),
            Duration::from_secs(720 * 3600)
        );
        assert_eq!(go_duration("1.5h").unwrap(), Duration::from_secs(5400));
        assert_eq!(go_duration("90m").unwrap(), Duration::from_secs(5400));
        assert_eq!(go_duration("0").unwrap(), Duration::ZERO);
        assert!(go_duration("30d").is_err());
        assert!(go_duration("").is_err());
        assert!(go_duration("-1h").is_err());
        assert!(go_duration("h").is_err());
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(show(Duration::from_secs(24 * 3600)), "24h");
        assert_eq!(show(Duration::from_secs(168 * 3600)), "168h");
        assert_eq!(show(Duration::from_secs(5400)), "1h30m");
        assert_eq!(show(Duration::from_secs(31 * 86400)), "31d");
    }
}
