//! Which crash points a [`PointSet`] names, decided event by event, and why.
//!
//! A crash test walks the events once with the persistency model and asks,
//! before and after each event, whether to crash there. The default set
//! (`fences`) crashes just *before* every event that shrinks the set of
//! crash images while writes are in flight: there the most writes are in
//! flight, and every image of any other instant of the run is an image of
//! some such point, with at least the promises made by then
//! (`CRASH-POINTS.md` beside this crate gives the argument). Every set also
//! visits the points just after every promise, every `crash` mark and the
//! last event.

use std::collections::BTreeSet;
use std::fmt;

use serde::Serialize;

use crate::epochs::Instants;
use crate::error::{Result, TraceError};
use crate::event::{Event, EventKind};
use crate::point::{CrashPoint, PointSet};
use crate::resolver::{PointResolver, plural};
use pmemvm_abi::persistence::Persistence;

/// The label of marks that name a crash step: the point just after each is
/// always visited.
pub const CRASH_MARK: &str = "crash";

/// Why a crash point is visited.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PointReason {
    /// Just before a fence (`sfence`, `mfence`, `rmw`) with writes in flight.
    BeforeFence,
    /// Just before a `clflush` with writes in flight.
    BeforeClflush,
    /// eADR: just before another drain point (`io`, `mark`, `promise`) with
    /// writes in flight.
    BeforeDrain,
    /// Just after a fence that follows a write (`after-fences`).
    AfterFence,
    /// Just after a store-like event (`stores`).
    AfterStore,
    /// Just after a mark (`marks`).
    AfterMark,
    /// Named by `all`, `seq:A..B`, `random:N` or a single point.
    Named,
    /// Just after a promise (every set).
    AfterPromise,
    /// Just after a `crash` mark (every set).
    CrashMark,
    /// After the last event (every set).
    End,
}

impl PointReason {
    /// The reason in a report's words, for a count of points.
    pub fn describe(self, n: u64) -> String {
        let s = |one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
        match self {
            PointReason::BeforeFence => s("before a fence", "before fences"),
            PointReason::BeforeClflush => s("before a clflush", "before clflushes"),
            PointReason::BeforeDrain => s("before a drain point", "before drain points"),
            PointReason::AfterFence => s("after a fence", "after fences"),
            PointReason::AfterStore => s("after a store", "after stores"),
            PointReason::AfterMark => s("after a mark", "after marks"),
            PointReason::Named => s("named", "named"),
            PointReason::AfterPromise => s("after a promise", "after promises"),
            PointReason::CrashMark => s("crash mark", "crash marks"),
            PointReason::End => s("end", "ends"),
        }
    }
}

impl fmt::Display for PointReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PointReason::BeforeFence => "before-fence",
            PointReason::BeforeClflush => "before-clflush",
            PointReason::BeforeDrain => "before-drain",
            PointReason::AfterFence => "after-fence",
            PointReason::AfterStore => "after-store",
            PointReason::AfterMark => "after-mark",
            PointReason::Named => "named",
            PointReason::AfterPromise => "after-promise",
            PointReason::CrashMark => "crash-mark",
            PointReason::End => "end",
        })
    }
}

/// Whether `ev` shrinks the set of crash images, i.e. commits writes in
/// flight: under ADR a fence or `clflush`, under eADR every drain point.
pub fn shrinks_images(ev: &EventKind, persistence: Persistence) -> bool {
    match persistence {
        Persistence::Adr => ev.is_fence() || matches!(ev, EventKind::Clflush(_)),
        Persistence::Eadr => ev.is_drain_point(),
    }
}

/// The window of a [`PointSet::Window`], resolved as the events go by.
#[derive(Debug, Clone)]
struct Window {
    from: PointResolver,
    to: Option<PointResolver>,
}

impl Window {
    fn observe(&mut self, ev: &Event) {
        self.from.observe(ev);
        if let Some(to) = &mut self.to {
            to.observe(ev);
        }
    }

    /// Whether the point just after seq `s` lies in the window (every event
    /// up to `s` observed).
    fn contains(&self, s: u64) -> bool {
        self.from.reached().is_some_and(|r| r <= s)
            && self
                .to
                .as_ref()
                .is_none_or(|to| to.reached().is_none_or(|r| r >= s))
    }
}

