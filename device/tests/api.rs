//! Spec grammar, rejected specs, errors, memory bound, introspection.

mod common;

use common::*;
use pmemvm_device::DeviceError;
use pmemvm_device::crash::{Image, ImageSpec, UnitChoice};
use pmemvm_device::model::{Atomicity, CachedStatus, FlushInfo, Model, ModelConfig, Persistence};
use proptest::prelude::*;

#[test]
fn names_of_modes_round_trip() {
    for p in [Persistence::Adr, Persistence::Eadr] {
        assert_eq!(p.to_string().parse::<Persistence>().unwrap(), p);
    }
    assert_eq!("mem-ctrl".parse::<Persistence>().unwrap(), Persistence::Adr);
    assert_eq!("cpu".parse::<Persistence>().unwrap(), Persistence::Eadr);
    assert!("adr".parse::<Persistence>().is_err());
    for a in [Atomicity::Line, Atomicity::Word] {
        assert_eq!(a.to_string().parse::<Atomicity>().unwrap(), a);
    }
    assert!("byte".parse::<Atomicity>().is_err());
}

#[test]
fn spec_grammar_examples() {
    let cases = [
        ("minimal", ImageSpec::Minimal),
        ("maximal", ImageSpec::Maximal),
        ("random:42", ImageSpec::Random(42)),
        ("units:", ImageSpec::Units(vec![])),
        (
            "units:0x40=3",
            ImageSpec::Units(vec![UnitChoice {
                offset: 0x40,
                upto: 3,
                nt: vec![],
            }]),
        ),
        (
            "units:0x40=0/5,7;0x1f8=9",
            ImageSpec::Units(vec![
                UnitChoice {
                    offset: 0x40,
                    upto: 0,
                    nt: vec![5, 7],
                },
                UnitChoice {
                    offset: 0x1f8,
                    upto: 9,
                    nt: vec![],
                },
            ]),
        ),
    ];
    for (text, spec) in cases {
        assert_eq!(text.parse::<ImageSpec>().unwrap(), spec, "{text}");
        assert_eq!(spec.to_string(), text);
    }
}

#[test]
fn bad_specs_are_rejected_by_the_parser() {
    for bad in [
        "",
        "min",
        "random:",
        "random:x",
        "random:-1",
        "units",
        "units:40=1",
        "units:0x=1",
        "units:0xg=1",
        "units:0x40",
        "units:0x40=",
        "units:0x40=1/",
        "units:0x40=1/2,",
        "units:0x40=+1",
        "units:0x40=1;",
        "units:;",
        "Maximal",
    ] {
        match bad.parse::<ImageSpec>() {
            Err(DeviceError::BadImageSpec { .. }) => {}
            other => panic!("{bad:?} gave {other:?}"),
        }
    }
}

proptest! {
    #[test]
    fn spec_round_trips(spec in prop_oneof![
        Just(ImageSpec::Minimal),
        Just(ImageSpec::Maximal),
        any::<u64>().prop_map(ImageSpec::Random),
        prop::collection::vec(
            (any::<u64>(), any::<u64>(), prop::collection::vec(any::<u64>(), 0..4))
                .prop_map(|(offset, upto, nt)| UnitChoice { offset, upto, nt }),
            0..5,
        ).prop_map(ImageSpec::Units),
    ]) {
        let text = spec.to_string();
        prop_assert_eq!(text.parse::<ImageSpec>().unwrap(), spec);
    }
}

fn not_allowed(m: &Model, text: &str) -> String {
    match m.image(&text.parse().unwrap()) {
        Err(e @ DeviceError::ImageNotAllowed { .. }) => e.to_string(),
        other => panic!("{text} gave {other:?}"),
    }
}

