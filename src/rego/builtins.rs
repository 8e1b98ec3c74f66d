//! Functions tollgate adds to regorus so that existing policies run unchanged.
//!
//! - OPA's deprecated builtins, which Rego v0 policies (most of gatekeeper-library, older
//!   conftest policies) still call: `re_match`, `any`, `all`, `set_diff`, `cast_*`,
//!   `net.cidr_overlap`.
//! - `crypto.sha256`, which regorus lacks.
//! - `time.add_date` normalising like Go's `AddDate` (Jan 31 + 1 month = Mar 2 or 3), as
//!   OPA does; regorus clamps to the end of the month.
//! - `yaml.unmarshal` with Kubernetes' YAML 1.1 typing (`yes` is `true`, as in OPA), through
//!   tollgate's own YAML parser instead of regorus' YAML 1.2 one.
//!
//! - `numbers.range` and `numbers.range_step` refusing more than [`MAX_RANGE_ELEMENTS`]:
//!   regorus allocates the whole array at once, before `rego.timeout` can act
//!   (`numbers.range(1, 1e8)` took gigabytes). The refusal stops the policy like a timeout.
//!
//! Extensions are looked up before builtins, so a name here replaces regorus' builtin.
//! `policies/COMPATIBILITY.md` lists what is still missing.

use std::collections::{BTreeSet, HashMap};
use std::net::IpAddr;

use anyhow::{Result, anyhow, bail};
use regorus::{Engine, Value};
use sha2::{Digest, Sha256};

/// Names of the functions [`install`] adds.
pub const NAMES: &[&str] = &[
    "re_match",
    "any",
    "all",
    "set_diff",
    "cast_array",
    "cast_set",
    "cast_string",
    "cast_boolean",
    "cast_null",
    "cast_object",
    "net.cidr_overlap",
    "crypto.sha256",
    "yaml.unmarshal",
    "time.add_date",
    "numbers.range",
    "numbers.range_step",
];

/// Most elements a policy may build with `numbers.range`/`numbers.range_step`.
pub const MAX_RANGE_ELEMENTS: i128 = 1_000_000;

/// The words every resource-limit refusal carries: the run treats it as a stopped policy.
pub const RESOURCE_LIMIT: &str = "tollgate resource limit";

fn integer(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) if n.is_integer() => n.as_i64(),
        _ => None,
    }
}

/// `from`, `from ± step`, … up to `to` included, as OPA's `numbers.range_step` (and
/// `numbers.range` with a step of 1); undefined for non-integers, as regorus is lenient.
fn bounded_range(name: &str, from: &Value, to: &Value, step: &Value) -> Result<Value> {
    let (Some(from), Some(to), Some(step)) = (integer(from), integer(to), integer(step)) else {
        return Ok(Value::Undefined);
    };
    if step <= 0 {
        bail!("{name}: step must be a positive integer");
    }
    let (from, to, step) = (i128::from(from), i128::from(to), i128::from(step));
    let count = (to - from).abs() / step + 1;
    if count > MAX_RANGE_ELEMENTS {
        bail!(
            "{name}: {count} elements is more than the {MAX_RANGE_ELEMENTS} a policy may build \
             ({RESOURCE_LIMIT})"
        );
    }
    let direction = if to >= from { 1 } else { -1 };
    Ok(Value::from(
        (0..count)
            .map(|i| Value::from((from + direction * i * step) as i64))
            .collect::<Vec<_>>(),
    ))
}

/// Functions regorus defines but tollgate refuses, with the reason.
pub const REFUSED: &[(&str, &str)] = &[(
    "http.send",
    "policies run offline in tollgate: http.send is not available",
)];

fn string(v: &Value) -> Result<&str> {
    match v {
        Value::String(s) => Ok(s.as_ref()),
        other => bail!(
            "expected a string, got {}",
            other.to_json_str().unwrap_or_default()
        ),
    }
}

