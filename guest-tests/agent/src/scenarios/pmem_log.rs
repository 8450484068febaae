//! `pmem-log`: a small persistent append-only log written directly on the
//! NVDIMM with the runtime's libpmem-style API, and the commonest
//! persistent-memory bug in it.
//!
//! Layout (device offsets):
//! * [`HEADER`] (`0`): the header line; its first word is the *tail*, the
//!   number of committed records.
//! * [`RECORDS`] (`4096`) `+ i * RECORD`: record `i`, [`RECORD`] bytes of
//!   8-byte words: its sequence number `i`, its payload length in bytes
//!   (8 to 232, a multiple of 8), 29 payload words (those past the length
//!   zero) and a checksum of the 31 words before it. Lengths and payloads
//!   are functions of the seed and `i`.
//!
//! The untraced setup zeroes the tail (an empty log). The run makes
//! [`APPENDS`] appends; append `i` marks `append` (op `i + 1`, the
//! record's range), writes the record and `clwb`s its lines, then:
//! * `correct`: `sfence`; tail = `i + 1`; `clwb` the tail; `sfence`;
//! * `no-fence`: no `sfence` after the record's flushes; tail = `i + 1`;
//!   `clwb`; `sfence` (the bug: until that fence the tail may reach the
//!   media before the record);
//! * `commit-first`: the tail is written, flushed and fenced *before* the
//!   record, which is then flushed and fenced;
//!
//! and promises op `i + 1`: "appends 1 to `i + 1` are durable" (file 1,
//! the log, at the record's device offset, its length and range).
//!
//! Recovery (verify mode) only reads: check `log-tail` (the tail counts
//! more appends than the run makes), `log-record-intact` (a record below
//! the tail is not what its append wrote) and `log-promise` (the tail is
//! below the highest promised op).

use crate::workload::rng::mix;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use pmemvm_abi::Mode;
use pmemvm_sdk::pmem::{self, MarkFields};
use pmemvm_sdk::report::{self, Finding};
use pmemvm_sdk::{BootInfo, println};

/// Device offset of the header line (the tail is its first word).
const HEADER: u64 = 0;
/// Device offset of record 0.
const RECORDS: u64 = 4096;
/// Bytes of a record.
const RECORD: u64 = 256;
/// Words of a record.
const WORDS: usize = (RECORD / 8) as usize;
/// Word index of the payload's first word; the checksum is the last word.
const PAYLOAD: usize = 2;
/// Most payload words of a record.
const MAX_PAYLOAD: u64 = (WORDS - PAYLOAD - 1) as u64;
/// Appends the run makes.
const APPENDS: u64 = 8;

/// How an append orders its record and its commit.
#[derive(Clone, Copy)]
enum Order {
    /// Record persisted (flush, fence) before the tail.
    Correct,
    /// Record flushed but not fenced before the tail store.
    NoFence,
    /// Tail persisted before the record is written.
    CommitFirst,
}

/// The variants by name.
const VARIANTS: &[(&str, Order)] = &[
    ("correct", Order::Correct),
    ("no-fence", Order::NoFence),
    ("commit-first", Order::CommitFirst),
];

/// The words append `i` writes under `seed`.
fn record(seed: u64, i: u64) -> [u64; WORDS] {
    let key = mix(seed ^ (i << 32));
    let len = 1 + key % MAX_PAYLOAD;
    let mut w = [0u64; WORDS];
    w[0] = i;
    w[1] = len * 8;
    for (j, word) in w[PAYLOAD..PAYLOAD + len as usize].iter_mut().enumerate() {
        *word = mix(key ^ j as u64);
    }
    w[WORDS - 1] = checksum(&w);
    w
}

/// The checksum of a record: a hash of every word but the last.
fn checksum(w: &[u64; WORDS]) -> u64 {
    w[..WORDS - 1]
        .iter()
        .fold(u64::from_le_bytes(*b"pmem-log"), |h, &x| mix(h ^ x))
}

/// The log on the NVDIMM mapped at `base`.
struct Log {
    base: u64,
}

impl Log {
    fn tail_ptr(&self) -> *mut u64 {
        (self.base + HEADER) as *mut u64
    }

    fn record_ptr(&self, i: u64) -> *mut u64 {
        (self.base + RECORDS + i * RECORD) as *mut u64
    }

    fn tail(&self) -> u64 {
        // SAFETY: the header lies in the mapped NVDIMM, aligned.
        unsafe { self.tail_ptr().read_volatile() }
    }

    /// Record `i` as the media holds it.
    fn read(&self, i: u64) -> [u64; WORDS] {
        let p = self.record_ptr(i);
        // SAFETY: record `i < APPENDS` lies in the mapped NVDIMM, aligned.
        core::array::from_fn(|k| unsafe { p.add(k).read_volatile() })
    }

