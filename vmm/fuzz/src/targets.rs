//! The targets: pmemvm's parsers and decoders of untrusted input, each
//! with its seeds, its dictionary and the checks it makes on what they
//! accept (a round trip through the printer, invariants).
//!
//! A target returns a signature of the input's outcome (which error, how far
//! it got): inputs with a new signature join the pool the loop mutates, a
//! poor man's coverage. A failed check is a panic.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::path::Path;
use std::sync::OnceLock;

use pmemvm::crashtest::states::{self, States};
use pmemvm::elf::{self, GuestElf};
use pmemvm::guest_report::VariantInfo;
use pmemvm::hypercall;
use pmemvm::nvdimm::ring;
use pmemvm::replay;
use pmemvm_abi::pmem::{self as ring_abi, Entry, Ring};
use pmemvm_abi::{
    ABI_VERSION, GuestHeader, HEADER_MAGIC, HEADER_SECTION, Mailbox, MarkArgs, Plain, PromiseArgs,
    VECTORS, hc, layout,
};
use pmemvm_device::backing::{NvdimmConfig, format_size, parse_size};
use pmemvm_device::crash::ImageSpec;
use pmemvm_device::model::Model;
use pmemvm_traces::{
    Atomicity, CrashPoint, Device, DeviceRange, Event, EventKind, Flush, Format, Header, Io, Mark,
    Persistence, PointResolver, PointSet, Promise, TraceEncoder, TraceReader, Write, selection,
};

/// One fuzz target.
pub struct Target {
    /// Its name on the command line and in `regressions/`.
    pub name: &'static str,
    /// What it exercises.
    pub what: &'static str,
    /// The seed inputs.
    pub seeds: fn() -> Vec<Vec<u8>>,
    /// Tokens the mutator inserts.
    pub dict: &'static [&'static str],
    /// Longest input the mutator makes.
    pub max_len: usize,
    /// Runs one input; returns the signature of its outcome.
    pub run: fn(&[u8]) -> u64,
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name)
    }
}

/// Every target.
pub const TARGETS: &[Target] = &[
    Target {
        name: "trace",
        what: "the trace reader, both layouts (.json document, .jsonl lines); what it accepts round-trips through the writer in both",
        seeds: trace_seeds,
        dict: TRACE_DICT,
        max_len: 64 << 10,
        run: trace,
    },
    Target {
        name: "point",
        what: "the crash-point and point-set grammar (--at, --points, windows), printed back and resolved on a trace",
        seeds: point_seeds,
        dict: POINT_DICT,
        max_len: 512,
        run: point,
    },
    Target {
        name: "image",
        what: "the image grammar (--image) and --states lists, printed back and built on a model",
        seeds: image_seeds,
        dict: IMAGE_DICT,
        max_len: 1024,
        run: image,
    },
    Target {
        name: "nvdimm",
        what: "the --nvdimm option string and parse_size, printed back",
        seeds: nvdimm_seeds,
        dict: NVDIMM_DICT,
        max_len: 512,
        run: nvdimm,
    },
    Target {
        name: "elf",
        what: "the guest ELF loader (GuestElf::parse, elf::section)",
        seeds: elf_seeds,
        dict: &[],
        max_len: 2 << 20,
        run: elf_target,
    },
    Target {
        name: "ring",
        what: "the event-ring decoder (nvdimm::ring::decode) on arbitrary guest memory",
        seeds: ring_seeds,
        dict: &[],
        max_len: 8 << 10,
        run: ring_target,
    },
    Target {
        name: "hypercall",
        what: "the hypercall argument decoders (mailbox, MarkArgs, PromiseArgs, buffers, texts, check names, variant lists) on arbitrary guest memory",
        seeds: hypercall_seeds,
        dict: &[],
        max_len: 8 << 10,
        run: hypercall_target,
    },
];

/// Targets that fail on purpose, on any input holding the byte 0xff: they
/// show that the harness reports each kind of failure (not in `all`).
pub const SELF_TESTS: &[Target] = &[
    self_test("selftest-panic", |d| {
        assert!(!d.contains(&0xff), "injected panic");
        0
    }),
    self_test("selftest-oom", |d| {
        let v = vec![1u8; if d.contains(&0xff) { 1 << 30 } else { 16 }];
        v.iter().map(|&b| u64::from(b)).sum()
    }),
    self_test("selftest-hang", |d| {
        while d.contains(&0xff) {
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        0
    }),
    self_test("selftest-abort", |d| {
        if d.contains(&0xff) {
            std::process::abort();
        }
        0
    }),
];

const fn self_test(name: &'static str, run: fn(&[u8]) -> u64) -> Target {
    Target {
        name,
        what: "fails on purpose on inputs holding the byte 0xff",
        seeds: || vec![b"seed".to_vec()],
        dict: &[],
        max_len: 64,
        run,
    }
}

/// The target named `name` (the self tests included).
pub fn target(name: &str) -> Option<&'static Target> {
    TARGETS.iter().chain(SELF_TESTS).find(|t| t.name == name)
}

