//! XenAPI datetimes: xapi writes `YYYYMMDDTHH:MM:SSZ` (basic date, extended time, UTC) and
//! accepts that form, the RFC 3339 form, and either without a zone (taken as UTC).

use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time};

pub fn now() -> i64 {
    OffsetDateTime::now_utc().unix_timestamp()
}

pub fn format_xapi(secs: i64) -> String {
    let t = OffsetDateTime::from_unix_timestamp(secs).unwrap_or(OffsetDateTime::UNIX_EPOCH);
    format!(
        "{:04}{:02}{:02}T{:02}:{:02}:{:02}Z",
        t.year(),
        t.month() as u8,
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// Parses `20250319T04:16:24Z`, `2025-03-19T04:16:24Z`, `20250319T041624`, with an optional `Z`
/// or `+HH:MM` offset and optional fractional seconds.
pub fn parse(s: &str) -> Option<i64> {
    let s = s.trim();
    let (date_part, rest) = s.split_once('T')?;
    let digits: String = date_part.chars().filter(|c| *c != '-').collect();
    if digits.len() != 8 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let year: i32 = digits[0..4].parse().ok()?;
    let month: u8 = digits[4..6].parse().ok()?;
    let day: u8 = digits[6..8].parse().ok()?;
    // Split the time from a zone suffix.
    let (time_part, offset_secs) = if let Some(t) = rest.strip_suffix('Z') {
        (t, 0i64)
    } else if let Some(pos) = rest.rfind(['+', '-']) {
        let (t, z) = rest.split_at(pos);
        let sign = if z.starts_with('-') { -1 } else { 1 };
        let z: String = z[1..].chars().filter(|c| *c != ':').collect();
        if z.len() != 4 {
            return None;
        }
        let h: i64 = z[0..2].parse().ok()?;
        let m: i64 = z[2..4].parse().ok()?;
        (t, sign * (h * 3600 + m * 60))
    } else {
        (rest, 0)
    };
    let time_part = time_part.split('.').next()?;
    let tdigits: String = time_part.chars().filter(|c| *c != ':').collect();
    if tdigits.len() != 6 || !tdigits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let date = Date::from_calendar_date(year, Month::try_from(month).ok()?, day).ok()?;
    let time = Time::from_hms(tdigits[0..2].parse().ok()?, tdigits[2..4].parse().ok()?, tdigits[4..6].parse().ok()?).ok()?;
    Some(PrimitiveDateTime::new(date, time).assume_utc().unix_timestamp() - offset_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_the_xapi_form() {
        assert_eq!(format_xapi(0), "19700101T00:00:00Z");
        let t = parse("20250319T04:16:24Z").unwrap();
        assert_eq!(format_xapi(t), "20250319T04:16:24Z");
        assert_eq!(parse("2025-03-19T04:16:24Z"), Some(t));
        assert_eq!(parse("20250319T041624"), Some(t));
        assert_eq!(parse("2025-03-19T06:16:24+02:00"), Some(t));
        assert_eq!(parse("garbage"), None);
        assert_eq!(parse("20251319T04:16:24Z"), None);
    }
}