/// A single named point that is not an instant of an `epochs` recording.
#[derive(Debug, Clone, Copy)]
struct Refused {
    seq: u64,
    before: u64,
    after: Option<u64>,
}

/// Decides, event by event, which points of a set are visited.
///
/// Call [`before_any`](Self::before_any) once, then for each event in
/// order [`before`](Self::before) (the point just before it) and
/// [`after`](Self::after) (the point just after it); a point may be named
/// by both calls around it, so keep the first. [`finish`](Self::finish)
/// says whether a window's bounds were in the trace.
#[derive(Debug, Clone)]
pub struct PointSelector {
    set: PointSet,
    persistence: Persistence,
    /// The seqs of sets resolved on the whole trace (`random:N`, a point).
    resolved: Option<BTreeSet<u64>>,
    window: Option<Window>,
    /// Store-like events since the last event that shrank the images.
    in_flight: u64,
    /// Store-like events since the last fence (`after-fences`).
    since_fence: u64,
    /// Which points are instants of the run (all, but in an `epochs` recording).
    instants: Instants,
    /// `epochs`: the last event, until the next one says whether the point
    /// between them is an instant.
    previous: Option<Event>,
    /// `epochs`: the point just after `previous`, chosen by the set, waiting
    /// for the next event to say whether it is an instant.
    deferred: Option<PointReason>,
    /// The last instant seen.
    last_instant: u64,
    /// A single point named that is not an instant.
    refused: Option<Refused>,
}

impl PointSelector {
    /// A selector of `set` on a trace recorded under `persistence`.
    /// `resolved` holds the seqs of a set that needs the whole trace
    /// ([`needs_resolution`](Self::needs_resolution)).
    pub fn new(
        set: &PointSet,
        persistence: Persistence,
        resolved: Option<BTreeSet<u64>>,
    ) -> PointSelector {
        let (set, window) = match set {
            PointSet::Window { set, from, to } => (
                (**set).clone(),
                Some(Window {
                    from: PointResolver::new(from.clone().unwrap_or(CrashPoint::Seq(0))),
                    to: to.clone().map(PointResolver::new),
                }),
            ),
            other => (other.clone(), None),
        };
        PointSelector {
            set,
            persistence,
            resolved,
            window,
            in_flight: 0,
            since_fence: 0,
            instants: Instants::new(crate::header::Recording::Stores, persistence),
            previous: None,
            deferred: None,
            last_instant: 0,
            refused: None,
        }
    }

    /// The same selector on a trace whose points are `instants` (an `epochs`
    /// recording visits its instants only, and refuses a single point that
    /// is not one).
    pub fn with_instants(mut self, instants: Instants) -> PointSelector {
        self.instants = instants;
        self
    }

    /// Notes that the point just after `seq` is an instant.
    fn instant_at(&mut self, seq: u64) {
        self.last_instant = seq;
        if let Some(r) = &mut self.refused
            && r.after.is_none()
            && seq > r.seq
        {
            r.after = Some(seq);
        }
    }

    /// Notes that the point just after `seq`, which the set chose, is not an
    /// instant: a single named point is refused at [`finish`](Self::finish).
    fn not_instant(&mut self, seq: u64) {
        if matches!(self.set, PointSet::Point(_)) && self.refused.is_none() {
            self.refused = Some(Refused {
                seq,
                before: self.last_instant,
                after: None,
            });
        }
    }

    /// True when the set needs a first pass over the whole trace
    /// (`random:N`, a single point): resolve it with [`resolve`].
    pub fn needs_resolution(set: &PointSet) -> bool {
        matches!(set, PointSet::Random(_) | PointSet::Point(_))
    }

    fn in_window(&self, s: u64) -> bool {
        self.window.as_ref().is_none_or(|w| w.contains(s))
    }

    /// Whether `seq:0` (before any event) is visited.
    pub fn before_any(&self) -> Option<PointReason> {
        let named = match &self.resolved {
            Some(r) => r.contains(&0),
            None => matches!(
                self.set,
                PointSet::All | PointSet::SeqRange { start: 0, .. }
            ),
        };
        (named && self.in_window(0)).then_some(PointReason::Named)
    }

