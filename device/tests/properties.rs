//! The rules and properties of PERSISTENCY.md, one test each, with exact
//! image sets, for ADR and eADR, line and word atomicity.

mod common;

use common::*;
use pmemvm_device::model::{Atomicity, FenceKind, Persistence};

const BOTH: [Atomicity; 2] = [LINE, WORD];

fn h(p: Persistence, a: Atomicity) -> H {
    H::new(p, a)
}

// ---------------------------------------------------------------- ADR ---

#[test]
fn adr_store_clwb_sfence_is_persistent() {
    for a in BOTH {
        let mut t = h(ADR, a);
        t.store(X, &[1; 8]);
        t.clwb(X);
        t.sfence();
        assert_eq!(t.m.count_images(), 1);
        assert_eq!(t.bytes(&[X]), set(&[&[1]]));
    }
}

#[test]
fn adr_clflushopt_and_every_fence_kind_commit() {
    for a in BOTH {
        for kind in [FenceKind::Sfence, FenceKind::Mfence, FenceKind::Rmw] {
            let mut t = h(ADR, a);
            t.store(X, &[1; 8]);
            t.clflushopt(X);
            if kind == FenceKind::Rmw {
                t.rmw(Z, &[5; 8]);
            } else {
                t.fence(kind);
            }
            assert!(t.bytes(&[X]).iter().all(|v| v == &[1]), "{kind:?}");
        }
    }
}

#[test]
fn adr_flush_without_fence_guarantees_nothing() {
    for a in BOTH {
        let mut t = h(ADR, a);
        t.store(X, &[1; 8]);
        t.clwb(X);
        assert_eq!(t.bytes(&[X]), set(&[&[0], &[1]]));
        assert_eq!(t.m.count_images(), 2);
    }
}

#[test]
fn adr_fence_alone_persists_nothing() {
    for a in BOTH {
        let mut t = h(ADR, a);
        t.store(X, &[1; 8]);
        t.sfence();
        t.mfence();
        assert_eq!(t.bytes(&[X]), set(&[&[0], &[1]]));
    }
}

#[test]
fn adr_clflush_needs_no_fence() {
    for a in BOTH {
        let mut t = h(ADR, a);
        t.store(X, &[1; 8]);
        t.clflush(X);
        assert_eq!(t.bytes(&[X]), set(&[&[1]]));
        assert_eq!(t.m.count_images(), 1);
    }
}

#[test]
fn adr_flush_covers_only_its_line() {
    for a in BOTH {
        let mut t = h(ADR, a);
        t.store(X, &[1; 8]);
        t.store(Y, &[1; 8]);
        t.clwb(Y);
        t.sfence();
        assert_eq!(t.bytes(&[X, Y]), set(&[&[0, 1], &[1, 1]]));
    }
}

#[test]
fn adr_clflush_does_not_commit_other_pending_clwb() {
    for a in BOTH {
        let mut t = h(ADR, a);
        t.store(X, &[1; 8]);
        t.store(Y, &[1; 8]);
        t.clwb(X);
        t.clflush(Y);
        assert_eq!(t.bytes(&[X, Y]), set(&[&[0, 1], &[1, 1]]));
    }
}

#[test]
fn adr_different_lines_are_independent() {
    for a in BOTH {
        let mut t = h(ADR, a);
        t.store(X, &[1; 8]);
        t.sfence();
        t.store(Y, &[1; 8]);
        assert_eq!(t.m.count_images(), 4);
        assert_eq!(t.bytes(&[X, Y]).len(), 4);
    }
}

#[test]
fn adr_same_line_persists_in_order_under_line_atomicity() {
    let mut t = h(ADR, LINE);
    t.store(X, &[1; 8]);
    t.store(X2, &[1; 8]);
    assert_eq!(t.bytes(&[X, X2]), set(&[&[0, 0], &[1, 0], &[1, 1]]));
    assert_eq!(t.m.count_images(), 3);
}

#[test]
fn adr_word_atomicity_makes_words_independent() {
    let mut t = h(ADR, WORD);
    t.store(X, &[1; 8]);
    t.store(X2, &[1; 8]);
    assert_eq!(t.bytes(&[X, X2]).len(), 4);
    // ... but a flush covers the whole line, all its words.
    t.clwb(X);
    t.sfence();
    assert_eq!(t.bytes(&[X, X2]), set(&[&[1, 1]]));
}