/// The seed corpus directory (`vmm/fuzz/corpus`).
pub fn corpus_dir() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/corpus"))
}

/// The regressions directory (`vmm/fuzz/regressions`).
pub fn regressions_dir() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/regressions"))
}

/// The signature of a text (an error message): digits and anything quoted
/// dropped, so one kind of error has one signature.
fn sig(kind: u64, text: &str) -> u64 {
    let mut h = DefaultHasher::new();
    kind.hash(&mut h);
    let mut quoted = false;
    for c in text.chars().take(96) {
        match c {
            '`' | '"' => quoted = !quoted,
            _ if quoted || c.is_ascii_digit() => {}
            _ => c.hash(&mut h),
        }
    }
    h.finish()
}

/// Every line of a seed file, as one input each.
fn lines_of(file: &str) -> Vec<Vec<u8>> {
    let path = corpus_dir().join(file);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("seed file {}: {e}", path.display()));
    text.lines().map(|l| l.as_bytes().to_vec()).collect()
}

// ---------------------------------------------------------------- traces

const TRACE_DICT: &[&str] = &[
    "{\"header\":",
    ",\"events\":[",
    "]}",
    "{\"end\":{\"events\":",
    "\"seq\":",
    "\"kind\":",
    "\"store\"",
    "\"ntstore\"",
    "\"rmw\"",
    "\"clwb\"",
    "\"clflushopt\"",
    "\"clflush\"",
    "\"sfence\"",
    "\"mfence\"",
    "\"io\"",
    "\"mark\"",
    "\"promise\"",
    "\"power_fail\"",
    "\"addr\":",
    "\"offset\":",
    "\"line\":",
    "\"size\":",
    "\"data\":",
    "\"rip\":",
    "\"init\":",
    "\"label\":",
    "\"ranges\":[",
    "\"range\":",
    "\"len\":",
    "\"port\":",
    "\"device\":{\"base\":\"0x100000000\",\"size\":",
    "\"atomicity\":\"word\"",
    "\"persistence\":\"cpu\"",
    "\"version\":",
    "\"0x100000000\"",
    "\"0xffffffffffffffff\"",
    "\"0x\"",
    "68719476736",
    "68719476800",
    "9223372036854775744",
    "18446744073709551615",
    "null",
    "true",
    "[]",
    "{}",
    "\\u0000",
    "\\ud800",
    "\n",
    ",",
    ":",
    "\"",
];

/// A header and one event of every kind (the traces crate's test trace),
/// with the device at `size`.
fn every_kind(size: u64) -> (Header, Vec<Event>) {
    const BASE: u64 = 0x1_0000_0000;
    let header = Header::new(
        Device { base: BASE, size },
        Persistence::Adr,
        Atomicity::Line,
        "fuzz",
        "correct",
        1,
        [0xab; 32],
    );
    let kinds = vec![
        EventKind::Store(
            Write::new(BASE + 0x40, 0x40, vec![0xde, 0xad, 0xbe, 0xef], 0x10_1234)
                .with_init([0; 64]),
        ),
        EventKind::NtStore(Write::new(
            BASE + 0x48,
            0x48,
            vec![1, 2, 3, 4, 5, 6, 7, 8],
            0x10_1240,
        )),
        EventKind::Rmw(Write::new(BASE + 0x80, 0x80, vec![9; 8], 0x10_1250).with_init([0x5a; 64])),
        EventKind::Clwb(Flush::new(BASE + 0x44, 0x44)),
        EventKind::Mark(Mark {
            label: "fsync-begin".into(),
            file: Some(3),
            page: Some(7),
            op: Some(12),
            range: Some(DeviceRange {
                offset: 0x40,
                len: 64,
            }),
        }),
        EventKind::Store(Write::new(BASE + 0xc0, 0xc0, vec![7; 64], 0x10_1260).with_init([1; 64])),
        EventKind::ClflushOpt(Flush::new(BASE + 0x80, 0x80)),
        EventKind::Clflush(Flush::new(BASE + 0x7f, 0x7f)),
        EventKind::Sfence,
        EventKind::Store(
            Write::new(BASE + 0x100, 0x100, vec![3; 16], 0x10_1270).with_init([2; 64]),
        ),
        EventKind::Mfence,
        EventKind::Io(Io { port: 0xe9 }),
        EventKind::Mark(Mark::new("phase#2")),
        EventKind::Promise(Promise {
            file: 3,
            offset: 0x7000,
            len: 64,
            op: 12,
            ranges: vec![DeviceRange {
                offset: 0x40,
                len: 64,
            }],
        }),
        EventKind::Store(Write::new(BASE + 0x140, 0x140, vec![4; 8], 0x10_1280).with_init([0; 64])),
        EventKind::Mark(Mark::new("crash")),
    ];
    (header, Event::numbered(kinds))
}

