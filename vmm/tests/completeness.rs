//! The default crash points lose no bug (`traces/CRASH-POINTS.md`).
//!
//! On hundreds of small random programs (stores, NT stores, locked RMWs,
//! every flush and fence, promises, marks, port I/O), under ADR (line and
//! word atomicity) and eADR, every crash image of every point is
//! enumerated and checked two ways:
//!
//! * each promise, byte by byte, the way pmemvm checks promises: a byte
//!   keeps its promise when it holds the value the promise saw or a later
//!   write's; a bug is a promised write that some image lost (and pmemvm's
//!   own check, `promise_check`, must fail exactly the images that lose
//!   one);
//! * invariants of the kind a recovery checks ("if the commit store
//!   persisted, the record store did"): a bug is an invariant some image
//!   breaks.
//!
//! The bugs found at the default points (`fences`) must be exactly those
//! found at every point of the run (`all`); the old `after-fences` meaning
//! must miss some (a persistent log whose `append` forgets the fence
//! between its record and its commit is one).
//!
//! No VM is involved: this is the model and the point selection alone.

use pmemvm::promise_check::PromiseChecker;
use pmemvm::replay;
use pmemvm_device::crash::ImageSpec;
use pmemvm_device::model::Model;
use pmemvm_traces::selection::select;
use pmemvm_traces::{
    Atomicity, Device, DeviceRange, Event, EventKind, Flush, Header, Io, Mark, Persistence,
    PointSet, Promise, Write,
};
use std::collections::{BTreeSet, HashMap};

const BASE: u64 = 1 << 32;
/// Lines the programs touch.
const LINES: u64 = 3;
/// Images enumerated per point at most; a program with more is skipped.
const LIMIT: usize = 1 << 14;

/// splitmix64.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Builds a trace event by event: each write's bytes are its own seq (so an
/// image's byte names the write that set it) and its RIP names it too.
#[derive(Default)]
struct Program {
    events: Vec<Event>,
    touched: BTreeSet<u64>,
    /// Recovery invariants: (record write, a byte of it, commit write, a
    /// byte of it): an image holding the commit must hold the record.
    invariants: Vec<(u64, u64, u64, u64)>,
}

/// What a check found: a promised write lost, or an invariant broken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Bug {
    Promise(u64),
    Invariant(usize),
}

impl Program {
    fn push(&mut self, kind: EventKind) {
        let seq = self.events.len() as u64 + 1;
        self.events.push(Event::new(seq, kind));
    }

    fn write(&mut self, offset: u64, len: u64) -> Write {
        let seq = self.events.len() as u64 + 1;
        assert!(seq < 256, "a byte names its write");
        let w = Write::new(
            BASE + offset,
            offset,
            vec![seq as u8; len as usize],
            0x1000 + seq,
        );
        if self.touched.insert(offset & !63) {
            w.with_init([0; 64])
        } else {
            w
        }
    }

    fn store(&mut self, offset: u64, len: u64) {
        let w = self.write(offset, len);
        self.push(EventKind::Store(w));
    }

    fn ntstore(&mut self, offset: u64, len: u64) {
        let w = self.write(offset, len);
        self.push(EventKind::NtStore(w));
    }

    fn rmw(&mut self, offset: u64) {
        let w = self.write(offset, 8);
        self.push(EventKind::Rmw(w));
    }

    fn flush(&mut self, kind: fn(Flush) -> EventKind, offset: u64) {
        self.push(kind(Flush::new(BASE + offset, offset)));
    }

    fn promise(&mut self, offset: u64, len: u64) {
        self.push(EventKind::Promise(Promise {
            file: 1,
            offset,
            len,
            op: 1,
            ranges: vec![DeviceRange { offset, len }],
        }));
    }

