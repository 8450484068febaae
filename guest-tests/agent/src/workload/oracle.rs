//! Verify mode and the durability oracle of section 7.12.
//!
//! A promised byte must hold the value it had when its sync started, or a
//! value written to it by a later operation started before the crash. A
//! later promise covering a byte allows a subset of what an earlier one
//! allows, so only the latest promise of each byte matters: the promises
//! are painted into disjoint segments, each with its sync's id. Replaying
//! the plan's effects up to the last started operation, a segment takes a
//! snapshot of the model just before its sync and remembers the writes
//! that hit it afterwards.

use super::model::{Change, Model};
use super::{Plan, exec};
use crate::dax::fs::Fs;
use crate::dax::io;
use crate::dax::layout::{self, PAGE};
use crate::dax::variant::Variant;
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
    /// Indices (into the replay's changes) of later writes that hit it.
    later: Vec<usize>,
}

impl Segment {
    /// Every value byte `at` may hold.
    fn allowed(&self, at: u64, changes: &[Change]) -> Vec<u8> {
        let mut values = alloc::vec![self.expected[(at - self.start) as usize]];
        values.extend(
            self.later
                .iter()
                .map(|&i| &changes[i])
                .filter(|c| (c.off..c.off + c.len).contains(&at))
                .map(|c| c.byte(at)),
        );
        values.sort_unstable();
        values.dedup();
        values
    }

    fn allows(&self, at: u64, v: u8, changes: &[Change]) -> bool {
        self.expected[(at - self.start) as usize] == v || self.allowed(at, changes).contains(&v)
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
                    later: Vec::new(),
                }),
            }
        }
    }
    out
}

/// Notes `changes[index]` (by operation `id`) in the segments it hits
/// whose sync came before.
fn record(segs: &mut [Segment], id: u64, changes: &[Change], index: usize) {
    let c = &changes[index];
    for s in segs.iter_mut().filter(|s| s.ino == c.ino && s.op < id) {
        if s.start < c.off + c.len && c.off < s.end {
            s.later.push(index);
        }
    }
}

/// Checks every segment against the recovered file system.
fn check(fs: &mut Fs, segs: &[Segment], changes: &[Change]) -> Result<(), String> {
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
            .filter(|at| !s.allows(*at, found[(at - s.start) as usize], changes))
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
                s.allowed(first, changes)
                    .iter()
                    .map(|v| format!("{v:#04x}"))
                    .collect::<Vec<_>>()
                    .join(", "),
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
    let mut changes = Vec::new();
    for (i, op) in plan.ops.iter().enumerate().take(last_op as usize) {
        let id = i as u64 + 1;
        for s in segs.iter_mut().filter(|s| s.op == id) {
            s.expected = model.bytes(s.ino, s.start, s.end - s.start);
        }
        if let Some(change) = model.apply(op) {
            changes.push(change);
            record(&mut segs, id, &changes, changes.len() - 1);
        }
    }
    check(&mut fs, &segs, &changes)?;
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
