//! The model against a brute-force enumerator written straight from the
//! rules of PERSISTENCY.md, on random small event streams, in all four modes.
//!
//! The reference knows nothing of snapshots, lower bounds or pending sets:
//! it tries every subset of the writes as "the writes that are present",
//! keeps the subsets the rules allow, and builds each image by rule 8.

use std::collections::{BTreeMap, BTreeSet};

use pmemvm_device::crash::{Image, ImageSpec, UnitChoice};
use pmemvm_device::model::{Atomicity, FenceKind, FlushKind, Model, ModelConfig, Persistence};
use proptest::prelude::*;

const LINE: u64 = 64;

/// A guest event. Writes never cross an 8-byte word, so they are one write
/// in both atomicity modes.
#[derive(Clone, Debug)]
enum Ev {
    Store { off: u64, len: u64, val: u8 },
    Nt { off: u64, len: u64, val: u8 },
    Rmw { off: u64, len: u64, val: u8 },
    Flush { kind: FlushKind, line: u64 },
    Fence(FenceKind),
    Io,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    Cached,
    Nt,
}

/// One write as the reference sees it.
#[derive(Clone, Debug)]
struct W {
    seq: u64,
    kind: Kind,
    off: u64,
    len: u64,
    val: u8,
}

impl W {
    fn line(&self) -> u64 {
        self.off / LINE
    }
}

/// The program with sequence numbers: event i has sequence number i + 1.
struct Prog {
    writes: Vec<W>,
    /// (seq, line) of clflush / clwb|clflushopt.
    clflush: Vec<(u64, u64)>,
    clwb: Vec<(u64, u64)>,
    /// seq of sfence / mfence / locked RMW.
    fences: Vec<u64>,
    /// seq of eADR drain points (fences, RMW, clflush, port I/O).
    drains: Vec<u64>,
}

fn program(evs: &[Ev]) -> Prog {
    let mut p = Prog {
        writes: vec![],
        clflush: vec![],
        clwb: vec![],
        fences: vec![],
        drains: vec![],
    };
    for (i, ev) in evs.iter().enumerate() {
        let seq = i as u64 + 1;
        match *ev {
            Ev::Store { off, len, val } => p.writes.push(W {
                seq,
                kind: Kind::Cached,
                off,
                len,
                val,
            }),
            Ev::Nt { off, len, val } => p.writes.push(W {
                seq,
                kind: Kind::Nt,
                off,
                len,
                val,
            }),
            Ev::Rmw { off, len, val } => {
                p.writes.push(W {
                    seq,
                    kind: Kind::Cached,
                    off,
                    len,
                    val,
                });
                p.fences.push(seq);
                p.drains.push(seq);
            }
            Ev::Flush {
                kind: FlushKind::Clflush,
                line,
            } => {
                p.clflush.push((seq, line));
                p.drains.push(seq);
            }
            Ev::Flush { line, .. } => p.clwb.push((seq, line)),
            Ev::Fence(_) => {
                p.fences.push(seq);
                p.drains.push(seq);
            }
            Ev::Io => p.drains.push(seq),
        }
    }
    p
}

struct Reference {
    eadr: bool,
    unit: u64,
    init: BTreeMap<u64, u8>,
    prog: Prog,
}

impl Reference {
    /// Is write `w` guaranteed persistent (rules 2, 3; eADR rules)?
    fn guaranteed(&self, w: &W) -> bool {
        let p = &self.prog;
        match (self.eadr, w.kind) {
            (false, Kind::Cached) => {
                p.clflush.iter().any(|&(s, l)| s > w.seq && l == w.line())
                    || p.clwb.iter().any(|&(s, l)| {
                        s > w.seq && l == w.line() && p.fences.iter().any(|&f| f > s)
                    })
            }
            (true, Kind::Cached) => p.drains.iter().any(|&d| d >= w.seq),
            (_, Kind::Nt) => p.fences.iter().any(|&f| f > w.seq),
        }
    }

    fn unit_of(&self, off: u64) -> u64 {
        off / self.unit
    }