#[test]
fn disallowed_specs_say_why() {
    // ADR: store x (1); clwb x (2); sfence (3); store x (4); nt x (5); sfence (6); nt y (7)
    let mut t = H::new(ADR, LINE);
    t.store(X, &[1; 8]);
    t.clwb(X);
    t.sfence();
    t.store(X, &[2; 8]);
    t.nt(X2, &[3; 8]);
    t.sfence();
    t.nt(Y, &[4; 8]);
    let m = &t.m;
    assert!(m.image(&"units:0x40=1".parse().unwrap()).is_ok());
    assert!(m.image(&"units:0x40=4;0x80=0/7".parse().unwrap()).is_ok());
    assert!(not_allowed(m, "units:0x40=0").contains("below its lower bound"));
    assert!(not_allowed(m, "units:0x40=2").contains("neither"));
    assert!(not_allowed(m, "units:0x40=1/5").contains("not one of its pending NT"));
    assert!(not_allowed(m, "units:0x80=0/7,7").contains("twice"));
    assert!(not_allowed(m, "units:0x40=1;0x40=4").contains("named twice"));
    assert!(not_allowed(m, "units:0x48=1").contains("not the offset"));
    assert!(not_allowed(m, "units:0x100=0").contains("not touched"));

    // eADR: store x (1); store y (2); nt x' (3)
    let mut t = H::new(EADR, WORD);
    t.store(X, &[1; 8]);
    t.store(Y, &[1; 8]);
    t.nt(X2, &[2; 8]);
    let m = &t.m;
    assert!(m.image(&"units:0x40=1".parse().unwrap()).is_ok());
    assert!(
        m.image(&"units:0x40=1;0x80=2;0x48=0/3".parse().unwrap())
            .is_ok()
    );
    assert!(not_allowed(m, "units:0x80=2").contains("not a cut"));
    assert!(not_allowed(m, "units:0x48=0/3").contains("older cached write 1"));
}

#[test]
fn hot_path_errors() {
    let mut m = Model::new(ModelConfig {
        size: 256,
        persistence: Persistence::Adr,
        atomicity: Atomicity::Word,
    });
    assert!(m.needs_init(0x47));
    assert!(matches!(
        m.store(1, 0x40, &[1]),
        Err(DeviceError::LineNotInitialised { line: 0x40 })
    ));
    m.init_line(0x47, [0; 64]);
    assert!(!m.needs_init(0x40));
    assert!(matches!(
        m.store(1, 0x44, &[1; 8]),
        Err(DeviceError::NotOneUnit { unit: 8, .. })
    ));
    assert!(matches!(
        m.store(1, 0x40, &[]),
        Err(DeviceError::NotOneUnit { .. })
    ));
    assert!(matches!(
        m.store(1, 0x100, &[1]),
        Err(DeviceError::OutOfRange { .. })
    ));
    assert!(matches!(
        m.ntstore(1, u64::MAX, &[1]),
        Err(DeviceError::OutOfRange { .. })
    ));
    assert!(matches!(
        m.flush(1, pmemvm_device::model::FlushKind::Clwb, 0x100),
        Err(DeviceError::OutOfRange { .. })
    ));
    m.store(5, 0x40, &[1; 8]).unwrap();
    assert!(matches!(
        m.store(5, 0x48, &[1]),
        Err(DeviceError::SeqNotIncreasing { seq: 5, prev: 5 })
    ));
    assert!(matches!(
        m.rmw(4, 0x48, &[1]),
        Err(DeviceError::SeqNotIncreasing { .. })
    ));
    // Init outside the device is ignored; re-init of a known line too.
    m.init_line(0x100, [9; 64]);
    m.init_line(0x40, [9; 64]);
    assert_eq!(m.image(&ImageSpec::Minimal).unwrap().lines[&0x40], [0; 64]);
    assert_eq!(m.touched_lines().collect::<Vec<_>>(), vec![0x40]);
}