/// A trace encoded in one layout.
fn encode(header: &Header, events: &[Event], format: Format) -> Vec<u8> {
    let mut enc = TraceEncoder::new(Vec::new(), format, header, "fuzz seed").expect("seed header");
    for ev in events {
        enc.write(ev).expect("seed event");
    }
    enc.finish().expect("seed trace")
}

fn trace_seeds() -> Vec<Vec<u8>> {
    let (header, events) = every_kind(64 << 20);
    let mut word = header.clone();
    word.atomicity = Atomicity::Word;
    word.persistence = Persistence::Eadr;
    let mut seeds = Vec::new();
    for format in [Format::Json, Format::Jsonl] {
        seeds.push(encode(&header, &events, format));
        seeds.push(encode(&word, &events[..4], format));
        seeds.push(encode(&header, &[], format));
    }
    for file in ["pmem-log-50.jsonl", "pmem-log-50.json"] {
        let path = corpus_dir().join("trace").join(file);
        seeds.push(std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())));
    }
    seeds
}

/// The trace reader on `data`: every event until the end or an error; a
/// trace it reads to the end must round-trip through the writer, in both
/// layouts, to the same header and events.
fn trace(data: &[u8]) -> u64 {
    let mut reader = match TraceReader::from_reader(data, "fuzz.trace") {
        Ok(r) => r,
        Err(e) => return sig(1, &e.to_string()),
    };
    let format = reader.format() as u64;
    let mut events = Vec::new();
    loop {
        match reader.next_event() {
            Ok(Some(ev)) => events.push(ev),
            Ok(None) => break,
            Err(e) => {
                let _ = reader.last_location().to_string();
                return sig(
                    2 + format + 4 * (events.len().min(8) as u64),
                    &e.to_string(),
                );
            }
        }
    }
    let header = reader.header().clone();
    for layout in [Format::Json, Format::Jsonl] {
        let mut enc = TraceEncoder::new(Vec::new(), layout, &header, "round trip")
            .unwrap_or_else(|e| panic!("the writer refuses a header the reader accepted: {e}"));
        for ev in &events {
            enc.write(ev).unwrap_or_else(|e| {
                panic!(
                    "the writer refuses event seq {} the reader accepted: {e}",
                    ev.seq
                )
            });
        }
        let bytes = enc.finish().expect("the round trip's trace");
        let mut back = TraceReader::from_reader(&bytes[..], "round trip")
            .unwrap_or_else(|e| panic!("the reader refuses the header it wrote: {e}"));
        assert_eq!(back.header(), &header, "the header changed in a round trip");
        let again: Vec<Event> = back
            .by_ref()
            .collect::<Result<_, _>>()
            .unwrap_or_else(|e| panic!("the reader refuses the events it wrote ({layout:?}): {e}"));
        assert_eq!(
            again, events,
            "the events changed in a round trip ({layout:?})"
        );
    }
    sig(100 + format, &format!("{}", events.len().min(20)))
}

// ---------------------------------------------------------------- points

const POINT_DICT: &[&str] = &[
    "seq:",
    "fence:",
    "store:",
    "promise:",
    "mark:",
    "mark:append",
    "#",
    "#0",
    "#1",
    "..",
    "@",
    "end",
    "fences",
    "after-fences",
    "stores",
    "marks",
    "all",
    "random:",
    "crash",
    ":",
    "18446744073709551615",
    "18446744073709551616",
    "0",
];

fn point_seeds() -> Vec<Vec<u8>> {
    lines_of("point/seeds.txt")
}