    /// Writes record `i` with 8-byte stores and `clwb`s its lines (no fence).
    fn write(&self, i: u64, words: &[u64; WORDS]) {
        let p = self.record_ptr(i);
        for (k, &w) in words.iter().enumerate() {
            // SAFETY: record `i < APPENDS` lies in the mapped NVDIMM, aligned.
            unsafe { p.add(k).write_volatile(w) };
        }
        pmem::pmem_flush(p as *const u8, RECORD as usize);
    }

    /// Stores the tail, flushes its line and fences.
    fn commit(&self, tail: u64) {
        // SAFETY: the header lies in the mapped NVDIMM, aligned.
        unsafe { self.tail_ptr().write_volatile(tail) };
        pmem::pmem_persist(self.tail_ptr() as *const u8, 8);
    }

    /// Append `i` under `order`, then its promise.
    fn append(&self, seed: u64, i: u64, order: Order) {
        let offset = RECORDS + i * RECORD;
        let op = i + 1;
        pmem::mark(
            "append",
            MarkFields {
                op: Some(op),
                range: Some((offset, RECORD)),
                ..MarkFields::default()
            },
        );
        let words = record(seed, i);
        match order {
            Order::Correct => {
                self.write(i, &words);
                pmem::pmem_drain();
                self.commit(op);
            }
            Order::NoFence => {
                self.write(i, &words);
                self.commit(op);
            }
            Order::CommitFirst => {
                self.commit(op);
                self.write(i, &words);
                pmem::pmem_drain();
            }
        }
        pmem::promise(1, offset, RECORD, op, (offset, RECORD));
    }

    /// The log's checks, given the highest promised op.
    fn check(&self, seed: u64, promised: u64) -> Result<String, Finding> {
        let tail = self.tail();
        if tail > APPENDS {
            return Err(Finding::new(
                "log-tail",
                format!("tail {tail}, but the run makes {APPENDS} appends"),
            ));
        }
        for i in 0..tail {
            let found = self.read(i);
            let sum = checksum(&found);
            if sum != found[WORDS - 1] {
                return Err(Finding::new(
                    "log-record-intact",
                    format!(
                        "record {i} below tail {tail}: checksum {sum:#x} != {:#x}",
                        found[WORDS - 1]
                    ),
                ));
            }
            let expected = record(seed, i);
            if let Some(k) = (0..WORDS).find(|&k| found[k] != expected[k]) {
                return Err(Finding::new(
                    "log-record-intact",
                    format!(
                        "record {i} below tail {tail}: word {k} is {:#x}, append {i} writes {:#x}",
                        found[k], expected[k]
                    ),
                ));
            }
        }
        if tail < promised {
            return Err(Finding::new(
                "log-promise",
                format!("tail {tail}, but appends 1 to {promised} were promised durable"),
            ));
        }
        Ok(format!(
            "tail {tail}, every record below it intact, {promised} appends promised"
        ))
    }
}

/// Runs it: the appends in record mode, the checks in verify mode.
pub fn run(info: &'static BootInfo) -> u32 {
    let Some(&(_, order)) = VARIANTS.iter().find(|(n, _)| *n == info.variant()) else {
        let names: Vec<&str> = VARIANTS.iter().map(|(n, _)| *n).collect();
        println!(
            "pmem-log: unknown variant `{}` ({})",
            info.variant(),
            names.join(", ")
        );
        return 2;
    };
    let log = match pmem::init() {
        Ok(d) => Log { base: d.base },
        Err(e) => {
            println!("pmem-log: no NVDIMM: {e:?}");
            return 1;
        }
    };
    if info.mode == Mode::Verify as u32 {
        let promised = report::verify_info()
            .and_then(|(_, promises)| promises.iter().map(|p| p.op).max())
            .unwrap_or(0);
        report::verdict(log.check(info.seed, promised));
        return 0;
    }
    // Untraced setup: an empty log.
    // SAFETY: the header lies in the mapped NVDIMM, aligned.
    unsafe { log.tail_ptr().write_volatile(0) };
    pmem::setup_done();
    for i in 0..APPENDS {
        log.append(info.seed, i, order);
    }
    match log.check(info.seed, APPENDS) {
        Ok(summary) => {
            println!(
                "pmem-log: {APPENDS} operations done (variant {}): {summary}",
                info.variant()
            );
            0
        }
        Err(f) => {
            println!("pmem-log: {}: {}", f.check, f.message);
            report::finding(f.check, &f.message);
            1
        }
    }
}
