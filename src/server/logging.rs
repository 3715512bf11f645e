//! Logging through `tracing`, in redis-server's format and level names.
//!
//! A line reads `<pid>:M <day> <mon> <year> <hh:mm:ss.mmm> <sym> <message>`
//! where the symbol is `.` for debug, `-` for verbose, `*` for notice and
//! `#` for warning, as in Redis. `loglevel` maps to tracing levels
//! (debug = TRACE, verbose = DEBUG, notice = INFO, warning = WARN) and can change at run time; `logfile` empty means standard output.

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use tracing::{Event, Level, Subscriber};
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::writer::BoxMakeWriter;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::reload;
use tracing_subscriber::util::SubscriberInitExt;

use super::LogHook;
use crate::config::{LogLevel, Settings};

/// The tracing filter for a Redis log level.
pub fn level_filter(level: LogLevel) -> LevelFilter {
    match level {
        LogLevel::Debug => LevelFilter::TRACE,
        LogLevel::Verbose => LevelFilter::DEBUG,
        LogLevel::Notice => LevelFilter::INFO,
        LogLevel::Warning => LevelFilter::WARN,
    }
}

/// Formats events as redis-server log lines.
#[derive(Debug, Clone, Copy)]
pub struct RedisFormat;

/// `22 Nov 2026 00:08:48.123` (UTC) for a Unix time in milliseconds.
pub fn timestamp(ms: u128) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let secs = i64::try_from(ms / 1000).unwrap_or(0);
    let days = secs.div_euclid(86400);
    let rem = secs.rem_euclid(86400);
    // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    let month = MONTHS[usize::try_from(m - 1).unwrap_or(0)];
    format!(
        "{d:02} {month} {y} {:02}:{:02}:{:02}.{:03}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        ms % 1000
    )
}

impl<S, N> FormatEvent<S, N> for RedisFormat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let sym = match *event.metadata().level() {
            Level::TRACE => '.',
            Level::DEBUG => '-',
            Level::INFO => '*',
            Level::WARN | Level::ERROR => '#',
        };
        let ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or(0);
        write!(writer, "{}:M {} {sym} ", std::process::id(), timestamp(ms))?;
        ctx.field_format().format_fields(writer.by_ref(), event)?;
        writeln!(writer)
    }
}

/// Installs the global logger for `settings` and returns the hook that
/// changes its level at run time.
///
/// # Errors
/// The log file cannot be opened.
pub fn init(settings: &Settings) -> std::io::Result<LogHook> {
    let writer = if settings.logfile().is_empty() {
        BoxMakeWriter::new(std::io::stdout)
    } else {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(settings.logfile())?;
        BoxMakeWriter::new(std::sync::Mutex::new(file))
    };
    let (filter, handle) = reload::Layer::new(level_filter(settings.loglevel()));
    let fmt_layer = tracing_subscriber::fmt::layer()
        .event_format(RedisFormat)
        .with_writer(writer);
    // A second init (tests) keeps the first logger.
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(fmt_layer)
        .try_init();
    Ok(LogHook(Box::new(move |level| {
        let _ = handle.modify(|f| *f = level_filter(level));
    })))
}

#[cfg(test)]
mod tests {
    #[test]
    fn timestamps_like_redis() {
        assert_eq!(super::timestamp(0), "01 Jan 1970 00:00:00.000");
        assert_eq!(
            super::timestamp(1_795_306_128_123),
            "22 Nov 2026 00:08:48.123"
        );
        assert_eq!(
            super::timestamp(951_782_400_000),
            "29 Feb 2000 00:00:00.000"
        );
    }
}