/// The events points are resolved on: the pmem-log trace's first 50 and
/// the every-kind trace.
fn fixture_events() -> &'static [(Persistence, Vec<Event>)] {
    static EVENTS: OnceLock<Vec<(Persistence, Vec<Event>)>> = OnceLock::new();
    EVENTS.get_or_init(|| {
        let path = corpus_dir().join("trace/pmem-log-50.jsonl");
        let r = TraceReader::open(&path).expect("the pmem-log seed trace");
        let log: Vec<Event> = r.collect::<Result<_, _>>().expect("its events");
        let (_, every) = every_kind(64 << 20);
        vec![(Persistence::Adr, log), (Persistence::Eadr, every)]
    })
}

/// Crash points and point sets: what parses prints back to itself, and
/// resolves (or fails cleanly) on two traces, under ADR and eADR.
fn point(data: &[u8]) -> u64 {
    let Ok(s) = std::str::from_utf8(data) else {
        return 0;
    };
    let mut h = 0u64;
    match s.parse::<CrashPoint>() {
        Ok(p) => {
            let printed = p.to_string();
            let back: CrashPoint = printed.parse().unwrap_or_else(|e| {
                panic!("point {s:?} prints as {printed:?}, which does not parse: {e}")
            });
            assert_eq!(
                back, p,
                "point {s:?} prints as {printed:?}, which parses to another point"
            );
            for (_, events) in fixture_events() {
                h ^= match PointResolver::resolve(p.clone(), events.iter().cloned().map(Ok)) {
                    Ok(seq) => sig(3, &seq.min(3).to_string()),
                    Err(e) => sig(4, &e.to_string()),
                };
            }
        }
        Err(e) => h ^= sig(1, &e.to_string()),
    }
    match s.parse::<PointSet>() {
        Ok(set) => {
            let printed = set.to_string();
            let back: PointSet = printed.parse().unwrap_or_else(|e| {
                panic!("point set {s:?} prints as {printed:?}, which does not parse: {e}")
            });
            assert_eq!(
                back, set,
                "point set {s:?} prints as {printed:?}, which parses to another set"
            );
            for (persistence, events) in fixture_events() {
                for seed in [0, 7] {
                    h = h.rotate_left(5)
                        ^ match selection::select(
                            &set,
                            *persistence,
                            events.iter().cloned().map(Ok),
                            seed,
                        ) {
                            Ok(points) => {
                                assert!(
                                    points.windows(2).all(|w| w[0].0 < w[1].0),
                                    "set {s:?}: points not ascending: {points:?}"
                                );
                                sig(5, &points.len().min(4).to_string())
                            }
                            Err(e) => sig(6, &e.to_string()),
                        };
                }
            }
        }
        Err(e) => h ^= sig(2, &e.to_string()),
    }
    h
}

// ---------------------------------------------------------------- images

const IMAGE_DICT: &[&str] = &[
    "minimal",
    "maximal",
    "random:",
    "units:",
    "0x",
    "0x0",
    "0x40",
    "0x80",
    "0xc0",
    "0x1000",
    "0x1040",
    "=",
    "/",
    ",",
    ";",
    "exhaustive:",
    "subsets:",
    "sample:",
    "18446744073709551615",
    "0xffffffffffffffc0",
    "0",
    "1",
];

fn image_seeds() -> Vec<Vec<u8>> {
    lines_of("image/seeds.txt")
}

/// Models with writes in flight: the pmem-log trace replayed to seq 38 (a
/// record flushed, not fenced), and the every-kind trace to its end under
/// ADR (its fences left out: everything stays in flight) and under eADR.
fn fixture_models() -> &'static [Model] {
    static MODELS: OnceLock<Vec<Model>> = OnceLock::new();
    MODELS.get_or_init(|| {
        let mut models = Vec::new();
        let path = corpus_dir().join("trace/pmem-log-50.jsonl");
        let r = TraceReader::open(&path).expect("the pmem-log seed trace");
        let mut m = Model::new(replay::model_config(r.header()));
        for ev in r {
            let ev = ev.expect("its events");
            if ev.seq > 38 {
                break;
            }
            replay::apply(&mut m, &ev).expect("replays");
        }
        models.push(m);
        let (header, events) = every_kind(64 << 20);
        for (persistence, atomicity) in [
            (Persistence::Adr, Atomicity::Line),
            (Persistence::Eadr, Atomicity::Line),
        ] {
            let mut h = header.clone();
            h.persistence = persistence;
            h.atomicity = atomicity;
            let mut m = Model::new(replay::model_config(&h));
            for ev in events
                .iter()
                .filter(|e| !e.kind.is_fence() || persistence == Persistence::Eadr)
            {
                replay::apply(&mut m, ev).expect("replays");
            }
            models.push(m);
        }
        models
    })
}