    /// Does the set of present writes (`present[i]` for write i) satisfy the rules?
    fn allowed(&self, present: &[bool]) -> bool {
        let ws = &self.prog.writes;
        for (i, w) in ws.iter().enumerate() {
            if self.guaranteed(w) && !present[i] {
                return false;
            }
            if !present[i] {
                continue;
            }
            for (j, o) in ws.iter().enumerate().take(i) {
                if o.kind != Kind::Cached || present[j] {
                    continue;
                }
                // An absent older cached write `o`, a present write `w`.
                match (self.eadr, w.kind) {
                    // Rule 6: one unit's cached writes persist in order.
                    (false, Kind::Cached) if self.unit_of(o.off) == self.unit_of(w.off) => {
                        return false;
                    }
                    // eADR: a program-order prefix of all cached writes.
                    (true, Kind::Cached) => return false,
                    // eADR: an NT write needs older cached writes to its line.
                    (true, Kind::Nt) if o.line() == w.line() => return false,
                    _ => {}
                }
            }
        }
        true
    }

    /// Rule 8.
    fn image(&self, present: &[bool]) -> Image {
        let mut lines: BTreeMap<u64, [u8; 64]> = self
            .init
            .iter()
            .map(|(&l, &v)| (l * LINE, [v; 64]))
            .collect();
        for (i, w) in self.prog.writes.iter().enumerate() {
            if present[i] {
                let line = lines.entry(w.line() * LINE).or_insert([0; 64]);
                for o in w.off..w.off + w.len {
                    line[(o % LINE) as usize] = w.val;
                }
            }
        }
        Image { lines }
    }

    fn all_images(&self) -> BTreeSet<Vec<(u64, [u8; 64])>> {
        let n = self.prog.writes.len();
        let mut out = BTreeSet::new();
        for mask in 0u32..(1 << n) {
            let present: Vec<bool> = (0..n).map(|i| mask >> i & 1 == 1).collect();
            if self.allowed(&present) {
                out.insert(flat(&self.image(&present)));
            }
        }
        out
    }

    /// The image an explicit spec names, if the rules allow it.
    fn spec_image(&self, units: &[UnitChoice]) -> Option<Image> {
        let ws = &self.prog.writes;
        let mut named: BTreeMap<u64, &UnitChoice> = BTreeMap::new();
        for u in units {
            if u.offset % self.unit != 0
                || !self.init.contains_key(&(u.offset / LINE))
                || named.insert(u.offset / self.unit, u).is_some()
            {
                return None;
            }
            let mut seen = BTreeSet::new();
            for nt in &u.nt {
                let pending = ws.iter().any(|w| {
                    w.seq == *nt
                        && w.kind == Kind::Nt
                        && self.unit_of(w.off) == u.offset / self.unit
                        && !self.guaranteed(w)
                });
                if !pending || !seen.insert(*nt) {
                    return None;
                }
            }
            let cached_seqs: Vec<u64> = ws
                .iter()
                .filter(|w| w.kind == Kind::Cached && self.unit_of(w.off) == u.offset / self.unit)
                .map(|w| w.seq)
                .collect();
            if u.upto != 0 && !cached_seqs.contains(&u.upto) {
                return None;
            }
        }
        let present: Vec<bool> = ws
            .iter()
            .map(|w| {
                let unit = self.unit_of(w.off);
                match (named.get(&unit), w.kind) {
                    (Some(c), Kind::Cached) => w.seq <= c.upto,
                    (Some(c), Kind::Nt) => c.nt.contains(&w.seq) || self.guaranteed(w),
                    // Not named: its minimal state.
                    (None, _) => {
                        self.guaranteed(w)
                            || (w.kind == Kind::Cached
                                && ws.iter().any(|g| {
                                    g.kind == Kind::Cached
                                        && g.seq > w.seq
                                        && self.unit_of(g.off) == unit
                                        && self.guaranteed(g)
                                }))
                    }
                }
            })
            .collect();
        self.allowed(&present).then(|| self.image(&present))
    }
}

fn flat(img: &Image) -> Vec<(u64, [u8; 64])> {
    img.lines.iter().map(|(&k, &v)| (k, v)).collect()
}

