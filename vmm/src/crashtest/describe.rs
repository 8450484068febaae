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

fn event_words(ev: &Event) -> String {
    match &ev.kind {
        EventKind::Mark(m) => format!("mark `{}`", mark_words(m)),
        kind => match kind.line() {
            Some(line) => format!("{} of line {line:#x} (seq {})", kind.name(), ev.seq),
            None => format!("{} (seq {})", kind.name(), ev.seq),
        },
    }
}

/// Follows the trace and describes points.
#[derive(Debug, Default)]
pub struct Describer {
    open: Vec<String>,
    last_mark: Option<String>,
    /// Put in words only when a point is described (most events are not
    /// followed by one).
    last_event: Option<Event>,
}

impl Describer {
    /// Notes an event.
    pub fn observe(&mut self, ev: &Event) {
        if let EventKind::Mark(m) = &ev.kind {
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
            self.last_mark = Some(words);
        }
        self.last_event = Some(ev.clone());
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
            Some(e) => parts.push(format!("just after {}", event_words(e))),
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
