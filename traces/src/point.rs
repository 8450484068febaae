//! Crash points and crash-point sets: one grammar for every command.
//!
//! A crash point names an instant of the recorded run *between* two events:
//!
//! | form | the instant just after … |
//! | --- | --- |
//! | `seq:N` | event N (`seq:0`: before any event) |
//! | `fence:K` | the K-th fence (`sfence`, `mfence`, `rmw`), K from 1 |
//! | `store:K` | the K-th store-like event (`store`, `ntstore`, `rmw`), K from 1 |
//! | `promise:K` | the K-th `promise`, K from 1 |
//! | `mark:LABEL`, `mark:LABEL#K` | the K-th mark labelled LABEL (K from 1, default 1) |
//! | `end` | the last event |
//!
//! Where a point lies in a given trace is found by
//! [`PointResolver`](crate::PointResolver).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer, de::Error as _};

use crate::error::{Result, TraceError};

/// A crash point (see the module documentation for the grammar).
///
/// ```
/// use pmemvm_traces::{CrashPoint, PointSet};
///
/// let p: CrashPoint = "mark:commit#2".parse().unwrap();
/// assert_eq!(p, CrashPoint::Mark { label: "commit".into(), nth: 2 });
/// assert_eq!(p.to_string(), "mark:commit#2");
/// assert!("fence:0".parse::<CrashPoint>().is_err());
///
/// let window: PointSet = "fences@mark:begin..mark:end".parse().unwrap();
/// assert!(matches!(window, PointSet::Window { .. }));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum CrashPoint {
    /// `seq:N`: just after event N; 0 is before the first event.
    Seq(u64),
    /// `fence:K`: just after the K-th fence (`sfence`, `mfence`, `rmw`).
    Fence(u64),
    /// `store:K`: just after the K-th `store`, `ntstore` or `rmw`.
    Store(u64),
    /// `promise:K`: just after the K-th `promise`.
    Promise(u64),
    /// `mark:LABEL#K`: just after the K-th mark labelled `label`.
    Mark {
        /// The label.
        label: String,
        /// Which one, from 1.
        nth: u64,
    },
    /// `end`: after the last event.
    End,
}

fn bad_point(input: &str, reason: impl Into<String>) -> TraceError {
    TraceError::BadPoint {
        input: input.to_string(),
        reason: reason.into(),
    }
}

fn parse_count(input: &str, text: &str, what: &str) -> Result<u64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad_point(
            input,
            format!("`{text}` is not a decimal {what}"),
        ));
    }
    text.parse::<u64>()
        .map_err(|_| bad_point(input, format!("{what} `{text}` is too large")))
}

fn parse_nth(input: &str, text: &str, kind: &str) -> Result<u64> {
    let k = parse_count(input, text, "count")?;
    if k == 0 {
        return Err(bad_point(
            input,
            format!("{kind}s are counted from 1 (use seq:0 for the start of the trace)"),
        ));
    }
    Ok(k)
}

/// Splits `LABEL#K` when the text after the last `#` is a number.
fn split_mark(rest: &str) -> (&str, Option<&str>) {
    match rest.rsplit_once('#') {
        Some((label, k)) if !k.is_empty() && k.bytes().all(|b| b.is_ascii_digit()) => {
            (label, Some(k))
        }
        _ => (rest, None),
    }
}

impl FromStr for CrashPoint {
    type Err = TraceError;

    fn from_str(input: &str) -> Result<CrashPoint> {
        const GRAMMAR: &str = "expected seq:N, fence:K, store:K, promise:K, mark:LABEL[#K] or end";
        if input == "end" {
            return Ok(CrashPoint::End);
        }
        let Some((kind, rest)) = input.split_once(':') else {
            return Err(bad_point(input, GRAMMAR));
        };
        match kind {
            "seq" => Ok(CrashPoint::Seq(parse_count(
                input,
                rest,
                "sequence number",
            )?)),
            "fence" => Ok(CrashPoint::Fence(parse_nth(input, rest, "fence")?)),
            "store" => Ok(CrashPoint::Store(parse_nth(input, rest, "store")?)),
            "promise" => Ok(CrashPoint::Promise(parse_nth(input, rest, "promise")?)),
            "mark" => {
                let (label, k) = split_mark(rest);
                if label.is_empty() {
                    return Err(bad_point(input, "the mark label is empty"));
                }
                let nth = match k {
                    Some(k) => parse_nth(input, k, "mark")?,
                    None => 1,
                };
                Ok(CrashPoint::Mark {
                    label: label.to_string(),
                    nth,
                })
            }
            _ => Err(bad_point(
                input,
                format!("unknown kind `{kind}`: {GRAMMAR}"),
            )),
        }
    }
}

impl fmt::Display for CrashPoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CrashPoint::Seq(n) => write!(f, "seq:{n}"),
            CrashPoint::Fence(k) => write!(f, "fence:{k}"),
            CrashPoint::Store(k) => write!(f, "store:{k}"),
            CrashPoint::Promise(k) => write!(f, "promise:{k}"),
            CrashPoint::Mark { label, nth } => {
                // A label that itself ends in `#digits` needs an explicit `#K`.
                if *nth == 1 && split_mark(label).1.is_none() {
                    write!(f, "mark:{label}")
                } else {
                    write!(f, "mark:{label}#{nth}")
                }
            }
            CrashPoint::End => f.write_str("end"),
        }
    }
}