/// `--image` specs and `--states` lists: what parses prints back to itself,
/// and builds (or is refused cleanly) on models with writes in flight.
fn image(data: &[u8]) -> u64 {
    let Ok(s) = std::str::from_utf8(data) else {
        return 0;
    };
    let mut h = 0u64;
    match s.parse::<ImageSpec>() {
        Ok(spec) => {
            let printed = spec.to_string();
            let back: ImageSpec = printed.parse().unwrap_or_else(|e| {
                panic!("image {s:?} prints as {printed:?}, which does not parse: {e}")
            });
            assert_eq!(
                back, spec,
                "image {s:?} prints as {printed:?}, which parses to another"
            );
            for m in fixture_models() {
                h = h.rotate_left(7)
                    ^ match m.image(&spec) {
                        Ok(img) => {
                            let resolved = m.resolve(&spec);
                            if !matches!(spec, ImageSpec::Units(_)) {
                                let again = m.image(&resolved).unwrap_or_else(|e| {
                                    panic!("image {s:?} resolves to {resolved}, which the model refuses: {e}")
                                });
                                assert_eq!(
                                    again, img,
                                    "image {s:?} and its resolution {resolved} differ"
                                );
                            }
                            let _ = m.in_flight(&spec);
                            sig(3, &img.lines.len().min(4).to_string())
                        }
                        Err(e) => sig(4, &e.to_string()),
                    };
            }
        }
        Err(e) => h ^= sig(1, &e.to_string()),
    }
    match states::parse_list(s) {
        Ok(list) => {
            for st in list {
                let printed = st.to_string();
                let back: States = printed
                    .parse()
                    .unwrap_or_else(|e| panic!("states {s:?}: {printed:?} does not parse: {e}"));
                assert_eq!(back, st, "states {s:?}: {printed:?} parses to another");
                for m in fixture_models() {
                    h = h.rotate_left(3)
                        ^ match states::images(m, st, 64, 1) {
                            Ok(images) => {
                                assert!(
                                    images.len() <= 64,
                                    "states {st}: {} images over the limit 64",
                                    images.len()
                                );
                                sig(5, &images.len().min(4).to_string())
                            }
                            Err(e) => sig(6, &e.to_string()),
                        };
                }
            }
        }
        Err(e) => h ^= sig(2, &e.to_string()),
    }
    h
}

// ---------------------------------------------------------------- --nvdimm

const NVDIMM_DICT: &[&str] = &[
    "mem-path=",
    "size=",
    "label-size=",
    "share=",
    "share=on",
    "share=off",
    ",,",
    ",",
    "=",
    "K",
    "M",
    "G",
    "T",
    "P",
    "E",
    "iB",
    "B",
    "kib",
    "16E",
    "64G",
    "64GiB",
    "128K",
    "2M",
    "4096",
    "18446744073709551615",
    "18446744073709551616",
    ".5",
];

fn nvdimm_seeds() -> Vec<Vec<u8>> {
    lines_of("nvdimm/seeds.txt")
}

/// `--nvdimm` and sizes: what parses prints back to itself and keeps the
/// rules (guest size a multiple of 2 MiB, at least 2 MiB, within `size`).
fn nvdimm(data: &[u8]) -> u64 {
    let Ok(s) = std::str::from_utf8(data) else {
        return 0;
    };
    let mut h = match s.parse::<NvdimmConfig>() {
        Ok(c) => {
            let printed = c.to_string();
            let back: NvdimmConfig = printed.parse().unwrap_or_else(|e| {
                panic!("--nvdimm {s:?} prints as {printed:?}, which does not parse: {e}")
            });
            assert_eq!(
                back, c,
                "--nvdimm {s:?} prints as {printed:?}, which parses to another"
            );
            let g = c.guest_size();
            assert!(
                g >= 2 << 20 && g <= c.size && g % (2 << 20) == 0,
                "--nvdimm {s:?}: guest size {g}"
            );
            let _ = format_size(c.size);
            sig(3, &c.share.to_string())
        }
        Err(e) => sig(1, &e.to_string()),
    };
    for part in std::iter::once(s).chain(s.split([',', '='])) {
        h = h.rotate_left(1)
            ^ match parse_size(part) {
                Ok(v) => {
                    let f = format_size(v);
                    if let Some(n) = f.strip_suffix(" bytes") {
                        assert_eq!(n.parse::<u64>().ok(), Some(v), "format_size({v}) = {f:?}");
                    } else {
                        let back = parse_size(&f.replace(' ', "")).unwrap_or_else(|e| {
                            panic!("format_size({v}) = {f:?} does not parse back: {e}")
                        });
                        assert_eq!(back, v, "format_size({v}) = {f:?}");
                    }
                    sig(4, "")
                }
                Err(e) => sig(2, &e.to_string()),
            };
    }
    h
}

