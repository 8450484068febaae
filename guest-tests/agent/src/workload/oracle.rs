//! Verify mode and the durability oracle of section 7.12.
//!
//! A promised byte must hold the value it had when its sync started, or a
//! value written to it by a later operation started before the crash. A
//! later promise covering a byte allows a subset of what an earlier one
//! allows, so only the latest promise of each byte matters: the promises
//! are painted into disjoint segments, each with its sync's id. Replaying
//! the plan's effects up to the last started operation, a segment takes a
//! snapshot of the model just before its sync and collects, per byte, the
//! values written afterwards.

use super::model::{Change, Model};
use super::{Plan, exec};
use crate::dax::fs::Fs;
use crate::dax::io;
use crate::dax::layout::{self, PAGE};
use crate::dax::variant::Variant;
use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use pmemvm_abi::PromiseArgs;
use pmemvm_rt::report;

/// Bytes `[start, end)` of a file whose latest promise is sync `op`.
struct Segment {
    ino: u64,
    start: u64,
    end: u64,
    op: u64,
    /// The model's bytes just before `op` (empty until then).
    expected: Vec<u8>,
    /// Other allowed values per offset, as 256-bit sets.
    later: BTreeMap<u64, [u64; 4]>,
}

impl Segment {
    fn allows(&self, at: u64, v: u8) -> bool {
        self.expected[(at - self.start) as usize] == v
            || self
                .later
                .get(&at)
                .is_some_and(|set| set[v as usize / 64] & (1 << (v % 64)) != 0)
    }

    fn allowed(&self, at: u64) -> String {
        let mut values = alloc::vec![self.expected[(at - self.start) as usize]];
        if let Some(set) = self.later.get(&at) {
            values.extend((0..=255u8).filter(|v| set[*v as usize / 64] & (1 << (v % 64)) != 0));
        }
        let list: Vec<String> = values.iter().map(|v| format!("{v:#04x}")).collect();
        list.join(", ")
    }
}

/// Paints the promises into disjoint segments, latest sync winning.
fn segments(promises: &[PromiseArgs]) -> Vec<Segment> {
    let mut files: Vec<u64> = promises.iter().map(|p| p.file).collect();
    files.sort_unstable();
    files.dedup();
    let mut out = Vec::new();
    for ino in files {
        let mine: Vec<&PromiseArgs> = promises.iter().filter(|p| p.file == ino).collect();
        let mut cuts: Vec<u64> = mine
            .iter()
            .flat_map(|p| [p.offset, p.offset + p.len])
            .collect();
        cuts.sort_unstable();
        cuts.dedup();
        for w in cuts.windows(2) {
            let (start, end) = (w[0], w[1]);
            let Some(op) = mine
                .iter()
                .filter(|p| p.offset <= start && end <= p.offset + p.len)
                .map(|p| p.op)
                .max()
            else {
                continue;
            };
            match out.last_mut() {
                Some(Segment {
                    ino: i,
                    end: e,
                    op: o,
                    ..
                }) if *i == ino && *e == start && *o == op => *e = end,
                _ => out.push(Segment {
                    ino,
                    start,
                    end,
                    op,
                    expected: Vec::new(),
                    later: BTreeMap::new(),
                }),
            }
        }
    }
    out
}

/// Adds the values of `change` (by operation `id`) to the segments it hits.
fn record(segs: &mut [Segment], id: u64, change: &Change) {
    for s in segs.iter_mut().filter(|s| s.ino == change.ino && s.op < id) {
        let from = s.start.max(change.off);
        let to = s.end.min(change.off + change.len);
        for at in from..to {
            let v = change.byte(at);
            if s.expected[(at - s.start) as usize] != v {
                s.later.entry(at).or_insert([0; 4])[v as usize / 64] |= 1 << (v % 64);
            }
        }
    }
}

/// Checks every segment against the recovered file system.
fn check(fs: &mut Fs, segs: &[Segment]) -> Result<(), String> {
    for s in segs {
        if s.expected.len() as u64 != s.end - s.start {
            return Err(format!(
                "inode {}: a promise names sync op {}, which the workload never reached",
                s.ino, s.op
            ));
        }
        let mut found = io::read(fs, s.ino, s.start, s.end - s.start);
        found.resize((s.end - s.start) as usize, 0);
        let bad: Vec<u64> = (s.start..s.end)
            .filter(|at| !s.allows(*at, found[(at - s.start) as usize]))
            .collect();
        if let (Some(&first), Some(&last)) = (bad.first(), bad.last()) {
            let device = fs.inode(s.ino).block(first / PAGE).map_or_else(
                || String::from("a hole"),
                |b| format!("device offset {:#x}", layout::block_off(b) + first % PAGE),
            );
            return Err(format!(
                "file {} offset {first:#x} ({device}): promised by op {}, allowed {{{}}}, found {:#04x}; {} promised bytes lost in [{first:#x}, {:#x}]",
                s.ino,
                s.op,
                s.allowed(first),
                found[(first - s.start) as usize],
                bad.len(),
                last
            ));
        }
    }
    Ok(())
}

fn verify_inner(plan: &Plan, variant: Variant) -> Result<String, String> {
    let (last_op, promises) = report::verify_info().ok_or("no verify information")?;
    let mut fs = Fs::mount(exec::media()?, variant).map_err(|e| format!("mount: {e}"))?;
    let mut segs = segments(promises);
    let mut model = Model::new(&plan.files);
    for (i, op) in plan.ops.iter().enumerate().take(last_op as usize) {
        let id = i as u64 + 1;
        for s in segs.iter_mut().filter(|s| s.op == id) {
            s.expected = model.bytes(s.ino, s.start, s.end - s.start);
        }
        if let Some(change) = model.apply(op) {
            record(&mut segs, id, &change);
        }
    }
    check(&mut fs, &segs)?;
    Ok(format!(
        "{} promises, {} segments, ops up to {last_op}",
        promises.len(),
        segs.len()
    ))
}

/// Verify mode: mount (recover), check the promises; the verdict goes to
/// the VMM, the exit status is 0.
pub fn verify(plan: &Plan, variant: Variant) -> u32 {
    match verify_inner(plan, variant) {
        Ok(msg) => report::verdict(true, &msg),
        Err(msg) => report::verdict(false, &msg),
    }
    0
}
