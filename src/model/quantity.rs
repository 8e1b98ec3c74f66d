//! Kubernetes resource quantities (`500m`, `1.5`, `128Mi`, `1G`, `1e3`) as numbers.

/// The value of a quantity in base units (cores, bytes), or None when it is not one.
pub fn parse_quantity(text: &str) -> Option<f64> {
    let text = text.trim();
    let split = text
        .find(|c: char| c.is_ascii_alphabetic() && c != 'e' && c != 'E')
        .unwrap_or(text.len());
    let (number, suffix) = text.split_at(split);
    // `1e3` is an exponent, `1E` is exa: only a trailing E without digits after is a suffix.
    let (number, suffix) = match number.strip_suffix(['E', 'e']) {
        Some(n) if suffix.is_empty() && !n.is_empty() => (n, &number[n.len()..]),
        _ => (number, suffix),
    };
    if number.is_empty() {
        return None;
    }
    let value: f64 = number.parse().ok()?;
    let factor = match suffix {
        "" => 1.0,
        "n" => 1e-9,
        "u" => 1e-6,
        "m" => 1e-3,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "P" => 1e15,
        "E" => 1e18,
        "Ki" => 1024.0,
        "Mi" => 1024.0 * 1024.0,
        "Gi" => 1024.0 * 1024.0 * 1024.0,
        "Ti" => 1024f64.powi(4),
        "Pi" => 1024f64.powi(5),
        "Ei" => 1024f64.powi(6),
        _ => return None,
    };
    value.is_finite().then_some(value * factor)
}

/// A quantity from a JSON value: YAML may give `cpu: 1` as a number.
pub fn quantity_of(value: &crate::model::value::Value) -> Option<f64> {
    match value {
        crate::model::value::Value::String(s) => parse_quantity(s),
        crate::model::value::Value::Number(n) => n.as_f64(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::parse_quantity;

    #[test]
    fn parses_the_usual_forms() {
        assert_eq!(parse_quantity("500m"), Some(0.5));
        assert_eq!(parse_quantity("2"), Some(2.0));
        assert_eq!(parse_quantity("0.25"), Some(0.25));
        assert_eq!(parse_quantity("128Mi"), Some(134_217_728.0));
        assert_eq!(parse_quantity("1G"), Some(1e9));
        assert_eq!(parse_quantity("1e3"), Some(1000.0));
        assert_eq!(parse_quantity("2E"), Some(2e18));
        assert_eq!(parse_quantity("12 apples"), None);
        assert_eq!(parse_quantity(""), None);
        assert_eq!(parse_quantity("Mi"), None);
    }
}