// ---------------------------------------------------------------- ELF

/// A minimal guest ELF: an ELF header, two `PT_LOAD` segments (code, and
/// the pmemvm header with bss after it) and the section headers naming
/// `.text`, `.pmemvm_header` and `.shstrtab`. `GuestElf::parse` accepts it.
pub fn minimal_elf() -> Vec<u8> {
    fn put(b: &mut [u8], off: usize, v: &[u8]) {
        b[off..off + v.len()].copy_from_slice(v);
    }
    let header = GuestHeader {
        magic: HEADER_MAGIC,
        abi_version: ABI_VERSION,
        nvectors: VECTORS as u32,
        vectors: std::array::from_fn(|i| 0x10_0000 + 16 * i as u64),
    };
    let strtab = format!("\0.text\0{HEADER_SECTION}\0.shstrtab\0").into_bytes();
    let (code_off, code_len) = (0xb0usize, 16usize);
    let hdr_off = code_off + code_len;
    let str_off = hdr_off + GuestHeader::SIZE;
    let sh_off = (str_off + strtab.len()).next_multiple_of(8);
    let mut b = vec![0u8; sh_off + 4 * 64];
    put(&mut b, 0, b"\x7fELF\x02\x01\x01");
    put(&mut b, 16, &2u16.to_le_bytes()); // ET_EXEC
    put(&mut b, 18, &62u16.to_le_bytes()); // x86-64
    put(&mut b, 20, &1u32.to_le_bytes());
    put(&mut b, 24, &0x10_0000u64.to_le_bytes()); // entry
    put(&mut b, 32, &0x40u64.to_le_bytes()); // phoff
    put(&mut b, 40, &(sh_off as u64).to_le_bytes());
    put(&mut b, 52, &64u16.to_le_bytes());
    put(&mut b, 54, &56u16.to_le_bytes());
    put(&mut b, 56, &2u16.to_le_bytes());
    put(&mut b, 58, &64u16.to_le_bytes());
    put(&mut b, 60, &4u16.to_le_bytes());
    put(&mut b, 62, &3u16.to_le_bytes());
    let phdr =
        |b: &mut [u8], i: usize, flags: u32, off: usize, paddr: u64, filesz: usize, memsz: u64| {
            let p = 0x40 + 56 * i;
            put(b, p, &1u32.to_le_bytes());
            put(b, p + 4, &flags.to_le_bytes());
            put(b, p + 8, &(off as u64).to_le_bytes());
            put(b, p + 16, &paddr.to_le_bytes());
            put(b, p + 24, &paddr.to_le_bytes());
            put(b, p + 32, &(filesz as u64).to_le_bytes());
            put(b, p + 40, &memsz.to_le_bytes());
            put(b, p + 48, &0x1000u64.to_le_bytes());
        };
    phdr(&mut b, 0, 5, code_off, 0x10_0000, code_len, code_len as u64);
    phdr(&mut b, 1, 6, hdr_off, 0x10_1000, GuestHeader::SIZE, 0x2000);
    put(&mut b, code_off, &[0xf4; 16]);
    put(&mut b, hdr_off, header.as_bytes());
    put(&mut b, str_off, &strtab);
    let shdr =
        |b: &mut [u8], i: usize, name: u32, kind: u32, addr: u64, off: usize, size: usize| {
            let s = sh_off + 64 * i;
            put(b, s, &name.to_le_bytes());
            put(b, s + 4, &kind.to_le_bytes());
            put(b, s + 16, &addr.to_le_bytes());
            put(b, s + 24, &(off as u64).to_le_bytes());
            put(b, s + 32, &(size as u64).to_le_bytes());
        };
    shdr(&mut b, 1, 1, 1, 0x10_0000, code_off, code_len);
    shdr(&mut b, 2, 7, 1, 0x10_1000, hdr_off, GuestHeader::SIZE);
    shdr(
        &mut b,
        3,
        8 + HEADER_SECTION.len() as u32,
        3,
        0,
        str_off,
        strtab.len(),
    );
    b
}