/// Runs the stream on a model; after each event checks it against the reference.
fn check(
    evs: &[Ev],
    inits: &[u8],
    persistence: Persistence,
    atomicity: Atomicity,
    junk: &[(u64, u64, Vec<u64>)],
) {
    let mut m = Model::new(ModelConfig {
        size: 4 * LINE,
        persistence,
        atomicity,
    });
    let mut init = BTreeMap::new();
    for (i, ev) in evs.iter().enumerate() {
        let seq = i as u64 + 1;
        let mut write_line = |off: u64| {
            let l = off / LINE;
            if m.needs_init(off) {
                m.init_line(off, [inits[l as usize]; 64]);
            }
            init.insert(l, inits[l as usize]);
        };
        match *ev {
            Ev::Store { off, len, val } => {
                write_line(off);
                m.store(seq, off, &vec![val; len as usize]).unwrap();
            }
            Ev::Nt { off, len, val } => {
                write_line(off);
                m.ntstore(seq, off, &vec![val; len as usize]).unwrap();
            }
            Ev::Rmw { off, len, val } => {
                write_line(off);
                m.rmw(seq, off, &vec![val; len as usize]).unwrap();
            }
            Ev::Flush { kind, line } => m.flush(seq, kind, line * LINE).unwrap(),
            Ev::Fence(kind) => m.fence(seq, kind),
            Ev::Io => m.drain(seq),
        }
        let r = Reference {
            eadr: persistence == Persistence::Eadr,
            unit: atomicity.unit_size(),
            init: init.clone(),
            prog: program(&evs[..=i]),
        };
        let expected = r.all_images();
        let ctx = format!("{persistence}/{atomicity} after {:?}", &evs[..=i]);

        // Enumeration and count, exactly.
        let got = m.enumerate_images(1 << 16).expect("small");
        let got_set: BTreeSet<_> = got.iter().map(|(_, img)| flat(img)).collect();
        assert_eq!(got_set.len(), got.len(), "duplicate images: {ctx}");
        assert_eq!(got_set, expected, "{ctx}");
        assert_eq!(m.count_images(), expected.len() as u128, "{ctx}");

        // Every spec names its image, round-trips, and the reference agrees.
        for (spec, img) in &got {
            assert_eq!(&m.image(spec).unwrap(), img, "{ctx} {spec}");
            assert_eq!(&spec.to_string().parse::<ImageSpec>().unwrap(), spec);
            let ImageSpec::Units(units) = spec else {
                panic!("not explicit")
            };
            assert_eq!(r.spec_image(units).as_ref(), Some(img), "{ctx} {spec}");
        }

        // The latest content of each line: every write of the run present.
        let all = r.image(&vec![true; r.prog.writes.len()]);
        for l in 0..4 {
            let latest = m.latest_line(l * LINE);
            assert_eq!(
                latest.as_ref(),
                all.lines.get(&(l * LINE)),
                "{ctx} line {l}"
            );
        }

        // Named images and the crash tester's helpers stay inside the set.
        let mut named = vec![ImageSpec::Minimal, ImageSpec::Maximal];
        named.extend((0..4).map(ImageSpec::Random));
        for spec in &named {
            let img = m.image(spec).unwrap();
            assert!(expected.contains(&flat(&img)), "{ctx} {spec}");
            let resolved = m.resolve(spec);
            assert_eq!(
                m.image(&resolved).unwrap(),
                img,
                "{ctx} {spec} -> {resolved}"
            );
        }
        for (spec, img) in m.subsets(2, 100).iter().chain(&m.sample(8, seq)) {
            assert!(expected.contains(&flat(img)), "{ctx} {spec}");
            assert_eq!(&m.image(spec).unwrap(), img, "{ctx} {spec}");
        }

        // Arbitrary explicit specs: accepted exactly when the rules allow them.
        for (unit, upto, nt) in junk {
            let unit_size = atomicity.unit_size();
            let offset = (unit * 8) / unit_size * unit_size;
            let spec = vec![UnitChoice {
                offset,
                upto: *upto,
                nt: nt.clone(),
            }];
            let ours = m.image(&ImageSpec::Units(spec.clone())).ok();
            assert_eq!(
                ours,
                r.spec_image(&spec),
                "{ctx} {}",
                ImageSpec::Units(spec)
            );
        }
        // Plausible explicit specs: units the run wrote, upto among their
        // cached writes, NT lists among their NT writes (pending or not).
        let mut rng = (seq + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ junk.len() as u64;
        let mut next = move |n: u64| {
            rng = rng
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (rng >> 33) % n.max(1)
        };
        let unit_size = atomicity.unit_size();
        let units: BTreeSet<u64> = r.prog.writes.iter().map(|w| w.off / unit_size).collect();
        let units: Vec<u64> = units.into_iter().collect();
        for _ in 0..if units.is_empty() { 0 } else { 6 } {
            let mut spec = Vec::new();
            for _ in 0..1 + next(2) {
                let unit = units[next(units.len() as u64) as usize];
                let mine: Vec<&W> = r
                    .prog
                    .writes
                    .iter()
                    .filter(|w| w.off / unit_size == unit)
                    .collect();
                let cached: Vec<u64> = mine
                    .iter()
                    .filter(|w| w.kind == Kind::Cached)
                    .map(|w| w.seq)
                    .collect();
                let upto = if cached.is_empty() || next(4) == 0 {
                    0
                } else {
                    cached[next(cached.len() as u64) as usize]
                };
                let nt: Vec<u64> = mine
                    .iter()
                    .filter(|w| w.kind == Kind::Nt && next(2) == 0)
                    .map(|w| w.seq)
                    .collect();
                spec.push(UnitChoice {
                    offset: unit * unit_size,
                    upto,
                    nt,
                });
            }
            let ours = m.image(&ImageSpec::Units(spec.clone())).ok();
            assert_eq!(
                ours,
                r.spec_image(&spec),
                "{ctx} {}",
                ImageSpec::Units(spec)
            );
        }
        let seqs = evs.len() as u64;
        for (a, b) in [(0u64, 1u64), (2, 3)] {
            // Two units at once, with sequence numbers of the run.
            let spec = vec![
                UnitChoice {
                    offset: 0,
                    upto: a.min(seqs),
                    nt: vec![],
                },
                UnitChoice {
                    offset: LINE,
                    upto: b.min(seqs),
                    nt: vec![],
                },
            ];
            let ours = m.image(&ImageSpec::Units(spec.clone())).ok();
            assert_eq!(
                ours,
                r.spec_image(&spec),
                "{ctx} {}",
                ImageSpec::Units(spec)
            );
        }
    }
}

fn ev() -> impl Strategy<Value = Ev> {
    // Three lines, two words each, four shapes within a word, two values.
    let place = (0u64..3, 0u64..2, 0usize..4, 1u8..3).prop_map(|(line, word, shape, val)| {
        let (sub, len) = [(0, 8), (0, 4), (4, 4), (2, 2)][shape];
        (line * LINE + word * 8 + sub, len, val)
    });
    prop_oneof![
        5 => place.clone().prop_map(|(off, len, val)| Ev::Store { off, len, val }),
        3 => place.clone().prop_map(|(off, len, val)| Ev::Nt { off, len, val }),
        1 => place.prop_map(|(off, len, val)| Ev::Rmw { off, len, val }),
        3 => (0usize..3, 0u64..3).prop_map(|(k, line)| Ev::Flush {
            kind: [FlushKind::Clwb, FlushKind::Clflushopt, FlushKind::Clflush][k],
            line,
        }),
        2 => (0usize..2).prop_map(|k| Ev::Fence([FenceKind::Sfence, FenceKind::Mfence][k])),
        1 => Just(Ev::Io),
    ]
}

/// Arbitrary explicit choices to try: (unit number, upto, NT list).
type Junk = Vec<(u64, u64, Vec<u64>)>;

fn stream() -> impl Strategy<Value = (Vec<Ev>, Vec<u8>, Junk)> {
    (
        prop::collection::vec(ev(), 1..11),
        prop::collection::vec(0u8..2, 4),
        prop::collection::vec(
            (0u64..25, 0u64..12, prop::collection::vec(1u64..12, 0..3)),
            0..4,
        ),
    )
}

fn cases() -> u32 {
    std::env::var("PMEMVM_REFERENCE_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1500)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    #[test]
    fn adr_line_matches_reference((evs, inits, junk) in stream()) {
        check(&evs, &inits, Persistence::Adr, Atomicity::Line, &junk);
    }

    #[test]
    fn adr_word_matches_reference((evs, inits, junk) in stream()) {
        check(&evs, &inits, Persistence::Adr, Atomicity::Word, &junk);
    }

    #[test]
    fn eadr_line_matches_reference((evs, inits, junk) in stream()) {
        check(&evs, &inits, Persistence::Eadr, Atomicity::Line, &junk);
    }

    #[test]
    fn eadr_word_matches_reference((evs, inits, junk) in stream()) {
        check(&evs, &inits, Persistence::Eadr, Atomicity::Word, &junk);
    }
}