#[test]
fn adr_nt_write_is_outside_the_line_order() {
    for a in BOTH {
        let mut t = h(ADR, a);
        t.nt(X, &[1; 8]);
        t.store(X2, &[1; 8]);
        assert_eq!(t.bytes(&[X, X2]).len(), 4, "{a}");
        assert_eq!(t.m.count_images(), 4);
    }
}

#[test]
fn adr_nt_write_then_fence_is_persistent() {
    for a in BOTH {
        let mut t = h(ADR, a);
        t.nt(X, &[1; 8]);
        t.sfence();
        assert_eq!(t.bytes(&[X]), set(&[&[1]]));
        let mut t = h(ADR, a);
        t.nt(X, &[1; 8]);
        t.clflush(X);
        assert_eq!(
            t.bytes(&[X]),
            set(&[&[0], &[1]]),
            "clflush does not commit NT writes"
        );
    }
}

#[test]
fn adr_pending_nt_writes_are_independent() {
    for a in BOTH {
        let mut t = h(ADR, a);
        t.nt(X, &[1; 8]);
        t.nt(X, &[2; 8]);
        assert_eq!(t.bytes(&[X]), set(&[&[0], &[1], &[2]]));
        let mut t = h(ADR, a);
        t.nt(X, &[1; 4]);
        t.nt(X + 4, &[2; 4]);
        assert_eq!(t.m.count_images(), 4);
    }
}

#[test]
fn adr_latest_present_write_wins_per_byte() {
    for a in BOTH {
        // Cached then NT over part of it: 4 distinct images.
        let mut t = h(ADR, a);
        t.store(X, &[1; 8]);
        t.nt(X, &[2; 4]);
        assert_eq!(
            t.outcomes(&[(X, 8)]),
            [
                [0u8; 8],
                [1; 8],
                [2, 2, 2, 2, 0, 0, 0, 0],
                [2, 2, 2, 2, 1, 1, 1, 1]
            ]
            .iter()
            .map(|v| vec![v.to_vec()])
            .collect()
        );
        // NT then cached over all of it: NT+cached equals cached alone.
        let mut t = h(ADR, a);
        t.nt(X, &[2; 4]);
        t.store(X, &[1; 8]);
        assert_eq!(t.m.count_images(), 3);
    }
}

#[test]
fn adr_committed_nt_write_beats_older_cached_writes_only() {
    for a in BOTH {
        let mut t = h(ADR, a);
        t.store(X, &[1; 8]);
        t.nt(X, &[2; 8]);
        t.sfence();
        assert_eq!(t.bytes(&[X]), set(&[&[2]]));
        t.store(X, &[3; 8]);
        assert_eq!(t.bytes(&[X]), set(&[&[2], &[3]]));
        let mut t = h(ADR, a);
        t.nt(X, &[2; 8]);
        t.sfence();
        t.store(X, &[1; 8]);
        assert_eq!(t.bytes(&[X]), set(&[&[1], &[2]]));
    }
}

#[test]
fn adr_clwb_then_younger_store_then_fence() {
    let mut t = h(ADR, LINE);
    t.store(X, &[1; 8]);
    t.clwb(X);
    t.store(X, &[2; 8]);
    t.sfence();
    assert_eq!(t.bytes(&[X]), set(&[&[1], &[2]]));
    let mut t = h(ADR, WORD);
    t.store(X, &[1; 8]);
    t.clwb(X);
    t.store(X2, &[2; 8]);
    t.sfence();
    assert_eq!(t.bytes(&[X, X2]), set(&[&[1, 0], &[1, 2]]));
}

#[test]
fn adr_rmw_is_a_fence_and_its_write_a_cached_write() {
    for a in BOTH {
        let mut t = h(ADR, a);
        t.rmw(X, &[1; 8]);
        assert_eq!(t.bytes(&[X]), set(&[&[0], &[1]]));
        let mut t = h(ADR, a);
        t.store(X, &[1; 8]);
        t.clwb(X);
        t.nt(Z, &[3; 8]);
        t.rmw(Y, &[2; 8]);
        assert_eq!(t.bytes(&[X, Y, Z]), set(&[&[1, 0, 3], &[1, 2, 3]]));
    }
}