fn elf_seeds() -> Vec<Vec<u8>> {
    let mut seeds = vec![minimal_elf(), pmemvm::guest::BUNDLED.to_vec()];
    // The test guests, when a build left them under target/.
    let target = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../target"));
    for name in ["pmemvm-unrecorded-fence", "pmemvm-promise-check"] {
        if let Ok(bytes) = std::fs::read(target.join("guest").join(name)) {
            seeds.push(bytes);
        }
    }
    seeds
}

/// The ELF loader: an accepted ELF has a loadable segment whose data fits
/// its memory size.
fn elf_target(data: &[u8]) -> u64 {
    let h = match GuestElf::parse("fuzz.elf", data) {
        Ok(g) => {
            assert!(
                g.segments.iter().any(|s| s.mem_size > 0),
                "accepted an ELF without a loadable segment"
            );
            for s in &g.segments {
                assert!(
                    s.data.len() as u64 <= s.mem_size,
                    "segment data beyond its memory size"
                );
            }
            let _ = g.extent();
            sig(3, &g.segments.len().min(4).to_string())
        }
        Err(e) => sig(1, &e.to_string()),
    };
    let text = elf::section(data, ".text").map_or(0, |(_, b)| b.len().min(1) as u64);
    h ^ text
}

// ---------------------------------------------------------------- ring

/// Guest RAM: zeros up to `at`, then `data`.
fn ram_with(at: u64, data: &[u8]) -> Vec<u8> {
    let mut ram = vec![0u8; at as usize];
    ram.extend_from_slice(data);
    ram
}

fn ring_seeds() -> Vec<Vec<u8>> {
    let mut seeds = Vec::new();
    let entries = [
        Entry {
            kind: ring_abi::CLWB,
            size: 0,
            addr: 0x1_0000_0040,
        },
        Entry {
            kind: ring_abi::SFENCE,
            size: 0,
            addr: 0,
        },
        Entry {
            kind: ring_abi::NTSTORE,
            size: 8,
            addr: 0x1_0000_0080,
        },
        Entry {
            kind: ring_abi::RMW,
            size: 8,
            addr: 0x1_0000_00c0,
        },
        Entry {
            kind: ring_abi::CLFLUSHOPT,
            size: 0,
            addr: 0x1_0000_0100,
        },
        Entry {
            kind: ring_abi::CLFLUSH,
            size: 0,
            addr: 0x1_0000_0140,
        },
        Entry {
            kind: ring_abi::MFENCE,
            size: 0,
            addr: 0,
        },
    ];
    for (head, tail) in [
        (0u64, 0u64),
        (3, 0),
        (7, 0),
        (300, 290),
        (ring_abi::ENTRIES, 0),
        (ring_abi::ENTRIES + 5, 5),
    ] {
        let mut b = Vec::with_capacity(Ring::SIZE);
        b.extend_from_slice(&head.to_le_bytes());
        b.extend_from_slice(&tail.to_le_bytes());
        for i in 0..ring_abi::ENTRIES as usize {
            b.extend_from_slice(entries[i % entries.len()].as_bytes());
        }
        seeds.push(b);
    }
    seeds.push(seeds[1][..16 + 3 * Entry::SIZE].to_vec());
    seeds
}

/// The event ring's decoder on guest RAM that ends with `data` at the
/// ring: at most `ENTRIES` entries, each from inside RAM.
fn ring_target(data: &[u8]) -> u64 {
    let ram = ram_with(layout::PMEM_RING, data);
    match ring::decode(&ram[..]) {
        Ok((entries, head)) => {
            assert!(
                entries.len() as u64 <= ring_abi::ENTRIES,
                "{} entries decoded",
                entries.len()
            );
            let tail = u64::from_le_bytes(data[8..16].try_into().expect("a tail was read"));
            assert_eq!(
                head - tail,
                entries.len() as u64,
                "head {head}, tail {tail}"
            );
            let mut h = sig(3, &entries.len().min(3).to_string());
            for e in &entries {
                h = h.rotate_left(1) ^ sig(4, ring::kind_name(e.kind));
            }
            h
        }
        Err(e) => sig(1, &e.to_string()),
    }
}

// ---------------------------------------------------------------- hypercalls

/// Where the seeds put the structures and texts the mailbox points to.
const ARGS_AT: u64 = layout::MAILBOX + Mailbox::SIZE as u64;
const TEXT_AT: u64 = ARGS_AT + 64;

