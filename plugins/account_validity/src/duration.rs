//! Durations as operators write them: `30d`, `12h`, `250ms`, or a number of milliseconds.

use std::time::Duration;

use serde_json::Value;

/// Parse `value`; the error says what is accepted.
pub fn parse(value: &Value) -> Result<Duration, String> {
    let bad = || {
        format!("{value} is not a duration such as 30d, 12h, 15m, 10s or 250ms (or milliseconds)")
    };
    let ms = match value {
        Value::Number(n) => n.as_u64().ok_or_else(bad)?,
        Value::String(s) => {
            let s = s.trim();
            let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
            let (digits, unit) = s.split_at(split);
            let n: u64 = digits.parse().map_err(|_| bad())?;
            let factor = match unit.trim() {
                "" | "ms" => 1,
                "s" => 1000,
                "m" => 60_000,
                "h" => 3_600_000,
                "d" => 86_400_000,
                "w" => 7 * 86_400_000,
                _ => return Err(bad()),
            };
            n.checked_mul(factor).ok_or_else(bad)?
        }
        _ => return Err(bad()),
    };
    if ms == 0 {
        return Err("must be longer than zero".into());
    }
    Ok(Duration::from_millis(ms))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn units_and_errors() {
        assert_eq!(parse(&json!("30d")), Ok(Duration::from_secs(30 * 86_400)));
        assert_eq!(parse(&json!("250ms")), Ok(Duration::from_millis(250)));
        assert_eq!(parse(&json!(1500)), Ok(Duration::from_millis(1500)));
        assert_eq!(parse(&json!("2w")), Ok(Duration::from_secs(14 * 86_400)));
        assert_eq!(parse(&json!("0s")), Err("must be longer than zero".into()));
        assert!(parse(&json!("soon"))
            .unwrap_err()
            .contains("is not a duration"));
        assert!(parse(&json!("5y")).is_err());
    }
}