    /// A random program of `n` events.
    fn random(rng: &mut Rng, n: usize) -> Program {
        let mut p = Program::default();
        while p.events.len() < n {
            let line = rng.below(LINES) * 64;
            let word = line + rng.below(8) * 8;
            match rng.below(100) {
                0..=34 => {
                    let (off, len) = if rng.below(4) == 0 { (4, 4) } else { (0, 8) };
                    p.store(word + off, len);
                }
                35..=41 => p.ntstore(word, 8),
                42..=44 => p.rmw(word),
                45..=56 => p.flush(EventKind::Clwb, word),
                57..=61 => p.flush(EventKind::ClflushOpt, word),
                62..=65 => p.flush(EventKind::Clflush, word),
                66..=75 => p.push(EventKind::Sfence),
                76..=78 => p.push(EventKind::Mfence),
                79..=89 => p.promise(word, 8 + 8 * rng.below(2).min(7 - (word % 64) / 8)),
                90..=94 => p.push(EventKind::Mark(Mark::new(if rng.below(8) == 0 {
                    "crash"
                } else {
                    "op"
                }))),
                _ => p.push(EventKind::Io(Io { port: 0xe9 })),
            }
        }
        let writes: Vec<(u64, u64)> = p
            .events
            .iter()
            .filter_map(|e| e.kind.write().map(|w| (e.seq, w.offset)))
            .collect();
        if writes.len() >= 2 {
            for _ in 0..3 {
                let a = rng.below(writes.len() as u64) as usize;
                let b = rng.below(writes.len() as u64) as usize;
                let (r, c) = (writes[a.min(b)], writes[a.max(b)]);
                if r.0 != c.0 {
                    p.invariants.push((r.0, r.1, c.0, c.1));
                }
            }
        }
        p
    }

    /// The persistent log of the issue: `append` writes a record (two
    /// lines), flushes it, forgets the fence, writes and flushes the tail,
    /// then fences and promises; three appends.
    fn log_without_fence() -> Program {
        let mut p = Program::default();
        for i in 0..3 {
            let rec = 64 + i * 128;
            p.store(rec, 8);
            p.store(rec + 64, 8);
            p.flush(EventKind::Clwb, rec);
            p.flush(EventKind::Clwb, rec + 64);
            // (the missing sfence)
            let commit = p.events.len() as u64 + 1;
            p.store(0, 8);
            p.flush(EventKind::Clwb, 0);
            p.push(EventKind::Sfence);
            // Recovery: a record below the tail is intact.
            p.invariants.push((commit - 4, rec, commit, 0));
            p.invariants.push((commit - 3, rec + 64, commit, 0));
            p.promise(rec, 8);
            p.promise(rec + 64, 8);
            p.promise(0, 8);
        }
        p
    }
}

/// The bugs of every image of every point of `set`; `None` when a point
/// has more than [`LIMIT`] images.
fn bugs(
    p: &Program,
    persistence: Persistence,
    atomicity: Atomicity,
    set: &PointSet,
) -> Option<BTreeSet<Bug>> {
    let header = Header::new(
        Device {
            base: BASE,
            size: 1 << 20,
        },
        persistence,
        atomicity,
        "completeness",
        "generated",
        1,
        [0; 32],
    );
    let points: BTreeSet<u64> = select(set, persistence, p.events.iter().cloned().map(Ok), 1)
        .expect("selects")
        .into_iter()
        .map(|(seq, _)| seq)
        .collect();
    let mut model = Model::new(replay::model_config(&header));
    // The latest write to each byte, as the guest sees memory.
    let mut latest: HashMap<u64, u64> = HashMap::new();
    // Each promise: per byte, the write it promised (0: the initial content) and when.
    let mut promised: Vec<(u64, u64, u64)> = Vec::new();
    let mut checker = PromiseChecker::default();
    let mut found = BTreeSet::new();
    let mut check =
        |model: &Model, promised: &[(u64, u64, u64)], checker: &PromiseChecker| -> Option<()> {
            let maximal = model.image(&ImageSpec::Maximal).expect("maximal");
            for (spec, image) in model.enumerate_images(LIMIT)? {
                let held = |byte: u64| {
                    image
                        .lines
                        .get(&(byte & !63))
                        .map_or(0, |l| u64::from(l[(byte % 64) as usize]))
                };
                let mut broken = false;
                for &(byte, writer, at) in promised {
                    let h = held(byte);
                    if h != writer && h <= at {
                        found.insert(Bug::Promise(writer));
                        broken = true;
                    }
                }
                let breach = checker.check(&image, &image.differing_lines(&maximal));
                assert_eq!(
                    breach.is_some(),
                    broken,
                    "pmemvm's promise check disagrees on image {spec}: {breach:?}; {:#?}",
                    p.events
                );
                for (i, &(record, rbyte, commit, cbyte)) in p.invariants.iter().enumerate() {
                    if held(cbyte) >= commit && held(rbyte) < record {
                        found.insert(Bug::Invariant(i));
                    }
                }
            }
            Some(())
        };
    if points.contains(&0) {
        check(&model, &promised, &checker)?;
    }
    for ev in &p.events {
        replay::apply(&mut model, ev).expect("applies");
        checker.observe(ev, &model);
        if let Some(w) = ev.kind.write() {
            for b in w.offset..w.offset + w.size() {
                latest.insert(b, ev.seq);
            }
        }
        if let EventKind::Promise(pr) = &ev.kind {
            for b in pr.offset..pr.offset + pr.len {
                promised.push((b, latest.get(&b).copied().unwrap_or(0), ev.seq));
            }
        }
        if points.contains(&ev.seq) {
            check(&model, &promised, &checker)?;
        }
    }
    Some(found)
}

