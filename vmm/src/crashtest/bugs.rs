//! Failed images grouped into bugs: by what caused them, not by the text
//! of the guest's message (which carries offsets and values).
//!
//! A failed image's *cause* is the check it failed (its stable name) and
//! the program locations of the writes it lost (the writes in flight at
//! its crash point that it does not hold): the function holding each
//! store's instruction when the guest has symbols, else the instruction's
//! address. Images of one check whose lost locations include those of
//! another image are the same bug: the smallest set of lost locations that
//! fails the check explains the larger ones, which lost more along the way.
//!
//! pmemvm's own check of the promises ([`Verdict::PROMISE`]) fails images
//! the guest passed; such an image whose lost locations include those of a
//! bug of the guest's own check is that bug (the same lost stores broke the
//! promise where the guest's recovery did not look, say in a block the file
//! no longer uses), and the bug keeps the guest's check and message.
//!
//! An image that lost nothing fails its check with every write in flight
//! present: the program wrote its data in an order no crash can survive
//! (a commit made durable before the data it commits, say). Such images
//! form one bug per check and guest operation (the label of the last mark
//! before the point), and that bug takes in the other failures of the same
//! check in the same operation, which the same ordering explains.

use super::cause::{Loss, Missing};
pub use super::report::Key;
use super::report::{Cause, CauseWrite};
use crate::guest_report::Verdict;
use std::collections::{BTreeSet, HashMap, HashSet};

/// Groups failed images by cause: returns, for each bug, the indices (into
/// `keys`) of its images, in order of first appearance.
pub fn group(keys: &[Key]) -> Vec<Vec<usize>> {
    // Each distinct key once, with its images.
    let mut distinct: Vec<(&Key, Vec<usize>)> = Vec::new();
    let mut index: HashMap<&Key, usize> = HashMap::new();
    for (i, k) in keys.iter().enumerate() {
        match index.get(k) {
            Some(&d) => distinct[d].1.push(i),
            None => {
                index.insert(k, distinct.len());
                distinct.push((k, vec![i]));
            }
        }
    }
    // Smallest sets first: each joins the first bug whose set it contains;
    // the guest's checks before pmemvm's, which may join a bug of any check.
    let mut order: Vec<usize> = (0..distinct.len()).collect();
    order.sort_by_key(|&d| {
        let key = distinct[d].0;
        (pmemvm_check(key), key.lost.len(), distinct[d].1[0])
    });
    let mut bugs: Vec<(&Key, Vec<usize>)> = Vec::new();
    for d in order {
        let (key, images) = &distinct[d];
        let joined = bugs.iter_mut().find(|(rep, _)| {
            (rep.check == key.check || pmemvm_check(key))
                && !rep.lost.is_empty()
                && rep.lost.is_subset(&key.lost)
        });
        match joined {
            Some((_, members)) => members.extend(images),
            None => bugs.push((key, images.clone())),
        }
    }
    // An ordering bug (nothing lost) takes in the other failures of its
    // check and operation.
    let orderings: HashSet<(&str, &str)> = bugs
        .iter()
        .filter(|(k, _)| k.lost.is_empty())
        .map(|(k, _)| (k.check.as_str(), k.operation.as_str()))
        .collect();
    let mut out: Vec<Vec<usize>> = Vec::new();
    let mut ordering_bug: HashMap<(&str, &str), usize> = HashMap::new();
    for (_, members) in bugs {
        let mut rest = Vec::new();
        for i in members {
            let tag = (keys[i].check.as_str(), keys[i].operation.as_str());
            if orderings.contains(&tag) {
                let at = *ordering_bug.entry(tag).or_insert_with(|| {
                    out.push(Vec::new());
                    out.len() - 1
                });
                out[at].push(i);
            } else {
                rest.push(i);
            }
        }
        if !rest.is_empty() {
            out.push(rest);
        }
    }
    for members in &mut out {
        members.sort_unstable();
    }
    out.sort_by_key(|members| members[0]);
    out
}

/// True for an image failed by pmemvm's own check of the promises.
fn pmemvm_check(key: &Key) -> bool {
    key.check == Verdict::PROMISE
}

/// The image that names a bug (`members`, as [`group`] returns them): its
/// first image of the guest's own check when it has one, else its first.
pub fn lead(members: &[usize], keys: &[Key]) -> usize {
    members
        .iter()
        .copied()
        .find(|&i| !pmemvm_check(&keys[i]))
        .unwrap_or(members[0])
}

/// A program location: the symbolized RIP when `locate` knows it, else the RIP.
pub fn location(rip: u64, locate: &dyn Fn(u64) -> Option<String>) -> String {
    locate(rip).unwrap_or_else(|| format!("{rip:#x}"))
}