#[test]
fn adr_stores_split_and_tear_at_units() {
    // A 16-byte store: one write per line in line mode, one per word in word mode.
    let mut t = h(ADR, LINE);
    t.store(X, &[1; 16]);
    assert_eq!(t.m.count_images(), 2);
    let mut t = h(ADR, WORD);
    t.store(X, &[1; 16]);
    assert_eq!(t.m.count_images(), 4);
    // An unaligned 8-byte store tears at the 8-byte boundary only in word mode.
    let mut t = h(ADR, LINE);
    t.store(X + 4, &[1; 8]);
    assert_eq!(t.m.count_images(), 2);
    let mut t = h(ADR, WORD);
    t.store(X + 4, &[1; 8]);
    assert_eq!(t.m.count_images(), 4);
    // A store crossing a line is two writes in both.
    for a in BOTH {
        let mut t = h(ADR, a);
        t.store(Y - 4, &[1; 8]);
        assert_eq!(t.m.count_images(), 4);
        let mut t = h(EADR, a);
        t.store(Y - 4, &[1; 8]);
        assert_eq!(t.m.count_images(), 3);
    }
}

#[test]
fn adr_images_are_counted_by_content() {
    for a in BOTH {
        // Writing what is already there adds no image.
        let mut t = h(ADR, a);
        t.store(X, &[0; 8]);
        assert_eq!(t.m.count_images(), 1);
        let mut t = h(ADR, a);
        t.store(X, &[1; 8]);
        t.store(X, &[0; 8]);
        assert_eq!(t.m.count_images(), 2);
    }
}

#[test]
fn adr_long_unflushed_history_is_counted_exactly() {
    let mut t = h(ADR, LINE);
    for i in 1..=1000u32 {
        t.store(X, &i.to_le_bytes());
    }
    assert_eq!(t.m.count_images(), 1001);
    t.nt(X + 8, &[7; 8]);
    assert_eq!(t.m.count_images(), 2002);
}

// --------------------------------------------------------------- eADR ---

#[test]
fn eadr_cached_writes_persist_in_program_order() {
    for a in BOTH {
        let mut t = h(EADR, a);
        t.store(X, &[1; 8]);
        t.store(Y, &[1; 8]);
        assert_eq!(t.bytes(&[X, Y]), set(&[&[0, 0], &[1, 0], &[1, 1]]));
        assert_eq!(t.m.count_images(), 3);
    }
}

#[test]
fn eadr_drain_points_persist_everything_before() {
    for a in BOTH {
        for drain in 0..5 {
            let mut t = h(EADR, a);
            t.store(X, &[1; 8]);
            match drain {
                0 => {
                    t.sfence();
                }
                1 => {
                    t.mfence();
                }
                2 => {
                    t.rmw(Z, &[1; 8]);
                }
                3 => {
                    t.clflush(Z);
                }
                _ => {
                    t.io();
                }
            }
            t.store(Y, &[1; 8]);
            assert_eq!(t.bytes(&[X, Y]), set(&[&[1, 0], &[1, 1]]), "drain {drain}");
        }
    }
}

#[test]
fn eadr_rmw_own_write_is_persistent() {
    for a in BOTH {
        let mut t = h(EADR, a);
        t.rmw(X, &[1; 8]);
        assert_eq!(t.bytes(&[X]), set(&[&[1]]));
    }
}

#[test]
fn eadr_flushes_change_nothing() {
    for a in BOTH {
        let mut t = h(EADR, a);
        t.store(X, &[1; 8]);
        t.clwb(X);
        t.clflushopt(X);
        assert_eq!(t.m.count_images(), 2);
        t.sfence();
        assert_eq!(t.m.count_images(), 1);
    }
}

#[test]
fn eadr_nt_writes_pend_until_a_fence() {
    for a in BOTH {
        let mut t = h(EADR, a);
        t.nt(X, &[1; 8]);
        t.clflush(Z);
        t.io();
        assert_eq!(t.bytes(&[X]), set(&[&[0], &[1]]));
        t.sfence();
        assert_eq!(t.bytes(&[X]), set(&[&[1]]));
    }
}