/// The default points find what every point finds, on `n` random programs;
/// returns how many programs `after-fences` got wrong.
fn compare(persistence: Persistence, atomicity: Atomicity, seed: u64, n: usize) -> usize {
    let mut rng = Rng(seed);
    let (mut checked, mut with_bugs, mut after_fences_missed) = (0, 0, 0);
    while checked < n {
        let len = 6 + rng.below(20) as usize;
        let p = Program::random(&mut rng, len);
        let Some(all) = bugs(&p, persistence, atomicity, &PointSet::All) else {
            continue;
        };
        let default = bugs(&p, persistence, atomicity, &PointSet::Fences).expect("fewer points");
        assert_eq!(
            default, all,
            "{persistence:?}/{atomicity:?}: the default points miss bugs of this program: {:#?}",
            p.events
        );
        let after = bugs(&p, persistence, atomicity, &PointSet::AfterFences).expect("fewer points");
        assert!(after.is_subset(&all));
        checked += 1;
        with_bugs += usize::from(!all.is_empty());
        after_fences_missed += usize::from(after != all);
    }
    assert!(
        with_bugs > n / 10,
        "only {with_bugs} of {n} programs have a bug: the generator tests too little"
    );
    after_fences_missed
}

#[test]
fn default_points_find_every_bug_under_adr_line() {
    let missed = compare(Persistence::Adr, Atomicity::Line, 1, 400);
    assert!(
        missed > 0,
        "after-fences missed nothing: the test cannot tell the sets apart"
    );
}

#[test]
fn default_points_find_every_bug_under_adr_word() {
    let missed = compare(Persistence::Adr, Atomicity::Word, 2, 300);
    assert!(
        missed > 0,
        "after-fences missed nothing: the test cannot tell the sets apart"
    );
}

#[test]
fn default_points_find_every_bug_under_eadr() {
    compare(Persistence::Eadr, Atomicity::Line, 3, 300);
    compare(Persistence::Eadr, Atomicity::Word, 4, 200);
}

#[test]
fn after_fences_misses_the_log_without_a_fence_and_the_default_catches_it() {
    let log = Program::log_without_fence();
    let (adr, line) = (Persistence::Adr, Atomicity::Line);
    let all = bugs(&log, adr, line, &PointSet::All).expect("small");
    assert!(!all.is_empty(), "the log loses a promised record");
    assert_eq!(
        bugs(&log, adr, line, &PointSet::Fences).expect("small"),
        all
    );
    assert_eq!(
        bugs(&log, adr, line, &PointSet::AfterFences).expect("small"),
        BTreeSet::new(),
        "after-fences should crash only where everything flushed is durable"
    );
}