    /// Whether the point just before `ev` (just after seq `ev.seq - 1`) is
    /// visited; call it before [`after`](Self::after) for the same event.
    pub fn before(&mut self, ev: &Event) -> Option<PointReason> {
        let s = ev.seq.saturating_sub(1);
        let mut deferred = None;
        if self.instants.restricted() {
            let previous = self.previous.take();
            let instant = self.instants.is_instant(previous.as_ref(), Some(ev));
            // The point after `previous` waited for this event to be decided.
            if previous
                .as_ref()
                .is_some_and(|p| self.instants.after(p).is_none())
            {
                if instant {
                    self.instant_at(s);
                    deferred = self.deferred.take();
                } else if self.deferred.take().is_some() {
                    self.not_instant(s);
                }
            }
            if !instant {
                return None;
            }
        }
        if self.set != PointSet::Fences
            || self.in_flight == 0
            || !shrinks_images(&ev.kind, self.persistence)
            || !self.in_window(s)
        {
            return deferred;
        }
        Some(if ev.kind.is_fence() {
            PointReason::BeforeFence
        } else if matches!(ev.kind, EventKind::Clflush(_)) {
            PointReason::BeforeClflush
        } else {
            PointReason::BeforeDrain
        })
    }

    /// Whether the point just after `ev` is visited (`last`: it is the last
    /// event of the trace).
    pub fn after(&mut self, ev: &Event, last: bool) -> Option<PointReason> {
        if let Some(w) = &mut self.window {
            w.observe(ev);
        }
        let fence_after_writes = ev.kind.is_fence() && self.since_fence > 0;
        if shrinks_images(&ev.kind, self.persistence) {
            self.in_flight = 0;
        }
        if ev.kind.is_fence() {
            self.since_fence = 0;
        }
        // Under ADR an `rmw`'s own write is in flight after it; under eADR
        // it drains with the rest.
        let drained = self.persistence == Persistence::Eadr && ev.kind.is_drain_point();
        if ev.kind.is_store_like() {
            if !drained {
                self.in_flight += 1;
            }
            if !ev.kind.is_fence() {
                self.since_fence += 1;
            }
        }
        let in_window = self.in_window(ev.seq);
        let reason = in_window
            .then(|| self.reason(ev, last, fence_after_writes))
            .flatten();
        if self.instants.restricted() {
            self.previous = Some(ev.clone());
            let instant = if last {
                Some(self.instants.is_instant(Some(ev), None))
            } else {
                self.instants.after(ev)
            };
            match instant {
                // Decided by the next event (`before`).
                None => {
                    self.deferred = reason;
                    return None;
                }
                Some(false) => {
                    if reason.is_some() {
                        self.not_instant(ev.seq);
                    }
                    return None;
                }
                Some(true) => {}
            }
        }
        self.instant_at(ev.seq);
        reason
    }

    /// Why the point just after `ev` is visited, if it is
    /// (`fence_after_writes`: `ev` is a fence after a write).
    fn reason(&self, ev: &Event, last: bool, fence_after_writes: bool) -> Option<PointReason> {
        let chosen = match (&self.resolved, &self.set) {
            (Some(r), _) => r.contains(&ev.seq),
            (None, PointSet::AfterFences) => fence_after_writes,
            (None, PointSet::Stores) => ev.kind.is_store_like(),
            (None, PointSet::Marks) => matches!(ev.kind, EventKind::Mark(_)),
            (None, PointSet::All) => true,
            (None, PointSet::SeqRange { start, end }) => (*start..=*end).contains(&ev.seq),
            (None, _) => false,
        };
        let reason = match &self.set {
            PointSet::AfterFences => PointReason::AfterFence,
            PointSet::Stores => PointReason::AfterStore,
            PointSet::Marks => PointReason::AfterMark,
            _ => PointReason::Named,
        };
        if last {
            Some(PointReason::End)
        } else if matches!(&ev.kind, EventKind::Promise(_)) {
            Some(PointReason::AfterPromise)
        } else if matches!(&ev.kind, EventKind::Mark(m) if m.label == CRASH_MARK) {
            Some(PointReason::CrashMark)
        } else {
            chosen.then_some(reason)
        }
    }

    /// At the end of the trace: an error when a window bound names a point
    /// the trace does not have.
    pub fn finish(&self) -> Result<()> {
        if let (Some(r), PointSet::Point(p)) = (self.refused, &self.set) {
            return Err(TraceError::PointInsideEpoch {
                point: p.to_string(),
                seq: r.seq,
                before: r.before,
                after: r.after.unwrap_or(self.last_instant),
            });
        }
        if let Some(w) = &self.window {
            w.from.finish()?;
            if let Some(to) = &w.to {
                to.finish()?;
            }
        }
        Ok(())
    }
}

