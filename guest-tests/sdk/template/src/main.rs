//! {name}: a persistent append-only log, crash-tested by pmemvm.
//!
//! Layout of the NVDIMM (device offsets): the *tail* (the number of
//! committed records) at [`TAIL`]; record `i` at [`RECORDS`] `+ i *`
//! [`RECORD`]: 32 words, its sequence number, 30 payload words and a
//! checksum of the 31 words before it.
//!
//! An append writes its record and commits it by storing the tail. The
//! variants differ in how they order the two:
//! * `correct`: record written and flushed, fence, then the tail stored,
//!   flushed and fenced;
//! * `no-fence`: no fence between the record's flushes and the tail store
//!   (the commonest persistent-memory bug: the tail may reach the media
//!   before the record);
//! * `commit-first`: the tail persisted before the record is written.
//!
//! After each append the guest promises its record durable. After a crash,
//! `recover` checks that every record below the tail is intact and that
//! the tail covers every promised append.

#![no_std]
#![no_main]

extern crate alloc;

use alloc::format;
use alloc::string::String;
use pmemvm_sdk::pmem::{self, MarkFields};
use pmemvm_sdk::region::Region;
use pmemvm_sdk::report::Finding;
use pmemvm_sdk::scenario::{Context, Scenario, Variant};

/// Device offset of the tail.
const TAIL: u64 = 0;
/// Device offset of record 0.
const RECORDS: u64 = 4096;
/// Bytes of a record.
const RECORD: u64 = 256;
/// Words of a record.
const WORDS: usize = (RECORD / 8) as usize;
/// Appends the run makes.
const APPENDS: u64 = 8;

/// The log.
static LOG: Scenario = Scenario {
    name: "log",
    description: "8 appends of a 256-byte record and its commit (the tail)",
    variants: &[
        Variant {
            name: "correct",
            description: "record persisted (flush, fence) before the tail",
        },
        Variant {
            name: "no-fence",
            description: "no fence between the record's flushes and the tail store",
        },
        Variant {
            name: "commit-first",
            description: "tail persisted before the record",
        },
    ],
    setup,
    run,
    recover,
};

pmemvm_sdk::scenarios!(LOG);

/// Untraced: an empty log.
fn setup(ctx: &Context) {
    ctx.region.write_u64(TAIL, 0);
}

/// Recorded: the appends.
fn run(ctx: &Context) {
    for i in 0..APPENDS {
        append(ctx, i);
    }
}

/// Append `i` (operation `i + 1`) in the order the variant chooses, then
/// its promise.
fn append(ctx: &Context, i: u64) {
    let log = &ctx.region;
    let at = RECORDS + i * RECORD;
    let op = i + 1;
    // Names the operation in reports and `pmemvm trace` output.
    pmem::mark(
        "append",
        MarkFields {
            op: Some(op),
            range: Some((log.device_offset() + at, RECORD)),
            ..MarkFields::default()
        },
    );
    let words = record(ctx.seed, i);
    match ctx.variant {
        "no-fence" => {
            write_record(log, at, &words);
            commit(log, op);
        }
        "commit-first" => {
            commit(log, op);
            write_record(log, at, &words);
            log.drain();
        }
        _ => {
            write_record(log, at, &words);
            log.drain();
            commit(log, op);
        }
    }
    log.promise(at, RECORD, op);
}

/// Stores a record's words and flushes its lines (no fence).
fn write_record(log: &Region, at: u64, words: &[u64; WORDS]) {
    for (k, &w) in words.iter().enumerate() {
        log.write_u64(at + 8 * k as u64, w);
    }
    log.flush(at, RECORD);
}

/// Stores the tail and persists it (flush, fence).
fn commit(log: &Region, tail: u64) {
    log.write_u64(TAIL, tail);
    log.persist(TAIL, 8);
}

/// Verify mode, on a crash image: the log's invariants.
fn recover(ctx: &Context) -> Result<String, Finding> {
    let log = &ctx.region;
    let tail = log.read_u64(TAIL);
    if tail > APPENDS {
        return Err(Finding::new(
            "log-tail",
            format!("tail {tail}, but the run makes {APPENDS} appends"),
        ));
    }
    for i in 0..tail {
        let at = RECORDS + i * RECORD;
        let found: [u64; WORDS] = core::array::from_fn(|k| log.read_u64(at + 8 * k as u64));
        if found != record(ctx.seed, i) {
            return Err(Finding::new(
                "log-record-intact",
                format!("record {i} below tail {tail} is not what append {i} wrote"),
            ));
        }
    }
    let promised = ctx.promises().iter().map(|p| p.op).max().unwrap_or(0);
    if tail < promised {
        return Err(Finding::new(
            "log-promise",
            format!("tail {tail}, but appends 1 to {promised} were promised durable"),
        ));
    }
    Ok(format!("tail {tail}, every record below it intact"))
}

/// The words append `i` writes under `seed`.
fn record(seed: u64, i: u64) -> [u64; WORDS] {
    let mut w = [0u64; WORDS];
    w[0] = i;
    for (j, word) in w[1..WORDS - 1].iter_mut().enumerate() {
        *word = mix(seed ^ (i << 32) ^ j as u64);
    }
    w[WORDS - 1] = w[..WORDS - 1].iter().fold(i, |h, &x| mix(h ^ x));
    w
}

/// A 64-bit mixing function (SplitMix64's finaliser).
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}