fn items(v: &Value) -> Result<Vec<&Value>> {
    match v {
        Value::Array(a) => Ok(a.iter().collect()),
        Value::Set(s) => Ok(s.iter().collect()),
        other => bail!(
            "expected an array or a set, got {}",
            other.to_json_str().unwrap_or_default()
        ),
    }
}

/// `re_match(pattern, value)`: compiled patterns are cached per engine (one per thread).
fn re_match() -> impl FnMut(Vec<Value>) -> Result<Value> + Clone + Send + Sync {
    let mut cache: HashMap<String, regex::Regex> = HashMap::new();
    move |args: Vec<Value>| {
        let pattern = string(&args[0])?;
        let value = string(&args[1])?;
        if !cache.contains_key(pattern) {
            if cache.len() > 512 {
                cache.clear();
            }
            let re = regex::Regex::new(pattern).map_err(|e| anyhow!("re_match: {e}"))?;
            cache.insert(pattern.to_string(), re);
        }
        Ok(Value::Bool(cache[pattern].is_match(value)))
    }
}

fn parse_cidr(text: &str) -> Result<(IpAddr, u8)> {
    let (addr, bits) = text
        .split_once('/')
        .ok_or_else(|| anyhow!("`{text}` is not a CIDR"))?;
    let addr: IpAddr = addr
        .parse()
        .map_err(|_| anyhow!("`{text}` is not a CIDR"))?;
    let bits: u8 = bits
        .parse()
        .map_err(|_| anyhow!("`{text}` is not a CIDR"))?;
    let max = if addr.is_ipv4() { 32 } else { 128 };
    if bits > max {
        bail!("`{text}` is not a CIDR");
    }
    Ok((addr, bits))
}

fn prefix_bits(addr: IpAddr) -> u128 {
    match addr {
        IpAddr::V4(a) => u128::from(u32::from(a)) << 96,
        IpAddr::V6(a) => u128::from(a),
    }
}

/// `net.cidr_overlap(cidr, ip)`: whether the address is inside the network.
fn cidr_overlap(args: Vec<Value>) -> Result<Value> {
    let (network, bits) = parse_cidr(string(&args[0])?)?;
    let ip: IpAddr = string(&args[1])?
        .parse()
        .map_err(|_| anyhow!("not an IP address"))?;
    if network.is_ipv4() != ip.is_ipv4() {
        return Ok(Value::Bool(false));
    }
    let shift = if network.is_ipv4() {
        32 - u32::from(bits) + 96
    } else {
        128 - u32::from(bits)
    };
    let mask = if shift >= 128 { 0 } else { u128::MAX << shift };
    Ok(Value::Bool(
        prefix_bits(network) & mask == prefix_bits(ip) & mask,
    ))
}

/// `time.add_date(ns, years, months, days)` with Go's normalisation of overflowing dates.
fn add_date(args: Vec<Value>) -> Result<Value> {
    let ns = args[0].as_i64()?;
    let (years, months, days) = (args[1].as_i64()?, args[2].as_i64()?, args[3].as_i64()?);
    let utc = jiff::tz::TimeZone::UTC;
    let start = utc.to_datetime(jiff::Timestamp::from_nanosecond(i128::from(ns))?);
    let month_index =
        i64::from(start.year()) * 12 + i64::from(start.month()) - 1 + years * 12 + months;
    let first = jiff::civil::Date::new(
        i16::try_from(month_index.div_euclid(12))?,
        i8::try_from(month_index.rem_euclid(12) + 1)?,
        1,
    )?;
    let date = first.checked_add(jiff::Span::new().days(i64::from(start.day()) - 1 + days))?;
    let nanos = utc
        .to_timestamp(date.to_datetime(start.time()))?
        .as_nanosecond();
    Ok(Value::from(i64::try_from(nanos)?))
}