#[test]
fn split_at_units() {
    let line = Model::new(ModelConfig {
        size: 4096,
        persistence: Persistence::Adr,
        atomicity: Atomicity::Line,
    });
    let word = Model::new(ModelConfig {
        size: 4096,
        persistence: Persistence::Adr,
        atomicity: Atomicity::Word,
    });
    assert_eq!(
        line.split(0x3c, 8).collect::<Vec<_>>(),
        vec![(0x3c, 4), (0x40, 4)]
    );
    assert_eq!(line.split(0x44, 8).collect::<Vec<_>>(), vec![(0x44, 8)]);
    assert_eq!(
        word.split(0x44, 8).collect::<Vec<_>>(),
        vec![(0x44, 4), (0x48, 4)]
    );
    assert_eq!(
        word.split(0x40, 16).collect::<Vec<_>>(),
        vec![(0x40, 8), (0x48, 8)]
    );
    assert_eq!(word.split(0x40, 0).count(), 0);
    assert_eq!(
        line.split(0, 200).collect::<Vec<_>>(),
        vec![(0, 64), (64, 64), (128, 64), (192, 8)]
    );
}

#[test]
fn memory_stays_bounded_when_writes_persist() {
    for a in [LINE, WORD] {
        let mut t = H::new(ADR, a);
        for i in 0..10_000u64 {
            let off = (i % 7) * 64 + (i % 3) * 8;
            t.store(off, &i.to_le_bytes());
            t.nt(off + 24, &i.to_le_bytes());
            if i % 3 == 0 {
                t.clflush(off);
            } else {
                t.clwb(off);
            }
            t.sfence();
            assert!(t.m.retained_writes() <= 2, "{}", t.m.retained_writes());
        }
        assert_eq!(t.m.retained_writes(), 0);
        assert_eq!(t.m.count_images(), 1);

        let mut t = H::new(EADR, a);
        for i in 0..10_000u64 {
            t.store((i % 7) * 64, &i.to_le_bytes());
            if i % 5 == 0 {
                t.io();
            }
            assert!(t.m.retained_writes() <= 5);
        }
    }
}

#[test]
fn line_state_tells_where_each_unit_stands() {
    let mut t = H::new(ADR, WORD);
    let s1 = t.store(X, &[1; 8]);
    let f = t.clwb(X);
    let s2 = t.store(X2, &[2; 8]);
    let n = t.nt(X2, &[3; 8]);
    let st = t.m.line_state(X + 5).unwrap();
    assert_eq!(st.offset, X);
    assert_eq!(st.units.len(), 8);
    let u0 = &st.units[0];
    assert_eq!(
        (u0.offset, u0.status, u0.latest_store, u0.persisted_store),
        (X, CachedStatus::FlushedNotFenced, s1, 0)
    );
    assert_eq!(
        u0.flush,
        Some(FlushInfo {
            flush: f,
            store: s1
        })
    );
    let u1 = &st.units[1];
    assert_eq!(
        (u1.status, u1.latest_store, u1.flush),
        (CachedStatus::Dirty, s2, None)
    );
    assert_eq!(u1.pending_nt, vec![n]);
    assert_eq!(st.units[2].status, CachedStatus::Persisted);
    assert!(!st.is_persistent());
    let fence = t.sfence();
    let st = t.m.line_state(X).unwrap();
    assert_eq!(
        (
            st.units[0].status,
            st.units[0].persisted_store,
            st.units[0].persisted_by
        ),
        (CachedStatus::Persisted, s1, fence)
    );
    assert_eq!(st.units[1].status, CachedStatus::Dirty);
    assert!(st.units[1].pending_nt.is_empty());
    assert_eq!(t.m.unpersisted_lines().len(), 1);
    let c = t.clflush(X2);
    let st = t.m.line_state(X).unwrap();
    assert!(st.is_persistent());
    assert_eq!(
        (st.units[1].persisted_store, st.units[1].persisted_by),
        (s2, c)
    );
    assert!(t.m.unpersisted_lines().is_empty());
    assert!(t.m.line_state(Y).is_none());
}

