//! pmemvm's own check of the promises (`promise_check`) on hand-written
//! runs: which crash images break a promise, and what the message says.
//! (`completeness.rs` compares it with a byte-by-byte reference on
//! generated runs.) No VM is involved.

use pmemvm::guest_report::Verdict;
use pmemvm::promise_check::{Breach, PromiseChecker, judge};
use pmemvm::replay;
use pmemvm_device::crash::ImageSpec;
use pmemvm_device::model::Model;
use pmemvm_traces::{
    Atomicity, Device, DeviceRange, Event, EventKind, Flush, Header, Persistence, Promise, Write,
};

const BASE: u64 = 1 << 32;

fn store(offset: u64, byte: u8, len: usize) -> EventKind {
    EventKind::Store(Write::new(BASE + offset, offset, vec![byte; len], 0x1000))
}

fn ntstore(offset: u64, byte: u8) -> EventKind {
    EventKind::NtStore(Write::new(BASE + offset, offset, vec![byte; 8], 0x1000))
}

fn clwb(offset: u64) -> EventKind {
    EventKind::Clwb(Flush::new(BASE + offset, offset))
}

fn promise(offset: u64, len: u64) -> EventKind {
    EventKind::Promise(Promise {
        file: 1,
        offset: 0,
        len,
        op: 1,
        ranges: vec![DeviceRange { offset, len }],
    })
}

/// Runs `kinds` and checks every crash image allowed at the end: the
/// breaches found, one per image that breaks a promise, and the number of
/// images.
fn breaches(
    kinds: Vec<EventKind>,
    persistence: Persistence,
    atomicity: Atomicity,
) -> (Vec<Breach>, usize) {
    let header = Header::new(
        Device {
            base: BASE,
            size: 1 << 20,
        },
        persistence,
        atomicity,
        "promise-check",
        "test",
        1,
        [0; 32],
    );
    let mut model = Model::new(replay::model_config(&header));
    let mut checker = PromiseChecker::default();
    for ev in Event::numbered(kinds) {
        replay::apply(&mut model, &ev).expect("applies");
        checker.observe(&ev, &model);
    }
    let maximal = model.image(&ImageSpec::Maximal).expect("maximal");
    let images = model.enumerate_images(1 << 12).expect("few images");
    let found = images
        .iter()
        .filter_map(|(_, image)| checker.check(image, &image.differing_lines(&maximal)))
        .collect();
    (found, images.len())
}

fn adr(kinds: Vec<EventKind>) -> (Vec<Breach>, usize) {
    breaches(kinds, Persistence::Adr, Atomicity::Line)
}

#[test]
fn a_flush_without_a_fence_breaks_the_promise_and_the_message_names_it() {
    let (found, images) = adr(vec![
        store(0x40, 0xab, 8),
        store(0x80, 0xcd, 64),
        clwb(0x40),
        clwb(0x80),
        promise(0x40, 0x80),
    ]);
    assert_eq!(images, 4, "each line kept or lost");
    // Every image but the maximal one loses a promised line.
    assert_eq!(found.len(), 3, "{found:#?}");
    let first = &found[0];
    assert_eq!(
        (first.promise, first.range, first.held, first.promised),
        (
            5,
            DeviceRange {
                offset: 0x40,
                len: 0x80
            },
            0,
            0xab
        )
    );
    assert_eq!(
        first.to_string(),
        "promise seq 5 (device range 0x40+0x80) broken at device offset 0x40: it holds 0x00, \
         promised 0xab; 8 promised byte(s) of line 0x40 broken"
    );
    assert!(
        found
            .iter()
            .any(|b| b.byte == 0x80 && b.broken_in_line == 64),
        "{found:#?}"
    );
}

#[test]
fn a_fence_before_the_promise_keeps_it() {
    let (found, images) = adr(vec![
        store(0x40, 0xab, 8),
        clwb(0x40),
        EventKind::Sfence,
        promise(0x40, 8),
    ]);
    assert_eq!((found, images), (vec![], 1));
    // A non-temporal store needs its fence too.
    let (found, _) = adr(vec![ntstore(0x40, 0xab), promise(0x40, 8)]);
    assert_eq!(found.len(), 1, "{found:#?}");
    let (found, _) = adr(vec![
        ntstore(0x40, 0xab),
        EventKind::Sfence,
        promise(0x40, 8),
    ]);
    assert!(found.is_empty(), "{found:#?}");
}

