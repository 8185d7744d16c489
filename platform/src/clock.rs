//! Clocks in microseconds. The monotonic clock times GC pauses and
//! benchmarks; the UTC clock backs the image's microsecond primitives.

use std::sync::OnceLock;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// Microseconds between the Smalltalk epoch (1901-01-01 UTC) and the Unix epoch.
pub const SMALLTALK_EPOCH_OFFSET_MICROS: u64 = 2_177_452_800 * 1_000_000;

fn start() -> Instant {
    static START: OnceLock<Instant> = OnceLock::new();
    *START.get_or_init(Instant::now)
}

/// Microseconds since an arbitrary fixed point in this process; never goes back.
pub fn monotonic_micros() -> u64 {
    start().elapsed().as_micros() as u64
}

/// Microseconds since the Unix epoch, UTC.
pub fn unix_micros() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

/// Microseconds since the Smalltalk epoch (1901-01-01), UTC, as primitive 240 answers.
pub fn utc_micros_since_1901() -> u64 {
    unix_micros() + SMALLTALK_EPOCH_OFFSET_MICROS
}

/// The local time zone's offset from UTC in seconds (0 when unknown).
pub fn local_offset_seconds() -> i64 {
    let now = (unix_micros() / 1_000_000) as libc::time_t;
    // SAFETY: `tm` is a plain C struct that localtime_r fully initialises on
    // success; we read it only when the call succeeded.
    unsafe {
        let mut tm: libc::tm = std::mem::zeroed();
        if libc::localtime_r(&now, &mut tm).is_null() {
            0
        } else {
            tm.tm_gmtoff
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn monotonic_never_goes_back() {
        let a = monotonic_micros();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let b = monotonic_micros();
        assert!(b >= a + 1000, "{a} then {b}");
    }

    #[test]
    fn utc_is_after_2020() {
        // 2020-01-01 in Smalltalk epoch microseconds.
        let y2020 = (1_577_836_800u64 * 1_000_000) + SMALLTALK_EPOCH_OFFSET_MICROS;
        assert!(utc_micros_since_1901() > y2020);
    }
}