#[test]
fn image_apply_and_hash() {
    let mut t = H::new(ADR, LINE);
    t.store(X, &[1; 8]);
    t.store(0xfc0, &[2; 64]);
    let img = t.m.image(&ImageSpec::Maximal).unwrap();
    let mut media = vec![7u8; 0xfd0];
    img.apply(&mut media);
    assert_eq!(&media[0x40..0x48], &[1; 8]);
    assert_eq!(&media[0x48..0x80], &[0; 0x38][..]);
    assert_eq!(&media[0xfc0..0xfd0], &[2; 16]);
    assert_eq!(media[0x3f], 7);
    // The hash is sha256 of (offset LE, content) per line, ascending.
    let empty = Image::default();
    assert_eq!(
        empty.hash_hex(),
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
    assert_ne!(img.hash(), t.m.image(&ImageSpec::Minimal).unwrap().hash());
    assert_eq!(img.hash(), img.clone().hash());
}

#[test]
fn enumeration_respects_the_limit_and_counts_saturate() {
    let mut t = H::new(ADR, LINE);
    for l in 0..10 {
        t.store(l * 64, &[1; 8]);
    }
    assert_eq!(t.m.count_images(), 1024);
    assert!(t.m.enumerate_images(1023).is_none());
    assert_eq!(t.m.enumerate_images(1024).unwrap().len(), 1024);
    // 60 lines of 4 distinct states each: 2^120.
    let mut t = H::new(ADR, LINE);
    for l in 0..60 {
        t.store(l * 64, &[1; 8]);
        t.nt(l * 64 + 8, &[1; 8]);
    }
    assert_eq!(t.m.count_images(), 1u128 << 120);
    for l in 60..64 {
        t.store(l * 64, &[1; 8]);
        t.nt(l * 64 + 8, &[1; 8]);
    }
    assert_eq!(t.m.count_images(), u128::MAX, "2^128 saturates");
}

#[test]
fn random_is_deterministic_and_resolves_to_an_explicit_spec() {
    for p in [ADR, EADR] {
        let mut t = H::new(p, LINE);
        for i in 0..30u64 {
            t.store((i % 5) * 64, &(i + 1).to_le_bytes());
            t.nt((i % 5) * 64 + 8, &(i + 1).to_le_bytes());
        }
        let a = t.m.random_spec(7);
        assert_eq!(a, t.m.random_spec(7));
        assert!(matches!(a, ImageSpec::Units(_)));
        assert_eq!(
            t.m.image(&a).unwrap(),
            t.m.image(&ImageSpec::Random(7)).unwrap()
        );
        let distinct: std::collections::HashSet<_> = (0..20)
            .map(|s| t.m.image(&ImageSpec::Random(s)).unwrap().hash())
            .collect();
        assert!(distinct.len() > 10);
        let sample = t.m.sample(20, 1);
        assert!(sample.len() > 10);
        let hashes: std::collections::HashSet<_> = sample.iter().map(|(_, i)| i.hash()).collect();
        assert_eq!(hashes.len(), sample.len(), "deduplicated");
        assert_eq!(t.m.sample(20, 1), sample);
    }
}

#[test]
fn subsets_near_the_extremes() {
    // ADR, 4 independent lines: k = 1 gives maximal, 4 singles dropped,
    // minimal, 4 singles raised: 10 images.
    let mut t = H::new(ADR, LINE);
    for l in 0..4 {
        t.store(l * 64, &[1; 8]);
    }
    let s = t.m.subsets(1, 100);
    assert_eq!(s.len(), 10);
    assert_eq!(s[0].1, t.m.image(&ImageSpec::Maximal).unwrap());
    assert_eq!(t.m.subsets(4, 100).len(), 16);
    assert_eq!(t.m.subsets(4, 3).len(), 3);
    // eADR, 4 stores after the drain: cuts 0..=2 and the maximal image.
    let mut t = H::new(EADR, LINE);
    for l in 0..4 {
        t.store(l * 64, &[1; 8]);
    }
    let s = t.m.subsets(2, 100);
    assert_eq!(s.len(), 4);
    assert_eq!(s[0].1, t.m.image(&ImageSpec::Minimal).unwrap());
    assert_eq!(s[3].1, t.m.image(&ImageSpec::Maximal).unwrap());
}