#[test]
fn eadr_nt_write_needs_older_same_line_cached_writes() {
    for a in BOTH {
        let mut t = h(EADR, a);
        t.store(X, &[1; 8]);
        t.nt(X2, &[2; 8]);
        assert_eq!(t.bytes(&[X, X2]), set(&[&[0, 0], &[1, 0], &[1, 2]]));
        // Other lines and younger cached writes do not constrain it.
        let mut t = h(EADR, a);
        t.store(X, &[1; 8]);
        t.nt(Y, &[2; 8]);
        assert_eq!(t.m.count_images(), 4);
        let mut t = h(EADR, a);
        t.nt(X2, &[2; 8]);
        t.store(X, &[1; 8]);
        assert_eq!(t.m.count_images(), 4);
        // Cut x, y; NT x' allowed once x is present.
        let mut t = h(EADR, a);
        t.store(X, &[1; 8]);
        t.store(Y, &[1; 8]);
        t.nt(X2, &[2; 8]);
        assert_eq!(
            t.bytes(&[X, Y, X2]),
            set(&[&[0, 0, 0], &[1, 0, 0], &[1, 0, 2], &[1, 1, 0], &[1, 1, 2]])
        );
        // An older store drained by clflush no longer constrains it.
        let mut t = h(EADR, a);
        t.store(X, &[1; 8]);
        t.nt(X2, &[2; 8]);
        t.clflush(Z);
        assert_eq!(t.bytes(&[X, X2]), set(&[&[1, 0], &[1, 2]]));
    }
}

#[test]
fn eadr_images_are_counted_by_content() {
    let mut t = h(EADR, LINE);
    t.store(X, &[0; 8]);
    t.store(Y, &[1; 8]);
    assert_eq!(t.m.count_images(), 2);
    // Independent pending NT lines multiply.
    let mut t = h(EADR, LINE);
    for i in 0..20 {
        t.nt(0x1000 / 2 + i * 64, &[1; 8]);
    }
    t.store(X, &[1; 8]);
    assert_eq!(t.m.count_images(), 2 << 20);
}

#[test]
fn eadr_long_run_without_drain_is_counted_exactly() {
    let mut t = h(EADR, LINE);
    for i in 0..3000u64 {
        t.store((i % 50) * 64, &(i + 1).to_le_bytes());
    }
    assert_eq!(t.m.count_images(), 3001);
}

#[test]
fn many_pending_nt_writes_are_counted_exactly() {
    // 16 disjoint 4-byte NT writes pending in one line: 2^16 images
    // (counted per group of writes sharing bytes, not over 2^16 states).
    let mut t = h(ADR, LINE);
    for i in 0..16u64 {
        t.nt(0x400 + i * 4, &[i as u8 + 1; 4]);
    }
    t.sfence();
    for i in 0..16u64 {
        t.nt(X + i * 4, &[i as u8 + 1; 4]);
    }
    assert_eq!(t.m.count_images(), 1 << 16);
    let mut t2 = h(EADR, LINE);
    for i in 0..16u64 {
        t2.nt(X + i * 4, &[i as u8 + 1; 4]);
    }
    assert_eq!(t2.m.count_images(), 1 << 16);
    // Writing the same values again adds nothing; other values a third state per slot.
    for i in 0..16u64 {
        t.nt(X + i * 4, &[i as u8 + 1; 4]);
    }
    assert_eq!(t.m.count_images(), 1 << 16);
    for i in 0..16u64 {
        t.nt(X + i * 4, &[i as u8 + 100; 4]);
    }
    assert_eq!(t.m.count_images(), 3u128.pow(16));
    // With a cached write over all of it, one group: 2^16 + ... states, still exact.
    let mut t = h(ADR, LINE);
    for i in 0..16u64 {
        t.nt(X + i * 4, &[i as u8 + 1; 4]);
    }
    t.store(X, &[0xff; 64]);
    // Without the store: 2^16; with it (it is younger, covers all): one more.
    assert_eq!(t.m.count_images(), (1 << 16) + 1);
}