/// The cause of a bug in words, from the loss of one of its images,
/// keeping one lost write per location of the bug's key (`function` gives
/// a RIP's location as the key names it, `locate` as the report shows it).
pub fn cause(
    loss: &Loss,
    key: &BTreeSet<String>,
    function: &dyn Fn(u64) -> Option<String>,
    locate: &dyn Fn(u64) -> Option<String>,
) -> Cause {
    let mut seen = BTreeSet::new();
    let lost: Vec<CauseWrite> = loss
        .lost
        .iter()
        .filter(|w| {
            let at = location(w.rip, function);
            key.contains(&at) && seen.insert(at)
        })
        .map(|w| CauseWrite {
            seq: w.seq,
            rip: format!("{:#x}", w.rip),
            location: locate(w.rip),
            line: Some(format!("{:#x}", w.line)),
            missing: Some(
                match w.why {
                    Missing::Flush => "a flush: the line was never flushed before the crash point",
                    Missing::FenceAfterFlush(_) => {
                        "a fence: the line was flushed, but no fence followed before the crash point"
                    }
                    Missing::FenceAfterNtStore => {
                        "a fence: the non-temporal store had no fence after it before the crash point"
                    }
                }
                .to_string(),
            ),
            flushed_by: match w.why {
                Missing::FenceAfterFlush(seq) => Some(seq),
                _ => None,
            },
        })
        .collect();
    let kept_after = loss
        .kept_after
        .filter(|_| !lost.is_empty())
        .map(|k| CauseWrite {
            seq: k.seq,
            rip: format!("{:#x}", k.rip),
            location: locate(k.rip),
            line: None,
            missing: None,
            flushed_by: None,
        });
    let summary = summary(&lost, kept_after.as_ref());
    Cause {
        lost,
        kept_after,
        summary,
    }
}

/// One sentence: which store was lost, what was missing, what persisted anyway.
fn summary(lost: &[CauseWrite], kept: Option<&CauseWrite>) -> String {
    let Some(first) = lost.first() else {
        return "nothing in flight was lost: the check fails on the writes as they were made \
                (an ordering or atomicity bug of the program, not of its flushes)"
            .into();
    };
    // RIP 0: a write of an `epochs` recording, whose instruction is unknown.
    let at = |w: &CauseWrite| match (&w.location, w.rip.as_str(), &w.line) {
        (_, "0x0", Some(line)) => format!("to line {line} (recorded by epochs: no instruction)"),
        (_, "0x0", None) => "(recorded by epochs: no instruction)".to_string(),
        (Some(l), _, _) => format!("at {} in {l}", w.rip),
        (None, _, _) => format!("at {}", w.rip),
    };
    let mut s = format!("the store {} (seq {}) was lost", at(first), first.seq);
    if lost.len() > 1 {
        s.push_str(&format!(" with {} other store location(s)", lost.len() - 1));
    }
    match (first.flushed_by, kept) {
        (Some(flush), Some(k)) => s.push_str(&format!(
            ": it was flushed (seq {flush}) but no fence ordered it before the store {} \
             (seq {}), which persisted: a fence is missing between them",
            at(k),
            k.seq
        )),
        (Some(flush), None) => s.push_str(&format!(
            ": it was flushed (seq {flush}) but no fence followed before the crash point"
        )),
        (None, Some(k)) => s.push_str(&format!(
            ": it was never flushed, yet the later store {} (seq {}) persisted: \
             a flush and a fence are missing after it",
            at(k),
            k.seq
        )),
        (None, None) => s.push_str(": it was never flushed before the crash point"),
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(check: &str, lost: &[&str]) -> Key {
        in_op(check, lost, "")
    }

    fn in_op(check: &str, lost: &[&str], operation: &str) -> Key {
        Key {
            check: check.into(),
            lost: lost.iter().map(|s| s.to_string()).collect(),
            operation: operation.into(),
        }
    }

    #[test]
    fn supersets_join_the_smallest_cause_of_the_same_check() {
        let keys = [
            key("a", &["r1", "t"]),
            key("a", &["r1"]),
            key("b", &["r1"]),
            key("a", &["r2"]),
            key("a", &["r1", "r2"]),
        ];
        assert_eq!(group(&keys), vec![vec![0, 1, 4], vec![2], vec![3]]);
    }

    #[test]
    fn an_ordering_bug_takes_in_its_operation() {
        let keys = [
            in_op("a", &["r1"], "append"),
            in_op("a", &[], "append"),
            in_op("a", &["r1"], "other"),
            in_op("a", &[], "append"),
            in_op("b", &["r1"], "append"),
            in_op("a", &[], "other-op"),
        ];
        // r1 in "other" stays apart from its images in "append".
        assert_eq!(group(&keys), vec![vec![0, 1, 3], vec![2], vec![4], vec![5]]);
    }

    #[test]
    fn a_broken_promise_joins_the_guest_s_bug_that_explains_it() {
        let keys = [
            key("promise", &["r1", "t"]),
            key("a", &["r1"]),
            key("promise", &["r2"]),
            key("b", &["r1", "r2"]),
            key("promise", &["r1"]),
        ];
        // The promise images losing r1 are bug `a`'s, named by its image;
        // r2 alone explains no guest's bug; `b` joins no promise bug.
        let bugs = group(&keys);
        assert_eq!(bugs, vec![vec![0, 1, 4], vec![2], vec![3]]);
        assert_eq!(lead(&bugs[0], &keys), 1);
        assert_eq!(lead(&bugs[1], &keys), 2);
    }
}