fn hypercall_seeds() -> Vec<Vec<u8>> {
    let seed = |nr: u64, args: [u64; 6], obj: &[u8], text: &[u8]| {
        let mb = Mailbox { nr, args, ret: 0 };
        let mut b = mb.as_bytes().to_vec();
        b.extend_from_slice(obj);
        b.resize((TEXT_AT - layout::MAILBOX) as usize, 0);
        b.extend_from_slice(text);
        b
    };
    let mark = MarkArgs {
        label_gpa: TEXT_AT,
        label_len: 6,
        file: 1,
        page: pmemvm_abi::NONE,
        op: 3,
        range_offset: 0x1000,
        range_len: 256,
    };
    let promise = PromiseArgs {
        file: 1,
        offset: 0,
        len: 4096,
        op: 7,
        range_offset: 0x2000,
        range_len: 4096,
    };
    let t = TEXT_AT;
    vec![
        seed(
            hc::MARK,
            [ARGS_AT, 0, 0, 0, 0, 0],
            mark.as_bytes(),
            b"append",
        ),
        seed(
            hc::PROMISE,
            [ARGS_AT, 0, 0, 0, 0, 0],
            promise.as_bytes(),
            b"",
        ),
        seed(
            hc::CONSOLE_WRITE,
            [t, 12, 0, 0, 0, 0],
            &[],
            b"hello world\n",
        ),
        seed(
            hc::SCENARIO,
            [t, 4, t + 4, 5, t + 9, 27],
            &[],
            b"demoabout\ncorrect\tgood one\nno-fence\tbad",
        ),
        seed(
            hc::VERDICT,
            [1, t, 7, t + 7, 9, 0],
            &[],
            b"all okpromised-data",
        ),
        seed(hc::VERDICT, [0, t, 0, 0, 0, 0], &[], b""),
        seed(hc::FINDING, [t, 4, t + 4, 5, 0, 0], &[], b"lostmount"),
        seed(hc::SETUP_DONE, [0; 6], &[], b""),
    ]
}

/// The hypercall decoders on guest RAM that ends with `data` at the
/// mailbox, decoded the way `Devices::dispatch` decodes each call: what
/// they return stays within the limits of the ABI.
fn hypercall_target(data: &[u8]) -> u64 {
    let ram = ram_with(layout::MAILBOX, data);
    let mem = &ram[..];
    let mb = match hypercall::read_mailbox(mem) {
        Ok(mb) => mb,
        Err(e) => return sig(1, &e.to_string()),
    };
    let a = mb.args;
    let text = |gpa, len| {
        let r = hypercall::text(mem, gpa, len);
        if let Ok(t) = &r {
            assert!(
                len <= hc::MAX_BUFFER && t.len() as u64 <= 3 * len,
                "text of {len} bytes: {}",
                t.len()
            );
        }
        r
    };
    let check = |gpa, len| {
        let r = hypercall::check_name(mem, gpa, len);
        if let Ok(c) = &r {
            assert!(
                c.len() as u64 == len && len <= hc::MAX_CHECK_LEN,
                "check name of {len} bytes"
            );
        }
        r
    };
    let code = |r: Result<(), u64>| r.err().unwrap_or(hc::OK);
    let out = match mb.nr {
        hc::MARK => match hypercall::read_args::<MarkArgs>(mem, a[0]) {
            Ok(args) => code(text(args.label_gpa, args.label_len).map(|_| ())),
            Err(c) => c,
        },
        hc::PROMISE => code(hypercall::read_args::<PromiseArgs>(mem, a[0]).map(|_| ())),
        hc::CONSOLE_WRITE => code(hypercall::buffer(mem, a[0], a[1]).map(|b| {
            assert_eq!(b.len() as u64, a[1], "console buffer");
        })),
        hc::SCENARIO => code((|| {
            let _name = text(a[0], a[1])?;
            let _description = text(a[2], a[3])?;
            let list = text(a[4], a[5])?;
            let variants = VariantInfo::parse(&list);
            assert!(
                variants.len() <= list.lines().count(),
                "more variants than lines"
            );
            Ok(())
        })()),
        hc::VERDICT => code(text(a[1], a[2]).and_then(|_| check(a[3], a[4])).map(|_| ())),
        hc::FINDING => code(text(a[0], a[1]).and_then(|_| check(a[2], a[3])).map(|_| ())),
        _ => hc::UNKNOWN,
    };
    sig(2 + mb.nr.min(9), &out.to_string())
}