impl Serialize for CrashPoint {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for CrashPoint {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<CrashPoint, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(D::Error::custom)
    }
}

/// A set of crash points, as the crash tester takes them. Which events a
/// set selects is decided by [`PointSelector`](crate::PointSelector).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PointSet {
    /// `fences` (the default): just *before* every event that shrinks the
    /// set of crash images while writes are in flight: every fence
    /// (`sfence`, `mfence`, `rmw`) and `clflush`, and under eADR every other
    /// drain point (`io`, `mark`, `promise`).
    Fences,
    /// `after-fences`: just after every fence that follows a write.
    AfterFences,
    /// `stores`: just after every store-like event.
    Stores,
    /// `marks`: just after every mark.
    Marks,
    /// `all`: `seq:0` and just after every event.
    All,
    /// `seq:A..B`: just after each event A to B, both included.
    SeqRange {
        /// First seq.
        start: u64,
        /// Last seq (included).
        end: u64,
    },
    /// `random:N`: N distinct points of `all`, drawn from a seed.
    Random(u64),
    /// Any single crash point.
    Point(CrashPoint),
    /// `SET@FROM..TO`: the points of a set that lie from crash point FROM
    /// to crash point TO, both included (FROM empty: the start; TO empty:
    /// the end). Re-test commands name a bug's window by the guest's marks.
    Window {
        /// The set restricted (not itself a window).
        set: Box<PointSet>,
        /// First point of the window (`None`: the start).
        from: Option<CrashPoint>,
        /// Last point of the window (`None`: the end).
        to: Option<CrashPoint>,
    },
}

/// The grammar of point sets, for messages.
const SET_GRAMMAR: &str = "expected fences, after-fences, stores, marks, all, seq:A..B, random:N, \
     a crash point (seq:N, fence:K, store:K, promise:K, mark:LABEL[#K], end), \
     or SET@FROM..TO (a window of one of the first five)";

impl FromStr for PointSet {
    type Err = TraceError;

    fn from_str(input: &str) -> Result<PointSet> {
        let bad = |reason: String| TraceError::BadPointSet {
            input: input.to_string(),
            reason,
        };
        let number = |t: &str| -> Result<u64> {
            if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad(format!("`{t}` is not a decimal number")));
            }
            t.parse::<u64>()
                .map_err(|_| bad(format!("`{t}` is too large")))
        };
        let keyword = |t: &str| match t {
            "fences" => Some(PointSet::Fences),
            "after-fences" => Some(PointSet::AfterFences),
            "stores" => Some(PointSet::Stores),
            "marks" => Some(PointSet::Marks),
            "all" => Some(PointSet::All),
            _ => None,
        };
        if let Some(set) = keyword(input) {
            return Ok(set);
        }
        if let Some((head, window)) = input.split_once('@')
            && let Some(set) = keyword(head)
        {
            let Some((from, to)) = window.split_once("..") else {
                return Err(bad(format!("the window `{window}` is not FROM..TO")));
            };
            if to.contains("..") {
                return Err(bad(format!("the window `{window}` has more than one `..`")));
            }
            let point = |t: &str| -> Result<Option<CrashPoint>> {
                if t.is_empty() {
                    return Ok(None);
                }
                t.parse::<CrashPoint>()
                    .map(Some)
                    .map_err(|e| bad(format!("window bound `{t}`: {e}")))
            };
            return Ok(PointSet::Window {
                set: Box::new(set),
                from: point(from)?,
                to: point(to)?,
            });
        }
        if let Some(range) = input.strip_prefix("seq:")
            && let Some((a, b)) = range.split_once("..")
        {
            let (start, end) = (number(a)?, number(b)?);
            if start > end {
                return Err(bad(format!("the range is empty: {start} > {end}")));
            }
            return Ok(PointSet::SeqRange { start, end });
        }
        if let Some(n) = input.strip_prefix("random:") {
            let n = number(n)?;
            if n == 0 {
                return Err(bad("random:0 names no point".to_string()));
            }
            return Ok(PointSet::Random(n));
        }
        match input.parse::<CrashPoint>() {
            Ok(p) => Ok(PointSet::Point(p)),
            Err(_) => Err(bad(SET_GRAMMAR.to_string())),
        }
    }
}

impl fmt::Display for PointSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PointSet::Fences => f.write_str("fences"),
            PointSet::AfterFences => f.write_str("after-fences"),
            PointSet::Stores => f.write_str("stores"),
            PointSet::Marks => f.write_str("marks"),
            PointSet::All => f.write_str("all"),
            PointSet::SeqRange { start, end } => write!(f, "seq:{start}..{end}"),
            PointSet::Random(n) => write!(f, "random:{n}"),
            PointSet::Point(p) => write!(f, "{p}"),
            PointSet::Window { set, from, to } => {
                write!(f, "{set}@")?;
                if let Some(p) = from {
                    write!(f, "{p}")?;
                }
                f.write_str("..")?;
                if let Some(p) = to {
                    write!(f, "{p}")?;
                }
                Ok(())
            }
        }
    }
}
