//! Verify mode and the durability oracle of section 7.12.
//!
//! A promised byte must hold the value of the last write completed before
//! its sync started, or a value written by an operation that had not
//! completed by then and started before the crash (operations of race
//! scripts overlap: their start and end order comes from
//! [`Plan::events`]). A later promise covering a byte allows a subset of
//! what an earlier one allows, so only the latest promise of each byte
//! matters: the promises are painted into disjoint segments, each with its
//! sync's id and the number of changes completed when that sync started.
//! Segments are compared a page at a time against the sparse model, a word
//! at a time, with a per-byte look at the later writes only on mismatch.

use super::model::{Change, Model, Pristine};
use super::{Event, Plan, exec};
use crate::dax::fs::Fs;
use crate::dax::inode::Inode;
use crate::dax::io;
use crate::dax::layout::{self, PAGE};
use crate::dax::variant::Variant;
use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use pmemvm_abi::PromiseArgs;
use pmemvm_sdk::report::{self, Finding, WrittenPages};

/// Bytes `[start, end)` of a file whose latest promise is sync `op`.
struct Segment {
    ino: u64,
    start: u64,
    end: u64,
    op: u64,
    /// Changes completed when `op` started (`None` until then).
    upto: Option<usize>,
}

/// Every value byte `at` of `ino` may hold: `expected`, or a value written
/// by change `upto` or later.
fn allowed(ino: u64, at: u64, expected: u8, later: &[Change]) -> Vec<u8> {
    let mut values = alloc::vec![expected];
    values.extend(
        later
            .iter()
            .filter(|c| c.covers(ino, at))
            .map(|c| c.byte(at)),
    );
    values.sort_unstable();
    values.dedup();
    values
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
                    upto: None,
                }),
            }
        }
    }
    out
}

/// The first bad byte of a segment, their count and the last one.
struct Lost {
    first: u64,
    allowed: Vec<u8>,
    found: u8,
    count: u64,
    last: u64,
}

/// Compares segment `s` with the recovered file, a page at a time.
fn compare(fs: &mut Fs, model: &Model, s: &Segment, upto: usize) -> Option<Lost> {
    let (mut found, mut expected) = ([0u8; PAGE as usize], [0u8; PAGE as usize]);
    let later = &model.changes()[upto..];
    let mut lost: Option<Lost> = None;
    let mut pristine = model.pristine(s.ino, upto);
    let written = report::written_pages();
    let mut at = s.start;
    while at < s.end {
        let n = ((at / PAGE + 1) * PAGE).min(s.end) - at;
        if n == PAGE && unchanged_since_setup(fs.inode(s.ino), &mut pristine, &written, at / PAGE) {
            at += n;
            continue;
        }
        let (f, e) = (&mut found[..n as usize], &mut expected[..n as usize]);
        io::read_into(fs, s.ino, at, f);
        model.fill(s.ino, at, e, upto);
        if f != e {
            // A byte that differs is still right if a later write put it there.
            let mut right = [false; PAGE as usize];
            let right = &mut right[..n as usize];
            for (r, (v, x)) in right.iter_mut().zip(f.iter().zip(e.iter())) {
                *r = v == x;
            }
            for c in later.iter().filter(|c| c.ino == s.ino) {
                c.explain(at, f, right);
            }
            for (i, (&v, &x)) in f.iter().zip(e.iter()).enumerate() {
                let b = at + i as u64;
                if right[i] {
                    continue;
                }
                match &mut lost {
                    Some(l) => {
                        l.count += 1;
                        l.last = b;
                    }
                    None => {
                        lost = Some(Lost {
                            first: b,
                            allowed: allowed(s.ino, b, x, later),
                            found: v,
                            count: 1,
                            last: b,
                        })
                    }
                }
            }
        }
        at += n;
    }
    lost
}

/// True when a whole page needs no check: no operation up to the sync wrote
/// it (so it must hold the setup pattern), the recovered file still maps it
/// to its setup block and covers it, and no traced store wrote that block
/// (so it holds exactly what the setup left, the VMM says, in every image).
fn unchanged_since_setup(
    inode: &Inode,
    pristine: &mut Pristine,
    written: &WrittenPages,
    page: u64,
) -> bool {
    let Some(block) = pristine.block(page) else {
        return false;
    };
    inode.block(page).map(u64::from) == Some(block)
        && inode.cur.size >= (page + 1) * PAGE
        && !written.contains(block * PAGE / 4096)
}

/// Checks every segment against the recovered file system: check
/// `promise-op-unreached` (a promise names an operation the workload never
/// started before the crash) and `promised-data` (promised bytes lost).
fn check(fs: &mut Fs, segs: &[Segment], model: &Model) -> Result<(), Finding> {
    for s in segs {
        let Some(upto) = s.upto else {
            return Err(Finding::new(
                "promise-op-unreached",
                format!(
                    "inode {}: a promise names sync op {}, which the workload never reached",
                    s.ino, s.op
                ),
            ));
        };
        if let Some(l) = compare(fs, model, s, upto) {
            let device = fs.inode(s.ino).block(l.first / PAGE).map_or_else(
                || String::from("a hole"),
                |b| format!("device offset {:#x}", layout::block_off(b) + l.first % PAGE),
            );
            return Err(Finding::new(
                "promised-data",
                format!(
                    "file {} offset {:#x} ({device}): promised by op {}, allowed {{{}}}, found {:#04x}; {} promised bytes lost in [{:#x}, {:#x}]",
                    s.ino,
                    l.first,
                    s.op,
                    l.allowed
                        .iter()
                        .map(|v| format!("{v:#04x}"))
                        .collect::<Vec<_>>()
                        .join(", "),
                    l.found,
                    l.count,
                    l.first,
                    l.last
                ),
            ));
        }
    }
    Ok(())
}

/// Recovers and checks; a recovery that fails is check `mount`, a boot
/// without the VMM's verify information `verify-info`.
fn verify_inner(plan: &Plan, variant: Variant) -> Result<String, Finding> {
    let (last_op, promises) = report::verify_info()
        .ok_or_else(|| Finding::new("verify-info", "no verify information"))?;
    let mount = |e| Finding::new("mount", e);
    let mut fs = Fs::mount(exec::media().map_err(mount)?, variant)
        .map_err(|e| mount(format!("mount: {e}")))?;
    let mut segs = segments(promises);
    let mut model = Model::new(&plan.files);
    let mut pending = BTreeMap::new();
    for event in plan.events() {
        match event {
            Event::Begin(id) if id <= last_op => {
                let upto = model.changes().len();
                for s in segs.iter_mut().filter(|s| s.op == id) {
                    s.upto = Some(upto);
                }
                if let Some(change) = model.change(&plan.ops[id as usize - 1]) {
                    pending.insert(id, change);
                }
            }
            Event::End(id) => {
                if let Some(change) = pending.remove(&id) {
                    model.push(change);
                }
            }
            Event::Begin(_) => {}
        }
    }
    check(&mut fs, &segs, &model)?;
    Ok(format!(
        "{} promises, {} segments, ops up to {last_op}",
        promises.len(),
        segs.len()
    ))
}

/// Verify mode: mount (recover), check the promises; the verdict goes to
/// the VMM, the exit status is 0.
pub fn verify(plan: &Plan, variant: Variant) -> u32 {
    report::verdict(verify_inner(plan, variant));
    0
}
