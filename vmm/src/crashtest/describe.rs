//! Crash points in the guest's own words: the marks around them.
//!
//! Marks named `X-begin` and `X-end` open and close a region; a point is
//! described by the regions open there, the last mark and the events on
//! either side, e.g. "during fsync op=2, after clwb (seq 41), before sfence".

use pmemvm_traces::{Event, EventKind, Mark};

/// A mark in words: its label and fields.
pub fn mark_words(m: &Mark) -> String {
    let mut s = m.label.clone();
    for (name, value) in [("file", m.file), ("page", m.page), ("op", m.op)] {
        if let Some(v) = value {
            s.push_str(&format!(" {name}={v}"));
        }
    }
    s
}

/// What a point's description says of its last event, kept without
/// formatting (most events are not followed by a point).
#[derive(Debug)]
enum LastEvent {
    /// A mark, in words.
    Mark(String),
    /// Any other event: its kind's name, line and sequence number.
    Other {
        name: &'static str,
        line: Option<u64>,
        seq: u64,
    },
}

impl LastEvent {
    fn of(ev: &Event, mark: Option<&str>) -> LastEvent {
        match mark {
            Some(words) => LastEvent::Mark(words.to_string()),
            None => LastEvent::Other {
                name: ev.kind.name(),
                line: ev.kind.line(),
                seq: ev.seq,
            },
        }
    }

    fn words(&self) -> String {
        match self {
            LastEvent::Mark(words) => format!("mark `{words}`"),
            LastEvent::Other {
                name,
                line: Some(line),
                seq,
            } => format!("{name} of line {line:#x} (seq {seq})"),
            LastEvent::Other {
                name,
                line: None,
                seq,
            } => format!("{name} (seq {seq})"),
        }
    }
}

fn event_words(ev: &Event) -> String {
    match &ev.kind {
        EventKind::Mark(m) => LastEvent::of(ev, Some(&mark_words(m))).words(),
        _ => LastEvent::of(ev, None).words(),
    }
}

/// Follows the trace and describes points.
#[derive(Debug, Default)]
pub struct Describer {
    open: Vec<String>,
    last_mark: Option<String>,
    last_event: Option<LastEvent>,
}

impl Describer {
    /// Notes an event.
    pub fn observe(&mut self, ev: &Event) {
        let EventKind::Mark(m) = &ev.kind else {
            self.last_event = Some(LastEvent::of(ev, None));
            return;
        };
        let words = mark_words(m);
        if m.label.ends_with("-begin") {
            self.open.push(words.replacen("-begin", "", 1));
        } else if let Some(name) = m.label.strip_suffix("-end")
            && let Some(pos) = self
                .open
                .iter()
                .rposition(|o| o.split(' ').next() == Some(name))
        {
            self.open.remove(pos);
        }
        self.last_event = Some(LastEvent::of(ev, Some(&words)));
        self.last_mark = Some(words);
    }

    /// The point just after the last event observed.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if !self.open.is_empty() {
            parts.push(format!("during {}", self.open.join(" / ")));
        }
        if let Some(m) = &self.last_mark {
            parts.push(format!("after mark `{m}`"));
        }
        match &self.last_event {
            Some(e) => parts.push(format!("just after {}", e.words())),
            None => parts.push("before any event".into()),
        }
        parts.join(", ")
    }

    /// Words for "before the next event", added once it is known.
    pub fn before(ev: &Event) -> String {
        format!("before {}", event_words(ev))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pmemvm_traces::Flush;

    #[test]
    fn names_open_regions_last_mark_and_neighbours() {
        let mut d = Describer::default();
        assert_eq!(d.describe(), "before any event");
        let mut begin = Mark::new("fsync-begin");
        begin.op = Some(2);
        d.observe(&Event::new(1, EventKind::Mark(begin)));
        d.observe(&Event::new(
            2,
            EventKind::Clwb(Flush::new(0x1_0000_0040, 0x40)),
        ));
        assert_eq!(
            d.describe(),
            "during fsync op=2, after mark `fsync-begin op=2`, just after clwb of line 0x40 (seq 2)"
        );
        assert_eq!(
            Describer::before(&Event::new(3, EventKind::Sfence)),
            "before sfence (seq 3)"
        );
        d.observe(&Event::new(3, EventKind::Mark(Mark::new("fsync-end"))));
        assert!(!d.describe().contains("during"));
    }
}
