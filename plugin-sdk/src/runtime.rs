//! Module-side plumbing: the panic hook and the `tracing` bridge.
//!
//! A module library carries its own copies of `std` and `tracing`, so neither the host's panic
//! hook nor its subscriber sees anything the module does. The SDK installs a panic hook that
//! remembers the message and location (so errors name where the module panicked) and a
//! global `tracing` subscriber that forwards every event to the host, which logs it under the
//! module's name.

use std::any::Any;
use std::cell::RefCell;
use std::fmt::Write as _;
use std::sync::Once;

use tracing_core::field::{Field, Visit};
use tracing_core::span::{Attributes, Id, Record};
use tracing_core::{Event, Level, LevelFilter, Metadata, Subscriber};

use crate::ffi::{HostApi_TO, RArc};

thread_local! {
    static LAST_PANIC: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Install (once per library) a panic hook that records the panic instead of printing it.
pub(crate) fn install_panic_hook() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        std::panic::set_hook(Box::new(|info| {
            let text = match info.location() {
                Some(loc) => format!(
                    "{} at {}:{}",
                    payload_text(info.payload()),
                    loc.file(),
                    loc.line()
                ),
                None => payload_text(info.payload()),
            };
            LAST_PANIC.with(|slot| *slot.borrow_mut() = Some(text));
        }));
    });
}

/// The text of the panic just caught on this thread: message and location when the hook
/// saw it, else whatever the payload holds.
pub(crate) fn panic_text(payload: &(dyn Any + Send)) -> String {
    LAST_PANIC
        .with(|slot| slot.borrow_mut().take())
        .unwrap_or_else(|| payload_text(payload))
}

fn payload_text(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "non-string panic payload".to_string()
    }
}

/// Make this library's `tracing` macros reach the host. Idempotent.
pub(crate) fn install_log_bridge(host: &HostApi_TO<RArc<()>>) {
    static BRIDGE: Once = Once::new();
    BRIDGE.call_once(|| {
        let max = (1..=5u8)
            .rev()
            .find(|lvl| host.log_enabled(*lvl))
            .map_or(LevelFilter::OFF, level_filter);
        let bridge = Bridge {
            host: host.clone(),
            max,
        };
        // Fails only if the module installed its own subscriber first; then it keeps it.
        let _ = tracing::subscriber::set_global_default(bridge);
    });
}

fn level_number(level: &Level) -> u8 {
    match *level {
        Level::ERROR => 1,
        Level::WARN => 2,
        Level::INFO => 3,
        Level::DEBUG => 4,
        Level::TRACE => 5,
    }
}

fn level_filter(level: u8) -> LevelFilter {
    match level {
        1 => LevelFilter::ERROR,
        2 => LevelFilter::WARN,
        3 => LevelFilter::INFO,
        4 => LevelFilter::DEBUG,
        _ => LevelFilter::TRACE,
    }
}

pub(crate) struct Bridge {
    host: HostApi_TO<RArc<()>>,
    max: LevelFilter,
}

/// A bridge to `host` at every level, for scoped use (the SDK's test support).
#[cfg(feature = "testing")]
pub(crate) fn bridge(host: &HostApi_TO<RArc<()>>) -> Bridge {
    Bridge {
        host: host.clone(),
        max: LevelFilter::TRACE,
    }
}

impl Subscriber for Bridge {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        *metadata.level() <= self.max
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        Some(self.max)
    }

    // Spans are not forwarded: the host already wraps each callback in its own context.
    fn new_span(&self, _span: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }

    fn record(&self, _span: &Id, _values: &Record<'_>) {}

    fn record_follows_from(&self, _span: &Id, _follows: &Id) {}

    fn event(&self, event: &Event<'_>) {
        let mut text = FieldText::default();
        event.record(&mut text);
        let meta = event.metadata();
        self.host.log(
            level_number(meta.level()),
            meta.target().into(),
            text.0.as_str().into(),
        );
    }

    fn enter(&self, _span: &Id) {}

    fn exit(&self, _span: &Id) {}
}

/// Renders an event as `message key=value …`.
#[derive(Default)]
struct FieldText(String);

impl Visit for FieldText {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let rest = std::mem::take(&mut self.0);
            let _ = write!(self.0, "{value:?}");
            if !rest.is_empty() {
                self.0.push(' ');
                self.0.push_str(&rest);
            }
        } else {
            if !self.0.is_empty() {
                self.0.push(' ');
            }
            let _ = write!(self.0, "{}={:?}", field.name(), value);
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.record_debug(field, &format_args!("{value}"));
        } else {
            if !self.0.is_empty() {
                self.0.push(' ');
            }
            let _ = write!(self.0, "{}={}", field.name(), value);
        }
    }
}