/// Every point of `set` on a whole trace, in order, with why it is visited
/// (the first reason when two name one point). `seed` draws `random:N`.
///
/// ```
/// use pmemvm_traces::selection::select;
/// use pmemvm_traces::{Event, EventKind, Flush, Persistence, PointSet, Write};
/// # fn main() -> pmemvm_traces::Result<()> {
/// // A store, its flush, a fence, a mark.
/// let events = Event::numbered(vec![
///     EventKind::Store(Write::new(0x1_0000_0000, 0, vec![1], 0x10_0000)),
///     EventKind::Clwb(Flush::new(0x1_0000_0000, 0)),
///     EventKind::Sfence,
///     EventKind::Mark(pmemvm_traces::Mark::new("done")),
/// ]);
/// let fences: PointSet = "fences".parse()?;
/// let points = select(&fences, Persistence::Adr, events.into_iter().map(Ok), 0)?;
/// // Just before the fence (after seq 2), and after the last event.
/// let seqs: Vec<u64> = points.iter().map(|(seq, _reason)| *seq).collect();
/// assert_eq!(seqs, [2, 4]);
/// # Ok(()) }
/// ```
pub fn select<I>(
    set: &PointSet,
    persistence: Persistence,
    events: I,
    seed: u64,
) -> Result<Vec<(u64, PointReason)>>
where
    I: IntoIterator<Item = Result<Event>>,
{
    let events: Vec<Event> = events.into_iter().collect::<Result<_>>()?;
    let inner = match set {
        PointSet::Window { set, .. } => set,
        other => other,
    };
    let resolved = if PointSelector::needs_resolution(inner) {
        Some(
            resolve(inner, events.iter().cloned().map(Ok), seed)?
                .into_iter()
                .collect(),
        )
    } else {
        None
    };
    let mut selector = PointSelector::new(set, persistence, resolved);
    let mut out: Vec<(u64, PointReason)> = Vec::new();
    let mut push = |seq: u64, reason: Option<PointReason>| {
        if let Some(reason) = reason
            && out.last().is_none_or(|(s, _)| *s != seq)
        {
            out.push((seq, reason));
        }
    };
    push(0, selector.before_any());
    for (i, ev) in events.iter().enumerate() {
        push(ev.seq.saturating_sub(1), selector.before(ev));
        push(ev.seq, selector.after(ev, i + 1 == events.len()));
    }
    selector.finish()?;
    if let PointSet::SeqRange { end, .. } = inner {
        let last = events.last().map_or(0, |e| e.seq);
        if last < *end {
            return Err(TraceError::PointBeyondEnd {
                point: CrashPoint::Seq(*end).to_string(),
                reason: plural(last, "event"),
            });
        }
    }
    Ok(out)
}

/// The seqs of a set that needs the whole trace (`random:N`: drawn from
/// `seed` among `seq:0` and every event; a single point: where it lies),
/// sorted and distinct. Errors when the point lies beyond the end.
pub fn resolve<I>(set: &PointSet, events: I, seed: u64) -> Result<Vec<u64>>
where
    I: IntoIterator<Item = Result<Event>>,
{
    match set {
        PointSet::Point(p) => Ok(vec![PointResolver::resolve(p.clone(), events)?]),
        PointSet::Random(n) => {
            let mut last = 0;
            for ev in events {
                last = ev?.seq;
            }
            Ok(sample(last, *n, seed))
        }
        other => Err(TraceError::BadPointSet {
            input: other.to_string(),
            reason: "this set is selected event by event, not resolved".into(),
        }),
    }
}

/// `n` distinct values of `0..=last`, sorted, drawn with splitmix64 from `seed`
/// (all of them when `n` exceeds their number).
fn sample(last: u64, n: u64, seed: u64) -> Vec<u64> {
    let total = last.saturating_add(1);
    if n >= total {
        return (0..=last).collect();
    }
    let mut state = seed;
    let mut next = move || {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    // Floyd's algorithm: n distinct draws in O(n) memory.
    let mut chosen = BTreeSet::new();
    for j in (total - n)..total {
        let t = next() % (j + 1);
        if !chosen.insert(t) {
            chosen.insert(j);
        }
    }
    chosen.into_iter().collect()
}