/// Adds every function of [`NAMES`] to `engine`.
pub fn install(engine: &mut Engine) -> Result<()> {
    engine.add_extension("re_match".into(), 2, Box::new(re_match()))?;
    engine.add_extension(
        "any".into(),
        1,
        Box::new(|args: Vec<Value>| {
            Ok(Value::Bool(
                items(&args[0])?
                    .into_iter()
                    .any(|v| *v == Value::Bool(true)),
            ))
        }),
    )?;
    engine.add_extension(
        "all".into(),
        1,
        Box::new(|args: Vec<Value>| {
            Ok(Value::Bool(
                items(&args[0])?
                    .into_iter()
                    .all(|v| *v == Value::Bool(true)),
            ))
        }),
    )?;
    engine.add_extension(
        "set_diff".into(),
        2,
        Box::new(|args: Vec<Value>| {
            let (Value::Set(a), Value::Set(b)) = (&args[0], &args[1]) else {
                bail!("set_diff expects two sets");
            };
            Ok(Value::from(
                a.iter()
                    .filter(|v| !b.contains(v))
                    .cloned()
                    .collect::<BTreeSet<_>>(),
            ))
        }),
    )?;
    engine.add_extension(
        "cast_array".into(),
        1,
        Box::new(|args: Vec<Value>| {
            Ok(Value::from(
                items(&args[0])?.into_iter().cloned().collect::<Vec<_>>(),
            ))
        }),
    )?;
    engine.add_extension(
        "cast_set".into(),
        1,
        Box::new(|args: Vec<Value>| {
            Ok(Value::from(
                items(&args[0])?
                    .into_iter()
                    .cloned()
                    .collect::<BTreeSet<_>>(),
            ))
        }),
    )?;
    let cast = |expected: fn(&Value) -> bool, name: &'static str| {
        move |args: Vec<Value>| -> Result<Value> {
            if expected(&args[0]) {
                Ok(args[0].clone())
            } else {
                bail!("{name}: wrong type")
            }
        }
    };
    engine.add_extension(
        "cast_string".into(),
        1,
        Box::new(cast(|v| matches!(v, Value::String(_)), "cast_string")),
    )?;
    engine.add_extension(
        "cast_boolean".into(),
        1,
        Box::new(cast(|v| matches!(v, Value::Bool(_)), "cast_boolean")),
    )?;
    engine.add_extension(
        "cast_null".into(),
        1,
        Box::new(cast(|v| matches!(v, Value::Null), "cast_null")),
    )?;
    engine.add_extension(
        "cast_object".into(),
        1,
        Box::new(cast(|v| matches!(v, Value::Object(_)), "cast_object")),
    )?;
    engine.add_extension("net.cidr_overlap".into(), 2, Box::new(cidr_overlap))?;
    engine.add_extension(
        "crypto.sha256".into(),
        1,
        Box::new(|args: Vec<Value>| {
            Ok(Value::from(hex::encode(Sha256::digest(
                string(&args[0])?.as_bytes(),
            ))))
        }),
    )?;
    engine.add_extension("time.add_date".into(), 4, Box::new(add_date))?;
    engine.add_extension(
        "numbers.range".into(),
        2,
        Box::new(|args: Vec<Value>| {
            bounded_range("numbers.range", &args[0], &args[1], &Value::from(1i64))
        }),
    )?;
    engine.add_extension(
        "numbers.range_step".into(),
        3,
        Box::new(|args: Vec<Value>| {
            bounded_range("numbers.range_step", &args[0], &args[1], &args[2])
        }),
    )?;
    engine.add_extension(
        "yaml.unmarshal".into(),
        1,
        Box::new(|args: Vec<Value>| {
            let parsed = crate::source::yaml::parse_stream(string(&args[0])?);
            if let Some(error) = parsed.errors.first() {
                bail!("yaml.unmarshal: {} at line {}", error.message, error.line);
            }
            Ok(match parsed.documents.first() {
                Some(doc) => super::value::to_rego(&doc.value),
                None => Value::Null,
            })
        }),
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eval(expr: &str) -> Value {
        let mut engine = Engine::new();
        engine.set_rego_v0(true);
        install(&mut engine).unwrap();
        engine
            .add_policy("t.rego".into(), format!("package t\nx = {expr}\n"))
            .unwrap();
        engine.eval_rule("data.t.x".into()).unwrap()
    }

    #[test]
    fn ranges_are_opa_ranges_up_to_a_bound() {
        assert_eq!(
            eval("numbers.range(1, 3)"),
            Value::from(vec![
                Value::from(1i64),
                Value::from(2i64),
                Value::from(3i64)
            ])
        );
        assert_eq!(
            eval("numbers.range(3, 1)"),
            Value::from(vec![
                Value::from(3i64),
                Value::from(2i64),
                Value::from(1i64)
            ])
        );
        assert_eq!(
            eval("numbers.range_step(2, 9, 3)"),
            Value::from(vec![
                Value::from(2i64),
                Value::from(5i64),
                Value::from(8i64)
            ])
        );
        assert_eq!(
            eval("count(numbers.range(1, 1000000))"),
            Value::from(1_000_000i64)
        );
        let mut engine = Engine::new();
        install(&mut engine).unwrap();
        engine
            .add_policy(
                "t.rego".into(),
                "package t\nx := numbers.range(1, 100000000)\n".into(),
            )
            .unwrap();
        let error = engine.eval_rule("data.t.x".into()).unwrap_err();
        assert!(format!("{error:#}").contains(RESOURCE_LIMIT), "{error:#}");
    }

    #[test]
    fn deprecated_builtins_behave_like_opa() {
        assert_eq!(eval(r#"re_match("^a+$", "aaa")"#), Value::Bool(true));
        assert_eq!(eval(r#"re_match("^a+$", "ab")"#), Value::Bool(false));
        assert_eq!(eval("any([false, true])"), Value::Bool(true));
        assert_eq!(eval("any([])"), Value::Bool(false));
        assert_eq!(eval("all([true, true])"), Value::Bool(true));
        assert_eq!(eval("all(set())"), Value::Bool(true));
        assert_eq!(eval("set_diff({1, 2}, {2})"), eval("{1}"));
        assert_eq!(eval("cast_array({1})"), eval("[1]"));
        assert_eq!(eval(r#"cast_string("a")"#), Value::from("a"));
        assert_eq!(
            eval(r#"net.cidr_overlap("10.0.0.0/8", "10.1.2.3")"#),
            Value::Bool(true)
        );
        assert_eq!(
            eval(r#"net.cidr_overlap("10.0.0.0/8", "11.1.2.3")"#),
            Value::Bool(false)
        );
        assert_eq!(
            eval(r#"net.cidr_overlap("fd00::/8", "fd12::1")"#),
            Value::Bool(true)
        );
    }

    #[test]
    fn add_date_normalises_like_go() {
        let date = |s: &str| {
            eval(&format!(
                r#"time.format(time.add_date(time.parse_rfc3339_ns("{s}"), 0, 1, 0))"#
            ))
        };
        assert_eq!(
            date("2024-01-31T10:00:00Z"),
            Value::from("2024-03-02T10:00:00Z")
        );
        assert_eq!(
            date("2023-01-31T00:00:00Z"),
            Value::from("2023-03-03T00:00:00Z")
        );
        assert_eq!(
            date("2023-05-15T00:00:00Z"),
            Value::from("2023-06-15T00:00:00Z")
        );
        assert_eq!(
            eval(
                r#"time.format(time.add_date(time.parse_rfc3339_ns("2023-12-31T00:00:00Z"), 1, -13, 1))"#
            ),
            Value::from("2023-12-02T00:00:00Z")
        );
    }

    #[test]
    fn sha256_and_yaml_1_1() {
        assert_eq!(
            eval(r#"crypto.sha256("abc")"#),
            Value::from("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        );
        assert_eq!(
            eval(r#"yaml.unmarshal("a: yes\nb: [1, x]")"#),
            eval(r#"{"a": true, "b": [1, "x"]}"#)
        );
    }
}