#[test]
fn a_later_write_to_a_promised_byte_may_or_may_not_persist() {
    let (found, images) = adr(vec![
        store(0x40, 0xab, 8),
        clwb(0x40),
        EventKind::Sfence,
        promise(0x40, 8),
        store(0x40, 0xcd, 8),
        store(0x40, 0xef, 4),
    ]);
    assert_eq!(
        (found, images),
        (vec![], 3),
        "the promised value or either later one"
    );
    // The value before the promise is not promised, durable or not.
    let (found, images) = adr(vec![
        store(0x40, 0xab, 8),
        clwb(0x40),
        EventKind::Sfence,
        store(0x40, 0xcd, 8),
        promise(0x40, 8),
    ]);
    assert_eq!(images, 2);
    let [b] = found.as_slice() else {
        panic!("{found:#?}")
    };
    assert_eq!((b.held, b.promised, b.later_values), (0xab, 0xcd, 0));
    // The message counts the later values that would have kept it.
    let (found, _) = adr(vec![
        store(0x40, 0xab, 8),
        promise(0x40, 8),
        store(0x40, 0xcd, 8),
    ]);
    assert!(
        found.iter().all(|b| b.later_values == 1 && b.held == 0),
        "{found:#?}"
    );
    assert!(
        found[0]
            .to_string()
            .contains("(or one of the 1 value(s) written to it since)"),
        "{}",
        found[0]
    );
}

#[test]
fn a_range_untouched_at_its_promise_holds_its_initial_media() {
    // Never written: nothing can break; written later, unflushed: either.
    let (found, images) = adr(vec![promise(0x40, 0x40), store(0x40, 0xab, 8)]);
    assert_eq!((found, images), (vec![], 2));
    // A range of more lines than the run touched: its touched ones count.
    let (found, images) = adr(vec![store(0x80, 0xab, 8), promise(0, 0x1000)]);
    assert_eq!(images, 2);
    let [b] = found.as_slice() else {
        panic!("{found:#?}")
    };
    assert_eq!(
        (b.byte, b.range),
        (
            0x80,
            DeviceRange {
                offset: 0,
                len: 0x1000
            }
        )
    );
}

#[test]
fn the_latest_promise_of_a_byte_is_the_one_named() {
    let (found, _) = adr(vec![
        store(0x40, 0xab, 8),
        clwb(0x40),
        EventKind::Sfence,
        promise(0x40, 8),
        store(0x40, 0xcd, 8),
        promise(0x40, 4),
    ]);
    // Bytes 0x40..0x44 hold the second promise's 0xcd or lose it; bytes
    // 0x44..0x48 may hold 0xab (the first promise's) or 0xcd.
    let [b] = found.as_slice() else {
        panic!("{found:#?}")
    };
    assert_eq!(
        (b.promise, b.byte, b.held, b.promised, b.broken_in_line),
        (6, 0x40, 0xab, 0xcd, 4)
    );
}

#[test]
fn eadr_and_word_atomicity() {
    // Under eADR a promise is a drain point: nothing written before it is lost.
    let unfenced = || {
        vec![
            store(0x40, 0xab, 8),
            store(0x48, 0xab, 8),
            promise(0x40, 16),
        ]
    };
    let (found, _) = breaches(unfenced(), Persistence::Eadr, Atomicity::Line);
    assert!(found.is_empty(), "{found:#?}");
    let (found, _) = breaches(unfenced(), Persistence::Eadr, Atomicity::Word);
    assert!(found.is_empty(), "{found:#?}");
    // Under ADR with word atomicity, each word is kept or lost on its own.
    let (found, images) = breaches(unfenced(), Persistence::Adr, Atomicity::Word);
    assert_eq!((found.len(), images), (3, 4), "{found:#?}");
    let mut broken: Vec<usize> = found.iter().map(|b| b.broken_in_line).collect();
    broken.sort_unstable();
    assert_eq!(broken, [8, 8, 16], "one word lost, the other, both");
}

#[test]
fn the_guest_s_failure_comes_first() {
    let (found, _) = adr(vec![store(0x40, 0xab, 8), promise(0x40, 8)]);
    let breach = found.first().expect("broken");
    let pass = Verdict {
        passed: true,
        check: String::new(),
        message: String::new(),
    };
    let guest_failed = Verdict {
        passed: false,
        check: "promised-data".into(),
        message: "lost".into(),
    };
    assert_eq!(judge(pass.clone(), None), pass);
    assert_eq!(judge(guest_failed.clone(), Some(breach)), guest_failed);
    let ours = judge(pass, Some(breach));
    assert_eq!((ours.passed, ours.check.as_str()), (false, "promise"));
    assert_eq!(ours.message, breach.to_string());
}
